// Semantic diff of two loaded projects (base at a git ref, head = working tree): which workflows
// were added, removed, renamed or changed, and for each change what it means (a rule leaf, a
// param, a trigger event), never a text diff.
import { isDeepStrictEqual } from 'node:util';
import type { ConfigFile } from '../generated/config.js';
import type { Step, WorkflowFile } from '../generated/workflow.js';
import type { LoadedProject, LoadedWorkflow } from '../workflow/project.js';

export type WorkflowStatus = 'added' | 'removed' | 'renamed' | 'changed' | 'unchanged';

/** One semantic change; `description` is one line for people. */
export interface Change {
  kind: string;
  /** Where in the workflow (e.g. `rules.all[0]`, `steps.create.params.title`). */
  path: string;
  description: string;
}

export interface WorkflowDiff {
  /** Head name (base name for removed workflows). */
  name: string;
  status: WorkflowStatus;
  /** Base name of a renamed workflow. */
  previousName?: string;
  file?: string;
  previousFile?: string;
  /** Why two differently named workflows were paired: same file, or similar content. */
  renameReason?: 'same-file' | 'similar-content';
  changes: Change[];
  /** Base side could not be loaded (parse or schema errors at REF). */
  baseUnreadable?: boolean;
}

export interface ProjectDiff {
  workflows: WorkflowDiff[];
  /** Changes to skein.yaml (variables, credentials, objects). */
  config: Change[];
}

const show = (v: unknown): string => {
  if (Array.isArray(v)) return `[${v.map(show).join(', ')}]`;
  if (typeof v === 'string') return /^[\w@.+:/-]+$/.test(v) && v !== '' ? v : JSON.stringify(v);
  if (v !== null && typeof v === 'object') return JSON.stringify(v);
  return String(v);
};

// ---------------------------------------------------------------- rules

type RuleNode = Record<string, unknown>;
const COMBINATORS = ['all', 'any', 'not'] as const;
const isObj = (v: unknown): v is RuleNode => v !== null && typeof v === 'object' && !Array.isArray(v);
const isLeaf = (r: unknown): r is RuleNode => isObj(r) && typeof r.field === 'string';
const leafOp = (r: RuleNode): string | undefined => Object.keys(r).find((k) => k !== 'field' && k !== 'ignore_case');
const combinatorOf = (r: unknown) => (isObj(r) ? COMBINATORS.find((c) => c in r) : undefined);

/** A rule tree in one line: `status in [Inactive, Leaver]`, `all(a; b)`. */
export function describeRule(r: unknown): string {
  if (isLeaf(r)) {
    const op = leafOp(r);
    return `${r.field} ${op ?? '?'}${op ? ` ${show(r[op])}` : ''}${r.ignore_case ? ' (ignore_case)' : ''}`;
  }
  const c = combinatorOf(r);
  if (c === 'not') return `not(${describeRule((r as RuleNode).not)})`;
  if (c) return `${c}(${((r as RuleNode)[c] as unknown[]).map(describeRule).join('; ')})`;
  return show(r);
}

/** Structural diff of two rule trees, reporting changes at the leaves where possible. */
export function diffRules(a: unknown, b: unknown, path: string, out: Change[]): void {
  if (isDeepStrictEqual(a, b)) return;
  if (a === undefined) return void out.push({ kind: 'rule-added', path, description: `${path} added: ${describeRule(b)}` });
  if (b === undefined) return void out.push({ kind: 'rule-removed', path, description: `${path} removed (was ${describeRule(a)})` });
  if (isLeaf(a) && isLeaf(b)) {
    const opA = leafOp(a);
    const opB = leafOp(b);
    const desc =
      a.field === b.field && opA === opB && a.ignore_case === b.ignore_case
        ? `${a.field} ${opA} ${show(a[opA!])} -> ${show(b[opB!])}`
        : `${describeRule(a)} -> ${describeRule(b)}`;
    return void out.push({ kind: 'rule-changed', path, description: desc });
  }
  const ca = combinatorOf(a);
  const cb = combinatorOf(b);
  if (ca && ca === cb && ca === 'not') return diffRules((a as RuleNode).not, (b as RuleNode).not, `${path}.not`, out);
  if (ca && ca === cb) return diffRuleLists((a as RuleNode)[ca] as unknown[], (b as RuleNode)[cb] as unknown[], `${path}.${ca}`, out);
  if (ca && cb && ca !== 'not' && cb !== 'not' && isDeepStrictEqual((a as RuleNode)[ca], (b as RuleNode)[cb])) {
    return void out.push({ kind: 'rule-changed', path, description: `${path}: ${ca} -> ${cb} (same ${((a as RuleNode)[ca] as unknown[]).length} rules)` });
  }
  out.push({ kind: 'rule-changed', path, description: `${path}: ${describeRule(a)} -> ${describeRule(b)}` });
}

