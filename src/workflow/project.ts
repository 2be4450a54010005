// Loads a workflow directory: finds skein.yaml and the workflow files, runs the schema stage and
// the semantic rules, and returns every workflow with its own diagnostics (so a runner can load
// the valid ones and report the rest).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { DiagnosticSink, sortDiagnostics, type Diagnostic } from '../diagnostics.js';
import { SkeinError } from '../errors.js';
import type { ConfigFile } from '../generated/config.js';
import type { WorkflowFile } from '../generated/workflow.js';
import { presets } from '../presets/registry.js';
import { makeContext, type ProjectScope } from './context.js';
import { buildObjectDefs, BUILTIN_OBJECTS, FIELD_TYPES, type DeclaredObject, type FieldType } from './objects.js';
import { WORKFLOW_RULES } from './rules/index.js';
import { closest } from './did-you-mean.js';
import { ALL_HELPER_NAMES } from '../template/helpers.js';
import { checkSchema } from './schema-stage.js';
import { loadYamlFile, type LocatedDoc } from './source.js';
import { isTestFile, loadTest, type LoadedTest } from '../testing/load.js';

export type { LoadedTest } from '../testing/load.js';

export const CONFIG_FILE = 'skein.yaml';

export interface LoadedWorkflow {
  /** Absolute path. */
  path: string;
  /** Path as shown to users (relative to cwd). */
  file: string;
  /** Present when the file parsed and passed the schema stage. */
  def?: WorkflowFile;
  doc?: LocatedDoc;
  diagnostics: Diagnostic[];
  /** No errors: safe to run. */
  valid: boolean;
}

export interface LoadedProject {
  dir: string;
  configPath?: string;
  config: ConfigFile;
  scope: ProjectScope;
  configDiagnostics: Diagnostic[];
  workflows: LoadedWorkflow[];
  /** Workflow test files (`*.test.yaml`), checked against the workflows above. */
  tests: LoadedTest[];
}

export interface LoadOptions {
  cwd: string;
}

const isWorkflowFile = (name: string) => /\.ya?ml$/.test(name) && !/\.test\.ya?ml$/.test(name) && name !== CONFIG_FILE;

function display(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel && !rel.startsWith('..') ? rel.split(sep).join('/') : path;
}

function walk(dir: string, out: string[]): void {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return; // unreadable subdirectory: nothing to validate there
  }
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (e.name.startsWith('.') || e.name === 'node_modules') continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.isFile() && /\.ya?ml$/.test(e.name)) out.push(p);
  }
}

/** One project to load: its folder, its skein.yaml file(s) and the workflow files to check. */
export interface ProjectGroup {
  dir: string;
  configs: string[];
  files: string[];
  /** The user named the folder itself (not single files in it). */
  explicitDir?: boolean;
  /** Workflow test files (`*.test.yaml`, `*.test.yml`). */
  tests?: string[];
}

/** Resolves user PATH arguments into projects: a directory, or files grouped by their skein.yaml. */
export function collectProjects(paths: string[], opts: LoadOptions): ProjectGroup[] {
  const groups = new Map<string, ProjectGroup>();
  const addFile = (abs: string): void => {
    const dir = findConfigDir(dirname(abs)) ?? dirname(abs);
    const g: ProjectGroup = groups.get(dir) ?? { dir, configs: existsSync(join(dir, CONFIG_FILE)) ? [join(dir, CONFIG_FILE)] : [], files: [] };
    if (isTestFile(basename(abs))) {
      // A test needs its workflow: load the directory's workflows too (not reported unless named).
      g.tests = [...new Set([...(g.tests ?? []), abs])];
    } else if (basename(abs) !== CONFIG_FILE && !g.files.includes(abs)) g.files.push(abs);
    groups.set(dir, g);
  };
  for (const p of paths) {
    const abs = resolve(opts.cwd, p);
    let st;
    try {
      st = statSync(abs);
    } catch {
      throw new SkeinError('unreadable-path', `cannot read ${p}: no such file or directory`);
    }
    if (!st.isDirectory()) {
      addFile(abs);
      continue;
    }
    const all: string[] = [];
    walk(abs, all);
    // A folder inside a project (workflows/tests) belongs to the skein.yaml above it.
    if (!all.some((f) => basename(f) === CONFIG_FILE) && findConfigDir(dirname(abs))) {
      for (const f of all) if (isWorkflowFile(basename(f)) || isTestFile(basename(f))) addFile(f);
      continue;
    }
    const g = groups.get(abs) ?? { dir: abs, configs: [], files: [] };
    g.explicitDir = true;
    // The same folder (or a file in it) named twice is read once.
    g.configs = [...new Set([...g.configs, ...all.filter((f) => basename(f) === CONFIG_FILE)])];
    g.files = [...new Set([...g.files, ...all.filter((f) => isWorkflowFile(basename(f)))])];
    g.tests = [...new Set([...(g.tests ?? []), ...all.filter((f) => isTestFile(basename(f)))])];
    groups.set(abs, g);
  }
  return [...groups.values()];
}

