// Object definitions for CLI commands that touch records: built-ins plus skein.yaml `objects:`.
// Interim body: plain YAML parse. The validated project loader will replace it; keep the signature.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { SkeinError } from '../errors.js';
import { buildObjectDefs, type DeclaredObject, type ObjectDef } from '../workflow/objects.js';

/** Reads `<dir>/skein.yaml` and returns its objects merged with the built-ins (built-ins only if missing). */
export async function loadObjectDefsForCli(dir: string): Promise<Map<string, ObjectDef>> {
  const file = join(dir, 'skein.yaml');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return buildObjectDefs(undefined);
    throw new SkeinError('unreadable-path', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  let parsed: unknown;
  try {
    parsed = parse(text);
  } catch (err) {
    throw new SkeinError('invalid-config', `${file}: ${(err as Error).message}`, { cause: err });
  }
  const objects = (parsed as { objects?: Record<string, DeclaredObject> } | null)?.objects;
  return buildObjectDefs(objects ?? undefined);
}