function diffRuleLists(as: unknown[], bs: unknown[], path: string, out: Change[]): void {
  const pairA = new Map<number, number>();
  const usedB = new Set<number>();
  const pass = (same: (x: unknown, y: unknown) => boolean) => {
    as.forEach((x, i) => {
      if (pairA.has(i)) return;
      const j = bs.findIndex((y, k) => !usedB.has(k) && same(x, y));
      if (j >= 0) {
        pairA.set(i, j);
        usedB.add(j);
      }
    });
  };
  pass(isDeepStrictEqual);
  pass((x, y) => isLeaf(x) && isLeaf(y) && x.field === y.field && leafOp(x) === leafOp(y));
  pass((x, y) => isLeaf(x) && isLeaf(y) && x.field === y.field);
  pass((x, y) => !isLeaf(x) && !isLeaf(y) && combinatorOf(x) !== undefined && combinatorOf(x) === combinatorOf(y));
  const changes: Array<{ order: number; change: () => void }> = [];
  as.forEach((x, i) => {
    const j = pairA.get(i);
    if (j === undefined) changes.push({ order: i, change: () => out.push({ kind: 'rule-removed', path: `${path}[${i}]`, description: `rule removed: ${describeRule(x)}` }) });
    else changes.push({ order: j, change: () => diffRules(x, bs[j], `${path}[${j}]`, out) });
  });
  bs.forEach((y, j) => {
    if (!usedB.has(j)) changes.push({ order: j, change: () => out.push({ kind: 'rule-added', path: `${path}[${j}]`, description: `rule added: ${describeRule(y)}` }) });
  });
  for (const c of changes.sort((p, q) => p.order - q.order)) c.change();
}

// ---------------------------------------------------------------- maps and steps

/** Added / removed / changed keys of two flat maps (params, response mappings, import fields). */
function diffMap(a: Record<string, unknown> | undefined, b: Record<string, unknown> | undefined, kind: string, path: string, label: string, out: Change[]): void {
  const ma = a ?? {};
  const mb = b ?? {};
  for (const k of [...new Set([...Object.keys(ma), ...Object.keys(mb)])].sort()) {
    const has = (m: Record<string, unknown>) => Object.hasOwn(m, k);
    if (!has(ma)) out.push({ kind: `${kind}-added`, path: `${path}.${k}`, description: `${label} ${k} added: ${show(mb[k])}` });
    else if (!has(mb)) out.push({ kind: `${kind}-removed`, path: `${path}.${k}`, description: `${label} ${k} removed (was ${show(ma[k])})` });
    else if (!isDeepStrictEqual(ma[k], mb[k])) out.push({ kind: `${kind}-changed`, path: `${path}.${k}`, description: `${label} ${k}: ${show(ma[k])} -> ${show(mb[k])}` });
  }
}

function diffValue(a: unknown, b: unknown, kind: string, path: string, label: string, out: Change[]): void {
  if (isDeepStrictEqual(a, b)) return;
  out.push({ kind, path, description: `${label}: ${a === undefined ? '(none)' : show(a)} -> ${b === undefined ? '(none)' : show(b)}` });
}

function diffStep(a: Step, b: Step, out: Change[]): void {
  const p = `steps.${b.id}`;
  const label = `step ${b.id}`;
  diffValue(a.name, b.name, 'step-name', `${p}.name`, `${label} name`, out);
  diffValue(a.preset, b.preset, 'preset-changed', `${p}.preset`, `${label} preset`, out);
  if (!isDeepStrictEqual(a.request, b.request)) {
    if (a.request && b.request) {
      diffValue(a.request.method, b.request.method, 'request-changed', `${p}.request.method`, `${label} request method`, out);
      diffValue(a.request.url, b.request.url, 'request-changed', `${p}.request.url`, `${label} request url`, out);
      for (const part of ['query', 'form', 'headers'] as const) diffMap(a.request[part], b.request[part], 'request', `${p}.request.${part}`, `${label} request ${part}`, out);
      const rest = (r: NonNullable<Step['request']>) => ({ ...r, method: undefined, url: undefined, query: undefined, form: undefined, headers: undefined });
      if (!isDeepStrictEqual(rest(a.request), rest(b.request))) out.push({ kind: 'request-changed', path: `${p}.request`, description: `${label}: inline request definition changed (body, outputs, success checks or script)` });
    } else out.push({ kind: 'request-changed', path: `${p}.request`, description: `${label}: ${b.request ? 'now an inline request' : 'no longer an inline request'}` });
  }
  diffValue(a.credentials, b.credentials, 'credentials-changed', `${p}.credentials`, `${label} credentials`, out);
  diffMap(a.params, b.params, 'param', `${p}.params`, `${label} param`, out);
  diffMap(a.response, b.response, 'response', `${p}.response`, `${label} response mapping`, out);
  diffMap(a.error_response, b.error_response, 'error-response', `${p}.error_response`, `${label} error_response mapping`, out);
  diffValue(a.on_error, b.on_error, 'on-error-changed', `${p}.on_error`, `${label} on_error`, out);
  diffRules(a.when, b.when, `${p}.when`, out);
  diffValue(a.retry, b.retry, 'retry-changed', `${p}.retry`, `${label} retry`, out);
  diffValue(a.timeout, b.timeout, 'timeout-changed', `${p}.timeout`, `${label} timeout`, out);
}