function findConfigDir(start: string): string | undefined {
  for (let d = start; ; d = dirname(d)) {
    if (existsSync(join(d, CONFIG_FILE))) return d;
    if (dirname(d) === d) return undefined;
  }
}

/** Loads and checks one project. */
export function loadProject(group: ProjectGroup, opts: LoadOptions): LoadedProject {
  const sink = new DiagnosticSink();
  const [configPath, ...extra] = group.configs;
  for (const e of extra) sink.error('config-duplicate', `a second ${CONFIG_FILE} in one workflow directory (the first is ${display(configPath!, opts.cwd)}); keep one`, display(e, opts.cwd), { line: 1, col: 1 });
  let config: ConfigFile = { version: 1 };
  let names: ConfigNames = {};
  if (!configPath) {
    sink.error('config-missing', `no ${CONFIG_FILE} in ${display(group.dir, opts.cwd) || '.'}; create one with version: 1 (see docs/workflow-format.md)`, display(join(group.dir, CONFIG_FILE), opts.cwd), { line: 1, col: 1 });
  } else {
    const doc = loadYamlFile(configPath, display(configPath, opts.cwd), sink);
    if (doc && checkSchema('config', doc, sink)) {
      config = doc.value as ConfigFile;
      names = config as ConfigNames;
      checkConfigObjects(config, doc, sink);
    } else if (doc) {
      // skein.yaml has its own errors; still let workflows see the names it declares, so they are
      // not flooded with "unknown credential" or "unknown field" for names that do exist.
      names = usableNames(doc.value);
    }
  }
  const scope: ProjectScope = {
    objects: buildObjectDefs(names.objects),
    variables: new Set(Object.keys(names.variables ?? {})),
    credentials: new Set(Object.keys(names.credentials ?? {})),
    presets: presets(),
  };
  const workflows = group.files.map((f) => loadWorkflow(f, scope, opts));
  if (!group.files.length && group.explicitDir) {
    sink.warning('no-workflows', `${display(group.dir, opts.cwd) || '.'} holds no workflow files (*.yaml, *.yml besides ${CONFIG_FILE})`, display(configPath ?? join(group.dir, CONFIG_FILE), opts.cwd), { line: 1, col: 1 });
  }
  const siblings = configPath ? siblingNames(group, opts) : [];
  checkDuplicateNames(workflows, siblings);
  const tests = loadTests(group, workflows, scope, opts);
  return { dir: group.dir, configPath, config, scope, configDiagnostics: sortDiagnostics(sink.items), workflows, tests };
}

/** The names skein.yaml declares, as workflows refer to them. */
interface ConfigNames {
  variables?: Record<string, unknown>;
  credentials?: Record<string, unknown>;
  objects?: Record<string, DeclaredObject>;
}

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Best-effort names from a skein.yaml that failed its schema: whatever has a usable shape. */
function usableNames(value: unknown): ConfigNames {
  if (!isRecord(value)) return {};
  // A misspelt section key (`object:`) still declares what it holds.
  const section = (name: string): Record<string, unknown> | undefined => {
    if (isRecord(value[name])) return value[name];
    const near = Object.keys(value).find((k) => !Object.hasOwn(value, name) && closest(k, [name]) === name && isRecord(value[k]));
    return near === undefined ? undefined : (value[near] as Record<string, unknown>);
  };
  const objects: Record<string, DeclaredObject> = {};
  for (const [name, obj] of Object.entries(section('objects') ?? {})) {
    if (!isRecord(obj)) continue;
    const fields: NonNullable<DeclaredObject['fields']> = {};
    for (const [f, def] of Object.entries(isRecord(obj.fields) ? obj.fields : {})) {
      const type = isRecord(def) && (FIELD_TYPES as readonly unknown[]).includes(def.type) ? (def.type as FieldType) : 'string';
      fields[f] = { type, sensitive: isRecord(def) && def.sensitive === true };
    }
    objects[name] = { key: typeof obj.key === 'string' ? obj.key : undefined, fields };
  }
  return { variables: section('variables'), credentials: section('credentials'), objects };
}

