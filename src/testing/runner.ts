// Runs workflow test cases offline through the real engine: each case gets a temporary SQLite
// store seeded with its records and event, fake credentials, and an HttpClient whose dispatcher is
// an undici MockAgent (no network) answering each step with its canned response. What the engine
// journaled (requests as sent, redacted bodies, outputs, outcomes) and the records afterwards are
// then compared with the case's expectations.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { MockAgent } from 'undici';
import { compileRule } from '../conditions/evaluate.js';
import { withTemplateNow } from '../template/helpers.js';
import type { ConfigFile } from '../generated/config.js';
import type { Case, Expected, Response, TestFile } from '../generated/test.js';
import type { WorkflowFile } from '../generated/workflow.js';
import { evalInput, runWorkflow, type EngineDeps } from '../engine/run.js';
import { HttpClient } from '../http/index.js';
import { openStore } from '../store/index.js';
import type { Fields, RecordEvent, StepRow, StoredRecord } from '../store/types.js';
import type { LoadedProject } from '../workflow/project.js';
import type { JsonPath } from '../workflow/source.js';
import { isMultiline, shown, unifiedDiff } from './diff.js';
import type { LoadedTest } from './load.js';

/** One mismatch, located at the expectation it breaks. */
export interface TestFailure {
  line: number;
  col: number;
  /** What was compared, e.g. `step deactivate request.params.login`. */
  what: string;
  /** One line: `expected "a", got "b"` or a reason. */
  message: string;
  /** Unified-style diff lines for multi-line values. */
  diff?: string[];
}

export interface CaseResult {
  name: string;
  line: number;
  col: number;
  passed: boolean;
  failures: TestFailure[];
  durationMs: number;
}

export interface TestFileResult {
  file: string;
  workflow?: string;
  cases: CaseResult[];
}

/** The fake credential values every test runs with (real secrets are never read). */
export const TEST_CREDENTIAL = { username: 'skein-test-user', password: 'skein-test-password' } as const;

/** Body of the test double's answer to a step that has no canned response. */
export const NO_RESPONSE_BODY = 'skein test: this case gives no canned response for this step';

/** Runs every case of a loaded, valid test file. */
export async function runTestFile(project: LoadedProject, test: LoadedTest): Promise<TestFileResult> {
  const def = test.def!;
  const result: TestFileResult = { file: test.file, workflow: def.workflow, cases: [] };
  const loaded = project.workflows.find((w) => w.def?.name === def.workflow);
  for (const [i, c] of def.cases.entries()) {
    const at = test.doc!.locate(['cases', i]);
    const started = performance.now();
    const failures: TestFailure[] = [];
    if (!loaded?.def || !loaded.valid || project.configDiagnostics.some((d) => d.severity === 'error')) {
      failures.push({ ...test.doc!.locate(['workflow']), what: 'workflow', message: `workflow ${def.workflow} has validation errors (or skein.yaml has); run skein validate first` });
    } else {
      try {
        // The case's `now` holds for its rules and for {{date "now"}} alike.
        const run = () => runCase(project, loaded.def!, test, def, i, failures);
        await (c.now ? withTemplateNow(new Date(c.now), run) : run());
      } catch (err) {
        failures.push({ ...at, what: 'case', message: `could not run: ${(err as Error).message.split('\n')[0]}` });
      }
    }
    result.cases.push({ name: c.name, line: at.line, col: at.col, passed: failures.length === 0, failures, durationMs: performance.now() - started });
  }
  return result;
}

/** skein.yaml for tests: case variables applied, every credential resolved from fake values. */
function testConfig(config: ConfigFile, vars: Case['vars']): { config: ConfigFile; env: NodeJS.ProcessEnv } {
  const env: NodeJS.ProcessEnv = {};
  const credentials: NonNullable<ConfigFile['credentials']> = {};
  for (const name of Object.keys(config.credentials ?? {})) {
    const id = name.toUpperCase().replace(/[^A-Z0-9]/g, '_');
    env[`SKEIN_TEST_${id}_USERNAME`] = TEST_CREDENTIAL.username;
    env[`SKEIN_TEST_${id}_PASSWORD`] = TEST_CREDENTIAL.password;
    // Every secret part of every type comes from fake values (only the type's own parts are read).
    const secret = { env: `SKEIN_TEST_${id}_PASSWORD` };
    credentials[name] = { ...config.credentials![name]!, username: { env: `SKEIN_TEST_${id}_USERNAME` }, password: secret, token: secret, value: secret };
  }
  return { config: { ...config, variables: { ...config.variables, ...vars }, credentials }, env };
}

/** Steps with retries off: a canned answer is final, so tests stay fast and deterministic. */
function withoutRetries(wf: WorkflowFile): WorkflowFile {
  return wf.steps ? { ...wf, steps: wf.steps.map((s) => ({ ...s, retry: { ...s.retry, attempts: 1 } })) as WorkflowFile['steps'] } : wf;
}