function diffSteps(a: Step[], b: Step[], out: Change[]): void {
  const ida = a.map((s) => s.id);
  const idb = b.map((s) => s.id);
  for (const s of b) if (!ida.includes(s.id)) out.push({ kind: 'step-added', path: `steps.${s.id}`, description: `step ${s.id} added${s.preset ? ` (${s.preset})` : ''}` });
  for (const s of a) if (!idb.includes(s.id)) out.push({ kind: 'step-removed', path: `steps.${s.id}`, description: `step ${s.id} removed${s.preset ? ` (was ${s.preset})` : ''}` });
  const commonA = ida.filter((id) => idb.includes(id));
  const commonB = idb.filter((id) => ida.includes(id));
  if (!isDeepStrictEqual(commonA, commonB)) out.push({ kind: 'steps-reordered', path: 'steps', description: `steps reordered: ${commonA.join(', ')} -> ${commonB.join(', ')}` });
  for (const id of commonB) diffStep(a.find((s) => s.id === id)!, b.find((s) => s.id === id)!, out);
}

/** Every semantic change between two versions of one workflow (names aside). */
export function diffWorkflow(a: WorkflowFile, b: WorkflowFile): Change[] {
  const out: Change[] = [];
  diffValue(a.name, b.name, 'renamed', 'name', 'name', out);
  if ((a.enabled !== false) !== (b.enabled !== false)) out.push({ kind: 'enabled-toggled', path: 'enabled', description: b.enabled === false ? 'disabled (enabled: false)' : 'enabled (was enabled: false)' });
  diffValue(a.description, b.description, 'description-changed', 'description', 'description', out);
  diffValue(a.object, b.object, 'object-changed', 'object', 'object', out);
  const on = (w: WorkflowFile) => w.trigger.on as string[];
  const addedOn = on(b).filter((e) => !on(a).includes(e));
  const removedOn = on(a).filter((e) => !on(b).includes(e));
  if (addedOn.length) out.push({ kind: 'trigger-events-added', path: 'trigger.on', description: `trigger events added: ${addedOn.join(', ')}` });
  if (removedOn.length) out.push({ kind: 'trigger-events-removed', path: 'trigger.on', description: `trigger events removed: ${removedOn.join(', ')}` });
  for (const k of ['schedule', 'timezone', 'overlap', 'catch_up', 'catch_up_window'] as const) diffValue(a.trigger[k], b.trigger[k], `${k.replace(/_/g, '-')}-changed`, `trigger.${k}`, k, out);
  diffRules(a.rules, b.rules, 'rules', out);
  if (a.steps || b.steps) {
    if (!a.steps || !b.steps) out.push({ kind: 'kind-changed', path: 'steps', description: b.steps ? 'now a step workflow (was an import)' : 'now an import workflow (had steps)' });
    else diffSteps(a.steps, b.steps, out);
  }
  if (a.import || b.import) {
    if (!a.import) out.push({ kind: 'import-added', path: 'import', description: `import added (${b.import!.preset})` });
    else if (!b.import) out.push({ kind: 'import-removed', path: 'import', description: `import removed (was ${a.import.preset})` });
    else {
      const ia = a.import;
      const ib = b.import;
      diffValue(ia.preset, ib.preset, 'preset-changed', 'import.preset', 'import preset', out);
      diffValue(ia.credentials, ib.credentials, 'credentials-changed', 'import.credentials', 'import credentials', out);
      diffMap(ia.params, ib.params, 'param', 'import.params', 'import param', out);
      diffValue(ia.match, ib.match, 'import-changed', 'import.match', 'import match', out);
      diffMap(ia.fields, ib.fields, 'import-field', 'import.fields', 'import field', out);
      diffValue(ia.create ?? false, ib.create ?? false, 'import-changed', 'import.create', 'import create', out);
      diffValue(ia.vanished, ib.vanished, 'import-changed', 'import.vanished', 'import vanished', out);
    }
  }
  return out;
}

