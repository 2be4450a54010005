// What engine commands share: load and check the workflow directory, open the store, find a
// workflow by name, apply --var overrides. Invalid projects stop here with located diagnostics.
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { formatText } from '../diagnostics-format.js';
import { SkeinError } from '../errors.js';
import type { WorkflowFile } from '../generated/workflow.js';
import { defaultStateLocation, openStore, resolveStateLocation } from '../store/index.js';
import type { Store } from '../store/types.js';
import { allowedList, didYouMean } from '../workflow/did-you-mean.js';
import { collectProjects, loadProject, overrideValue, projectDiagnostics, type LoadedProject } from '../workflow/project.js';
import { applySuppressions } from '../workflow/suppress.js';
import { knownVariables } from '../workflow/variables.js';
import { UsageError } from './command.js';
import type { Io } from './io.js';

export interface Workspace {
  project: LoadedProject;
  store: Store;
  close(): Promise<void>;
}

/** Shared flags of engine commands, for parseArgs. */
export const WORKSPACE_OPTIONS = {
  dir: { type: 'string', default: 'workflows' },
  state: { type: 'string' },
  var: { type: 'string', multiple: true },
} as const;

export const WORKSPACE_HELP = `  --dir DIR         workflow directory (default ./workflows)
  --state PATH      state store: a file or postgres:// URL (default $SKEIN_DATABASE_URL,
                    else $SKEIN_STATE, else .skein/state.db)
  --var NAME=VALUE  override a skein.yaml variable for this run (e.g. qualys_api_url)`;

/** Loads the project; any error in skein.yaml or the given workflows stops with diagnostics. */
/** As `onlyWorkflow`: no workflow is needed, only skein.yaml (its objects open the store). */
export const CONFIG_ONLY: unique symbol = Symbol('config only');

export function loadCheckedProject(dir: string, io: Io, onlyWorkflow?: string | typeof CONFIG_ONLY): LoadedProject {
  const [group] = collectProjects([dir], { cwd: io.cwd });
  // Test files (*.test.yaml) never block running workflows (`skein test` and validate report
  // them), so they are not even read here: parsing them was a quarter of a run's project load.
  const project = loadProject({ ...group!, tests: [] }, { cwd: io.cwd });
  const diags = applySuppressions(projectDiagnostics(project), io.cwd).filter((d) => d.severity === 'error');
  // A suppressed finding does not make its workflow unrunnable.
  const configBroken = diags.some((d) => project.configDiagnostics.some((c) => c.file === d.file));
  for (const w of project.workflows) w.valid = w.def !== undefined && !configBroken && !diags.some((d) => d.file === w.file);
  // When no readable workflow has the name, it may be one whose file does not parse: those
  // files' errors are shown rather than a bare "no workflow named".
  const named = onlyWorkflow === undefined || project.workflows.some((w) => w.def?.name === onlyWorkflow);
  const relevant = diags.filter((d) => {
    if (onlyWorkflow === CONFIG_ONLY) return project.configDiagnostics.includes(d);
    if (!onlyWorkflow) return true;
    const wf = project.workflows.find((w) => w.file === d.file);
    return !wf || wf.def?.name === onlyWorkflow || (!named && wf.def === undefined) || project.configDiagnostics.includes(d);
  });
  if (relevant.length) {
    throw new SkeinError('invalid-workflows', `${relevant.length} validation error(s); fix them first (skein validate ${dir})`, { details: formatText(relevant).split('\n') });
  }
  return project;
}

export function applyVars(project: LoadedProject, pairs: string[] | undefined): void {
  if (!pairs?.length) return;
  const vars = { ...(project.config.variables ?? {}) };
  let known: Set<string> | undefined;
  for (const p of pairs) {
    const i = p.indexOf('=');
    if (i <= 0) throw new UsageError(`--var takes NAME=VALUE, found "${p}"`);
    const name = p.slice(0, i);
    // A misspelt name would be ignored silently, and the calls would go to the URL in skein.yaml.
    known ??= knownVariables(project);
    if (!known.has(name)) {
      throw new UsageError(`--var ${name}: no such variable; variables: ${allowedList([...known].sort(), 30)}${didYouMean(name, [...known])}`);
    }
    vars[name] = overrideValue(vars[name], p.slice(i + 1));
  }
  project.config = { ...project.config, variables: vars };
}


/**
 * Loads the project and opens the store. `readOnly` commands (plan, runs list/show) never create
 * a state file: when it does not exist they see an empty in-memory store.
 */
export async function openWorkspace(values: { dir?: string; state?: string; var?: string[] }, io: Io, onlyWorkflow?: string, opts: { readOnly?: boolean; configOnly?: boolean } = {}): Promise<Workspace> {
  const project = loadCheckedProject(values.dir ?? 'workflows', io, opts.configOnly ? CONFIG_ONLY : onlyWorkflow);
  applyVars(project, values.var);
  let location = stateLocation(values.state, io);
  if (opts.readOnly && isAbsolute(location) && !existsSync(location)) location = ':memory:';
  const store = await openStore(location, project.scope.objects);
  return { project, store, close: () => store.close() };
}

/** Where the store is: --state (a path or URL), else the environment's default. */
export function stateLocation(state: string | undefined, io: Io): string {
  if (state === undefined) return defaultStateLocation(io.env, io.cwd);
  // An empty value (an unset shell variable) would otherwise name the current folder.
  if (state.trim() === '') throw new UsageError('--state needs a file path or a postgres:// URL, not an empty value');
  return resolveStateLocation(state, io.cwd);
}

export function findWorkflow(project: LoadedProject, name: string): WorkflowFile {
  const wf = project.workflows.find((w) => w.def?.name === name);
  if (wf?.def) return wf.def;
  const names = project.workflows.flatMap((w) => (w.def ? [w.def.name] : []));
  throw new SkeinError('unknown-workflow', `no workflow named "${name}" in ${project.dir}${didYouMean(name, names)}; workflows: ${allowedList(names, 30)}`);
}

export const absolute = (io: Io, p: string) => resolve(io.cwd, p);
