// The JSON Schemas are the one source of truth: shipped presets conform, generated TypeScript
// types match them, and every property carries a description for editor hover help.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { presetFiles } from '../src/presets/registry.js';
import { readSchema, validatorFor } from '../src/workflow/schema-stage.js';

describe('schemas', () => {
  it.each(presetFiles().map((f) => [f.split('/').slice(-2).join('/'), f]))('preset %s validates against preset.schema.json', (_name, file) => {
    const validate = validatorFor('preset');
    const ok = validate(parse(readFileSync(file, 'utf8')));
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
  });

  it('ships the six Qualys presets', () => {
    const ids = presetFiles().map((f) => (parse(readFileSync(f, 'utf8')) as { id: string }).id).sort();
    expect(ids).toEqual([
      'qualys.activate_user',
      'qualys.change_password',
      'qualys.create_user',
      'qualys.deactivate_user',
      'qualys.edit_user',
      'qualys.list_users',
    ]);
  });

  it('generated TypeScript types have not drifted from the schemas', () => {
    // Exits 1 with a message naming the stale file when src/generated/ is out of date.
    expect(() => execFileSync(process.execPath, ['scripts/gen-types.mjs', '--check'], { stdio: 'pipe' })).not.toThrow();
  });

  it.each(['workflow', 'config', 'preset'] as const)('%s schema: draft 2020-12, $id, and a description on every property', (kind) => {
    const schema = readSchema(kind);
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(String(schema.$id)).toMatch(new RegExp(`/${kind}\\.schema\\.json$`));
    const missing: string[] = [];
    const visit = (node: unknown, path: string): void => {
      if (!node || typeof node !== 'object') return;
      const n = node as Record<string, unknown>;
      for (const [name, sub] of Object.entries((n.properties as Record<string, unknown>) ?? {})) {
        const s = sub as Record<string, unknown>;
        const hasDescription = typeof s.description === 'string' && s.description.length > 0;
        if (!hasDescription && !s.$ref) missing.push(`${path}.properties.${name}`);
        if (!hasDescription && typeof s.$ref === 'string' && s.$ref.startsWith('#/$defs/')) {
          const target = (schema.$defs as Record<string, Record<string, unknown>>)[s.$ref.slice(8)];
          if (!target?.description) missing.push(`${path}.properties.${name} -> ${s.$ref}`);
        }
      }
      for (const [k, v] of Object.entries(n)) if (k !== 'properties' && typeof v === 'object') visit(v, `${path}.${k}`);
      for (const [k, v] of Object.entries((n.properties as Record<string, unknown>) ?? {})) visit(v, `${path}.properties.${k}`);
    };
    visit(schema, kind);
    expect(missing).toEqual([]);
  });
});