// ---------------------------------------------------------------- renames

/** Leaf paths of a value, `a.b[0]=x`, for similarity. */
function leaves(v: unknown, path: string, out: Set<string>): Set<string> {
  if (Array.isArray(v)) v.forEach((x, i) => leaves(x, `${path}[${i}]`, out));
  else if (isObj(v)) for (const [k, x] of Object.entries(v)) leaves(x, `${path}.${k}`, out);
  else out.add(`${path}=${JSON.stringify(v)}`);
  return out;
}

/** Jaccard similarity of two workflows' leaves, ignoring name and description. */
export function similarity(a: WorkflowFile, b: WorkflowFile): number {
  const la = leaves({ ...a, name: undefined, description: undefined }, '', new Set());
  const lb = leaves({ ...b, name: undefined, description: undefined }, '', new Set());
  let both = 0;
  for (const x of la) if (lb.has(x)) both++;
  const union = la.size + lb.size - both;
  return union === 0 ? 1 : both / union;
}

/** Pairs of at least this similarity (with the same object) count as a rename. */
export const RENAME_SIMILARITY = 0.5;

// ---------------------------------------------------------------- config

type Vars = Record<string, unknown>;

/** skein.yaml changes, each with the workflow names it affects. */
function diffConfig(a: ConfigFile, b: ConfigFile, head: WorkflowFile[]): Array<Change & { affects: string[] }> {
  const out: Array<Change & { affects: string[] }> = [];
  const push = (c: Change, affects: string[]) => out.push({ ...c, affects });
  const tmp: Change[] = [];
  diffMap(a.variables as Vars | undefined, b.variables as Vars | undefined, 'variable', 'variables', 'variable', tmp);
  for (const c of tmp.splice(0)) {
    const name = c.path.slice('variables.'.length);
    push(c, head.filter((w) => usesVariable(w, name)).map((w) => w.name));
  }
  const credA = (a.credentials ?? {}) as Vars;
  const credB = (b.credentials ?? {}) as Vars;
  for (const k of [...new Set([...Object.keys(credA), ...Object.keys(credB)])].sort()) {
    if (isDeepStrictEqual(credA[k], credB[k])) continue;
    // Only say which credential changed: its source names are configuration, not for comments.
    const what = !(k in credA) ? 'added' : !(k in credB) ? 'removed' : 'changed (type or source)';
    push({ kind: 'credential-changed', path: `credentials.${k}`, description: `credential ${k} ${what}` }, head.filter((w) => usesCredential(w, k)).map((w) => w.name));
  }
  const objA = (a.objects ?? {}) as Record<string, { key?: string; fields?: Vars }>;
  const objB = (b.objects ?? {}) as Record<string, { key?: string; fields?: Vars }>;
  for (const k of [...new Set([...Object.keys(objA), ...Object.keys(objB)])].sort()) {
    if (isDeepStrictEqual(objA[k], objB[k])) continue;
    const affects = head.filter((w) => w.object === k).map((w) => w.name);
    if (!objA[k]) push({ kind: 'object-added', path: `objects.${k}`, description: `object ${k} declared` }, affects);
    else if (!objB[k]) push({ kind: 'object-removed', path: `objects.${k}`, description: `object ${k} no longer declared` }, affects);
    else {
      diffValue(objA[k]!.key, objB[k]!.key, 'object-key-changed', `objects.${k}.key`, `object ${k} key`, tmp);
      diffMap(objA[k]!.fields, objB[k]!.fields, 'object-field', `objects.${k}.fields`, `object ${k} field`, tmp);
      for (const c of tmp.splice(0)) push(c, affects);
    }
  }
  return out;
}