function cannedBody(r: Response, testPath: string): string {
  if (r.file !== undefined) return readFileSync(resolve(dirname(testPath), r.file), 'utf8');
  return r.body ?? '';
}

async function runCase(project: LoadedProject, realWf: WorkflowFile, test: LoadedTest, def: TestFile, index: number, failures: TestFailure[]): Promise<void> {
  const c = def.cases[index]!;
  const doc = test.doc!;
  const base: JsonPath = ['cases', index];
  const fail = (path: JsonPath, what: string, message: string, diff?: string[], which: 'key' | 'value' = 'value') => {
    const pos = doc.locate([...base, ...path], which);
    failures.push({ line: pos.line, col: pos.col, what, message, ...(diff ? { diff } : {}) });
  };
  const wf = withoutRetries(realWf);
  const obj = project.scope.objects.get(wf.object)!;
  const { config, env } = testConfig(project.config, c.vars);
  const caseProject: LoadedProject = { ...project, config };
  const now = c.now ? new Date(c.now) : new Date();

  const dir = mkdtempSync(join(tmpdir(), 'skein-test-'));
  const agent = new MockAgent();
  agent.disableNetConnect();
  let current: string | undefined;
  const sent: string[] = [];
  agent
    .get(() => true)
    .intercept({ path: () => true, method: () => true })
    .reply(() => {
      const step = current;
      if (step) sent.push(step);
      const r = step ? c.responses?.[step] : undefined;
      if (!r) return { statusCode: 501, data: NO_RESPONSE_BODY, responseOptions: { headers: { 'content-type': 'text/plain' } } };
      const body = cannedBody(r, test.path);
      const headers = { 'content-type': body.trimStart().startsWith('<') ? 'text/xml; charset=UTF-8' : 'text/plain; charset=UTF-8', ...lowerKeys(r.headers ?? {}) };
      return { statusCode: r.status ?? 200, data: body, responseOptions: { headers } };
    })
    .persist();
  const http = new HttpClient({ dispatcher: agent, retry: { attempts: 1 } });
  const store = await openStore(join(dir, 'state.db'), project.scope.objects);
  try {
    const seed = async (fields: Fields | undefined): Promise<RecordEvent | null> =>
      fields ? store.setFields(wf.object, String(fields[obj.key]), fields, { createIfMissing: true, source: 'test' }) : null;
    for (const r of c.records ?? []) await seed(r as Fields);

    // The subject record and its event, made the way the store makes them.
    const ev = c.event;
    const subject = (ev.kind === 'updated' ? ev.before : ev.record) as Fields | undefined;
    const key = subject ? String(subject[obj.key]) : undefined;
    let event: RecordEvent | undefined;
    if (ev.kind === 'updated') {
      await seed(subject);
      const e = await store.setFields(wf.object, key!, ev.after ?? {}, { source: 'test' });
      if (!e) return fail(['event', 'after'], 'event', 'after changes nothing in before, so no updated event happens; change at least one field', undefined, 'key');
      event = e;
    } else if (ev.kind === 'created') {
      const existing = key ? await store.getRecord(wf.object, key) : null;
      if (existing) await store.deleteRecord(wf.object, key!, { source: 'test' });
      event = (await seed(subject)) ?? undefined;
    } else if (ev.kind === 'deleted') {
      await seed(subject);
      event = (await store.deleteRecord(wf.object, key!, { source: 'test' })) ?? undefined;
    } else await seed(subject);

    // Whether the record is selected: the trigger takes the event, and the rules hold (as run.ts decides).
    const triggered = ev.kind === 'manual' || (wf.trigger.on as string[]).includes(ev.kind);
    const record: StoredRecord | null = key && ev.kind !== 'deleted' ? await store.getRecord(wf.object, key) : null;
    let matches = triggered;
    if (triggered && !wf.import) matches = compileRule(wf.rules, { fields: obj.fields, now })(evalInput({ record, event }));
    if (matches !== c.expect.matches) {
      const why = !triggered ? ` (trigger.on is [${wf.trigger.on.join(', ')}], the event is ${ev.kind})` : '';
      fail(['expect', 'matches'], 'matches', `expected ${c.expect.matches}, got ${matches}${why}`);
    }

    let rows: StepRow[] = [];
    if (triggered && (matches || wf.import)) {
      const deps: EngineDeps = { project: caseProject, store, http, env, concurrency: 1, now: () => now, onStepStart: (e) => (current = e.step) };
      const target = wf.import ? { trigger: 'manual' as const } : event ? { events: [event], trigger: 'event' as const } : { keys: [key!], trigger: 'manual' as const };
      const summary = await runWorkflow(deps, wf, target);
      const run = summary.runId ? await store.getRun(summary.runId) : null;
      rows = run?.records.find((r) => r.key === (wf.import ? '*' : key))?.steps ?? [];
    }

    for (const [id, exp] of Object.entries(c.expect.steps ?? {})) {
      const p: JsonPath = ['expect', 'steps', id];
      const row = rows.find((r) => r.step_id === id);
      const outcome = row?.status ?? 'not_run';
      const unanswered = sent.includes(id) && !c.responses?.[id] ? ' (its request got HTTP 501: the case gives no response for it)' : '';
      if (exp.outcome !== undefined && exp.outcome !== outcome) {
        const err = row?.error ? `; error: ${row.error}` : '';
        fail([...p, 'outcome'], `step ${id} outcome`, `expected ${exp.outcome}, got ${outcome}${err}${unanswered}`);
      }
      const req = row?.request as { method?: string; url?: string; params?: Record<string, string>; body?: string } | undefined;
      if (exp.request) {
        if (!req) fail([...p, 'request'], `step ${id} request`, `no request was sent (step ${outcome}${row?.error ? `: ${row.error}` : ''})`, undefined, 'key');
        else {
          compare(fail, [...p, 'request', 'method'], `step ${id} request.method`, exp.request.method, req.method);
          compare(fail, [...p, 'request', 'url'], `step ${id} request.url`, exp.request.url, req.url);
          compare(fail, [...p, 'request', 'body'], `step ${id} request.body`, exp.request.body, req.body);
          for (const [k, v] of Object.entries(exp.request.params ?? {})) compare(fail, [...p, 'request', 'params', k], `step ${id} request.params.${k}`, v, req.params?.[k], true);
        }
      }
      const outputs = (row?.outputs ?? {}) as Record<string, string>;
      for (const [k, v] of Object.entries(exp.outputs ?? {})) compare(fail, [...p, 'outputs', k], `step ${id} outputs.${k}`, v, typeof outputs === 'object' ? outputs[k] : undefined);
      if (exp.error !== undefined && !(row?.error ?? '').includes(exp.error)) {
        fail([...p, 'error'], `step ${id} error`, `expected an error containing ${shown(exp.error)}, got ${row?.error ? shown(row.error) : 'no error'}`);
      }
      if (exp.qualys_code !== undefined) compare(fail, [...p, 'qualys_code'], `step ${id} qualys_code`, String(exp.qualys_code), row?.qualys_code ?? undefined);
    }

    if (c.expect.fields) {
      const after = key ? await store.getRecord(wf.object, key) : null;
      if (!after) fail(['expect', 'fields'], 'fields', 'the record does not exist after the run', undefined, 'key');
      else compareFields(fail, ['expect', 'fields'], 'fields', c.expect.fields, after.fields, obj.fields);
    }
    for (const [k, exp] of Object.entries(c.expect.records ?? {})) {
      const r = await store.getRecord(wf.object, k);
      if (!r) fail(['expect', 'records', k], `records.${k}`, `no ${wf.object} record "${k}" after the run`, undefined, 'key');
      else compareFields(fail, ['expect', 'records', k], `records.${k}`, exp, r.fields, obj.fields);
    }
  } finally {
    await http.close();
    await agent.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

type Fail = (path: JsonPath, what: string, message: string, diff?: string[]) => void;

const text = (v: unknown): string => (typeof v === 'string' ? v : String(v));

const lowerKeys = (h: Record<string, string>) => Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));

