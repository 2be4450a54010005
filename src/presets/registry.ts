// Loads the preset definitions shipped in src/presets/<vendor>/*.yaml. They are part of the
// package and validated against schemas/preset.schema.json (a test checks every shipped file).
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { PresetFile } from '../generated/preset.js';

export type Preset = PresetFile;

let cached: Map<string, Preset> | undefined;

/** Folder of the shipped presets; the same from src/ (tests) and dist/ (the built CLI). */
export function presetDir(): string {
  return fileURLToPath(new URL('../../src/presets/', import.meta.url));
}

/** Every preset file path, for the schema test and docs. */
export function presetFiles(): string[] {
  const dir = presetDir();
  const out: string[] = [];
  for (const vendor of readdirSync(dir, { withFileTypes: true })) {
    if (!vendor.isDirectory()) continue;
    for (const f of readdirSync(join(dir, vendor.name)).sort()) {
      if (f.endsWith('.yaml')) out.push(join(dir, vendor.name, f));
    }
  }
  return out;
}

/** JSON copy of the presets written at build time (parsing YAML costs more than start-up allows). */
function prebuilt(): Preset[] | undefined {
  try {
    return JSON.parse(readFileSync(fileURLToPath(new URL('../generated/presets.json', import.meta.url)), 'utf8')) as Preset[];
  } catch {
    return undefined;
  }
}

/** All presets by id. */
export function presets(): Map<string, Preset> {
  if (!cached) {
    cached = new Map();
    const built = prebuilt();
    if (built) {
      for (const p of built) cached.set(p.id, p);
      return cached;
    }
    for (const file of presetFiles()) {
      const p = parse(readFileSync(file, 'utf8')) as Preset;
      cached.set(p.id, p);
    }
  }
  return cached;
}

export function getPreset(id: string): Preset | undefined {
  return presets().get(id);
}