function usesVariable(w: WorkflowFile, name: string): boolean {
  // Qualys presets build their URL from vars.qualys_api_url; any preset step may read variables.
  const text = JSON.stringify(w);
  return new RegExp(`vars\\.${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\b`).test(text) || (name === 'qualys_api_url' && /"preset":"qualys\./.test(text));
}

function usesCredential(w: WorkflowFile, name: string): boolean {
  return (w.steps ?? []).some((s) => s.credentials === name) || w.import?.credentials === name;
}

// ---------------------------------------------------------------- projects

const named = (p: LoadedProject | undefined) => (p?.workflows ?? []).filter((w): w is LoadedWorkflow & { def: WorkflowFile } => w.def !== undefined);

/**
 * Diffs base (undefined: the directory did not exist at the base ref) against head. Workflows are
 * matched by name; an unmatched base workflow and an unmatched head workflow are a rename when
 * they live in the same file, or failing that when their content is similar enough.
 */
export function diffProjects(base: LoadedProject | undefined, head: LoadedProject): ProjectDiff {
  const baseWfs = named(base);
  const headWfs = named(head);
  const result: WorkflowDiff[] = [];
  const baseByName = new Map(baseWfs.map((w) => [w.def.name, w]));
  const headNames = new Set(headWfs.map((w) => w.def.name));
  const goneBase = baseWfs.filter((w) => !headNames.has(w.def.name));
  const newHead = headWfs.filter((w) => !baseByName.has(w.def.name));
  const renamedFrom = new Map<LoadedWorkflow, { from: LoadedWorkflow & { def: WorkflowFile }; reason: WorkflowDiff['renameReason'] }>();
  for (const h of newHead) {
    const i = goneBase.findIndex((b) => b.file === h.file);
    if (i >= 0) renamedFrom.set(h, { from: goneBase.splice(i, 1)[0]!, reason: 'same-file' });
  }
  const candidates = newHead
    .filter((h) => !renamedFrom.has(h))
    .flatMap((h) => goneBase.map((b) => ({ h, b, score: b.def.object === h.def.object ? similarity(b.def, h.def) : 0 })))
    .filter((c) => c.score >= RENAME_SIMILARITY)
    .sort((x, y) => y.score - x.score || x.h.def.name.localeCompare(y.h.def.name));
  for (const c of candidates) {
    if (renamedFrom.has(c.h) || !goneBase.includes(c.b)) continue;
    renamedFrom.set(c.h, { from: c.b, reason: 'similar-content' });
    goneBase.splice(goneBase.indexOf(c.b), 1);
  }
  // A head file whose base version could not be loaded at all (parse or schema errors).
  const unreadableBase = new Set((base?.workflows ?? []).filter((w) => !w.def).map((w) => w.file));

  for (const h of headWfs) {
    const prev = baseByName.get(h.def.name);
    if (prev) {
      const changes = diffWorkflow(prev.def, h.def);
      result.push({ name: h.def.name, status: changes.length ? 'changed' : 'unchanged', file: h.file, ...(prev.file !== h.file ? { previousFile: prev.file } : {}), changes });
      continue;
    }
    const ren = renamedFrom.get(h);
    if (ren) {
      result.push({ name: h.def.name, status: 'renamed', previousName: ren.from.def.name, file: h.file, previousFile: ren.from.file, renameReason: ren.reason, changes: diffWorkflow(ren.from.def, h.def) });
      continue;
    }
    const d: WorkflowDiff = { name: h.def.name, status: 'added', file: h.file, changes: [] };
    if (unreadableBase.has(h.file)) {
      d.baseUnreadable = true;
      d.changes.push({ kind: 'base-unreadable', path: '', description: `the base version of ${h.file} could not be loaded (see base diagnostics); shown as added` });
    }
    result.push(d);
  }
  for (const b of goneBase) result.push({ name: b.def.name, status: 'removed', previousFile: b.file, changes: [] });

  const config = base ? diffConfig(base.config, head.config, headWfs.map((w) => w.def)) : [];
  // A workflow untouched itself but affected by skein.yaml changes is changed too.
  for (const c of config) {
    for (const name of c.affects) {
      const d = result.find((r) => r.name === name && r.status !== 'added' && r.status !== 'removed');
      if (!d) continue;
      d.changes.push({ kind: 'config', path: c.path, description: `skein.yaml: ${c.description}` });
      if (d.status === 'unchanged') d.status = 'changed';
    }
  }
  const order: Record<WorkflowStatus, number> = { added: 0, removed: 1, renamed: 2, changed: 3, unchanged: 4 };
  result.sort((x, y) => order[x.status] - order[y.status] || x.name.localeCompare(y.name));
  return { workflows: result, config: config.map(({ kind, path, description, affects }) => ({ kind, path, description: affects.length ? `${description} (affects ${affects.join(', ')})` : description })) };
}

/** True when the plan has anything to show: exit code 2. */
export function hasChanges(d: ProjectDiff): boolean {
  return d.config.length > 0 || d.workflows.some((w) => w.status !== 'unchanged');
}