/** Names a bare {{name}} resolves to a helper rather than to a field: ours and Handlebars' own. */
const TEMPLATE_HELPER_NAMES: ReadonlySet<string> = new Set([...ALL_HELPER_NAMES, 'log', 'helperMissing', 'blockHelperMissing']);
/** Names templates give their own values beside the record's fields (docs: context per place). */
const TEMPLATE_CONTEXT_NAMES: ReadonlySet<string> = new Set(['vars', 'steps', 'response', 'response_status', 'response_headers', 'outputs', 'item', 'error']);

function checkConfigObjects(config: ConfigFile, doc: LocatedDoc, sink: DiagnosticSink): void {
  for (const [name, obj] of Object.entries(config.objects ?? {})) {
    const builtin = Object.hasOwn(BUILTIN_OBJECTS, name) ? BUILTIN_OBJECTS[name] : undefined;
    if (!builtin && obj.key === undefined) {
      sink.error('schema-missing-key', `object "${name}" is not built in, so it needs key: FIELD, naming the field that identifies a record (e.g. key: serial)`, doc.file, doc.locate(['objects', name], 'key'));
    }
    if (builtin && obj.key !== undefined && obj.key !== builtin.key) {
      sink.error('schema-value', `the key of built-in object "${name}" is ${builtin.key}; it cannot be changed`, doc.file, doc.locate(['objects', name, 'key']));
    }
    for (const field of Object.keys(obj.fields ?? {})) {
      if (builtin && Object.hasOwn(builtin.fields, field)) {
        sink.error('schema-value', `field "${field}" is built into ${name}; remove it from skein.yaml or choose another name`, doc.file, doc.locate(['objects', name, 'fields', field], 'key'));
      } else if (TEMPLATE_HELPER_NAMES.has(field)) {
        sink.error('schema-value', `field "${field}" has the name of a template helper: {{${field}}} would call the helper, not read the field; choose another name`, doc.file, doc.locate(['objects', name, 'fields', field], 'key'));
      } else if (TEMPLATE_CONTEXT_NAMES.has(field)) {
        sink.error('schema-value', `field "${field}" is a name templates already use: {{${field}}} would not read the field; choose another name`, doc.file, doc.locate(['objects', name, 'fields', field], 'key'));
      }
    }
  }
}

function loadWorkflow(path: string, scope: ProjectScope, opts: LoadOptions): LoadedWorkflow {
  const file = display(path, opts.cwd);
  const sink = new DiagnosticSink();
  const doc = loadYamlFile(path, file, sink);
  let def: WorkflowFile | undefined;
  if (doc && checkSchema('workflow', doc, sink)) {
    def = doc.value as WorkflowFile;
    const ctx = makeContext(doc, def, scope, sink);
    for (const rule of WORKFLOW_RULES) rule(ctx);
  }
  return { path, file, def, doc, diagnostics: sink.items, valid: def !== undefined && sink.errorCount === 0 };
}

interface NamedFile {
  path: string;
  file: string;
  name: string;
  line: number;
}

const nameCache = new Map<string, { stamp: string; named?: NamedFile }>();

/**
 * Names of the project's other workflow files, when only some files are validated: a name that
 * clashes with a file not on the command line still breaks the directory when it is deployed.
 */
