// Object definitions for CLI commands that touch records: built-ins plus skein.yaml `objects:`,
// read through the validated loader so a broken skein.yaml stops with located diagnostics.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { formatText } from '../diagnostics-format.js';
import { SkeinError } from '../errors.js';
import { buildObjectDefs, type DeclaredObject, type ObjectDef } from '../workflow/objects.js';
import { CONFIG_FILE, loadProject } from '../workflow/project.js';

/** Reads `<dir>/skein.yaml` and returns its objects merged with the built-ins (built-ins only if missing). */
export async function loadObjectDefsForCli(dir: string, opts: { explicit?: boolean } = {}): Promise<Map<string, ObjectDef>> {
  // Only the default may be missing: a --dir that is not there would silently drop its fields.
  if (opts.explicit && !statSync(dir, { throwIfNoEntry: false })?.isDirectory()) {
    throw new SkeinError('unreadable-path', `--dir ${dir}: no such directory`);
  }
  const config = join(dir, CONFIG_FILE);
  if (!existsSync(config)) return buildObjectDefs(undefined);
  const project = loadProject({ dir, configs: [config], files: [] }, { cwd: process.cwd() });
  const errors = project.configDiagnostics.filter((d) => d.severity === 'error');
  if (errors.length) throw new SkeinError('invalid-config', `${config} has errors; fix them first`, { details: formatText(errors).split('\n') });
  return buildObjectDefs(project.config.objects as Record<string, DeclaredObject> | undefined);
}
