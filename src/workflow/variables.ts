// The variable names a project knows: `--var` refuses (CLI) or warns about (daemon) any other,
// since a misspelt name would be ignored and calls would go to the URL in skein.yaml.
import { presets } from '../presets/registry.js';
import type { LoadedProject } from './project.js';

/** Variables declared in skein.yaml or named as vars.NAME by a workflow or preset template. */
export function knownVariables(project: LoadedProject): Set<string> {
  const names = new Set(Object.keys(project.config.variables ?? {}));
  const texts = [JSON.stringify(project.workflows.map((w) => w.def ?? null)), ...[...presets().values()].map((p) => JSON.stringify(p))];
  for (const t of texts) for (const m of t.matchAll(/\bvars\.([A-Za-z_][\w-]*)/g)) names.add(m[1]!);
  return names;
}