/** Whether `actual` satisfies `expected`: equal text, or containing it for `{ contains }`. */
function satisfies(expected: Expected, actual: string | undefined, emptyIsAbsent: boolean): boolean {
  if (typeof expected === 'object') return actual !== undefined && actual.includes(expected.contains);
  const exp = text(expected);
  return exp === actual || (emptyIsAbsent && exp === '' && actual === undefined);
}

/** Compares one value; an absent actual equals "" when `emptyIsAbsent`. */
function compare(fail: Fail, path: JsonPath, what: string, expected: Expected | undefined, actual: string | undefined, emptyIsAbsent = false): void {
  if (expected === undefined || satisfies(expected, actual, emptyIsAbsent)) return;
  if (typeof expected === 'object') {
    const got = isMultiline(actual) ? ` in:\n${(actual ?? '').split('\n').slice(0, 40).map((l) => `    ${l}`).join('\n')}` : `, got ${shown(actual)}`;
    return fail(path, what, `expected text containing ${shown(expected.contains)}${got}`);
  }
  const exp = text(expected);
  if (isMultiline(exp, actual)) fail(path, what, 'expected and actual differ:', unifiedDiff(exp, actual ?? ''));
  else fail(path, what, `expected ${shown(exp)}, got ${shown(actual)}`);
}

function compareFields(fail: Fail, path: JsonPath, what: string, expected: Record<string, Expected>, actual: Fields, declared: Record<string, { sensitive: boolean }>): void {
  for (const [f, exp] of Object.entries(expected)) {
    const got = actual[f] === undefined ? undefined : text(actual[f]);
    if (satisfies(exp, got, true)) continue;
    if (declared[f]?.sensitive) {
      // Never print a secret, not even the expected one (it may be a real value pasted in).
      fail([...path, f], `${what}.${f}`, `the value differs from the expected one (sensitive field: values not shown${got === undefined ? '; the field is empty' : ''})`);
      continue;
    }
    compare(fail, [...path, f], `${what}.${f}`, exp, got, true);
  }
}