function siblingNames(group: { dir: string; files: string[] }, opts: LoadOptions): NamedFile[] {
  const all: string[] = [];
  walk(group.dir, all);
  const given = new Set(group.files);
  const out: NamedFile[] = [];
  for (const path of all) {
    if (given.has(path) || !isWorkflowFile(basename(path))) continue;
    let stamp: string;
    try {
      const st = statSync(path);
      stamp = `${st.size}:${st.mtimeMs}`;
    } catch {
      continue;
    }
    let hit = nameCache.get(path);
    if (!hit || hit.stamp !== stamp) {
      const doc = loadYamlFile(path, display(path, opts.cwd), new DiagnosticSink());
      const name = doc && (doc.value as { name?: unknown }).name;
      hit = { stamp, named: doc && typeof name === 'string' ? { path, file: doc.file, name, line: doc.locate(['name']).line } : undefined };
      nameCache.set(path, hit);
    }
    if (hit.named) out.push({ ...hit.named, file: display(path, opts.cwd) });
  }
  return out;
}

/** Every file of a name clash gets one diagnostic naming the other files. */
function checkDuplicateNames(workflows: LoadedWorkflow[], siblings: NamedFile[]): void {
  const byName = new Map<string, NamedFile[]>();
  const add = (n: NamedFile) => byName.set(n.name, [...(byName.get(n.name) ?? []), n]);
  for (const w of workflows) if (w.def && w.doc) add({ path: w.path, file: w.file, name: w.def.name, line: w.doc.locate(['name']).line });
  for (const n of siblings) add(n);
  for (const w of workflows) {
    if (!w.def || !w.doc) continue;
    const others = (byName.get(w.def.name) ?? []).filter((n) => n.path !== w.path);
    if (!others.length) continue;
    const where = others.map((n) => `${n.file}:${n.line}`).join(', ');
    w.diagnostics.push({ code: 'duplicate-workflow-name', severity: 'error', message: `workflow name "${w.def.name}" is also used by ${where}; names must be unique in the directory`, file: w.file, ...w.doc.locate(['name']) });
    w.valid = false;
  }
}

/**
 * Test files, checked against every workflow of the directory that passes the schema stage (a
 * test named on the command line alone still needs the workflow it tests; a workflow with
 * semantic errors is reported on its own file, not as an unknown name here).
 */
function loadTests(group: ProjectGroup, workflows: LoadedWorkflow[], scope: ProjectScope, opts: LoadOptions): LoadedTest[] {
  if (!group.tests?.length) return [];
  const defs = workflows.flatMap((w) => (w.def ? [w.def] : []));
  const given = new Set(workflows.map((w) => w.path));
  const others: string[] = [];
  walk(group.dir, others);
  const all = [...workflows];
  for (const f of others) {
    if (given.has(f) || !isWorkflowFile(basename(f))) continue;
    const w = loadWorkflow(f, scope, opts);
    all.push(w);
    if (w.def) defs.push(w.def);
  }
  // Files whose YAML has a name but failed the schema: a test naming one hears that, not "no such workflow".
  const broken = new Map<string, string>();
  for (const w of all) {
    const name = (w.doc?.value as { name?: unknown } | undefined)?.name;
    if (!w.def && typeof name === 'string') broken.set(name, w.file);
  }
  return group.tests.map((t) => loadTest(t, display(t, opts.cwd), defs, scope, broken));
}

/** All diagnostics of a project, sorted. */
export function projectDiagnostics(p: LoadedProject): Diagnostic[] {
  const all = [...p.configDiagnostics, ...p.workflows.flatMap((w) => w.diagnostics), ...(p.tests ?? []).flatMap((t) => t.diagnostics)];
  // A broken skein.yaml makes every workflow unrunnable, even those without findings of their own.
  if (p.configDiagnostics.some((d) => d.severity === 'error')) for (const w of p.workflows) w.valid = false;
  return sortDiagnostics(all);
}

/**
 * A --var value takes the type of the value it overrides, so `--var notify=false` stays false
 * (a string "false" would be true in {{#if}}). Text that does not read as that type stays text.
 */
export function overrideValue(declared: unknown, text: string): string | number | boolean {
  if (typeof declared === 'boolean' && (text === 'true' || text === 'false')) return text === 'true';
  if (typeof declared === 'number' && text.trim() !== '' && Number.isFinite(Number(text))) return Number(text);
  return text;
}
