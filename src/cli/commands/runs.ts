// `skein runs list|show`: the run history, for audits and for finding why a record failed.
import { parseArgs } from 'node:util';
import { SkeinError } from '../../errors.js';
import { MAX_RUNS_LIMIT, RUN_STATUSES, type RunDetail, type RunRow, type RunStatus } from '../../store/types.js';
import { UsageError, type Command } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { println } from '../io.js';
import { HttpClient } from '../../http/index.js';
import { Presence } from '../../engine/presence.js';
import { limiterFor } from '../../http/shared-limiter.js';
import { runWorkflow, type RunTarget } from '../../engine/run.js';
import type { Io } from '../io.js';
import { formatSummary } from './run.js';
import { findWorkflow, openWorkspace, WORKSPACE_HELP, WORKSPACE_OPTIONS, type Workspace } from '../workspace.js';

const HELP = `Usage: skein runs list [--workflow NAME] [--status STATUS] [--limit N] [--format table|json]
       skein runs show RUN_ID [--format table|json]
       skein runs retry RUN_ID [--failed-only] [--format table|json]
       skein runs resolve RUN_ID KEY --as succeeded|failed [--step ID] [--note TEXT]

Lists runs (newest first) or shows one run with every record and step: the request as sent
(secrets redacted), HTTP status, Qualys code and message, outputs, attempts, duration, error.
retry runs the workflow again over the run's records (event runs: with their original events);
resolve settles a step left unknown (a create whose outcome could not be established): failed
lets the next run send it again; succeeded marks it done, but its response mapping was never
applied: set those fields (e.g. skein records set KEY qualys_login=...) before the next run, or
a record the rules still match gets the call again.

Options:
  --workflow NAME   only runs of this workflow
  --status S        running, succeeded, failed, partial or cancelled
  --limit N         at most N runs (default 50)
  --format F        table (default; text is the same) or json
${WORKSPACE_HELP}

Exit codes: 0 shown, retried with every record succeeded, or resolved; 1 no such run, record
or step to resolve, or a retried record failed; 2 bad usage.`;

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

function listTable(runs: RunRow[]): string {
  if (!runs.length) return 'no runs';
  const rows = [['RUN', 'WORKFLOW', 'TRIGGER', 'STATUS', 'STARTED', 'SUMMARY']];
  for (const r of runs) {
    rows.push([r.id, r.workflow, r.trigger, r.status, r.started_at, summaryText(r.summary)]);
  }
  return table(rows);
}

function summaryText(summary: unknown): string {
  const s = (summary ?? {}) as { matched?: number; succeeded?: number; failed?: number; import?: Record<string, number> };
  // An import run counts listed items, not matched records.
  const i = s.import;
  if (i) return `${i.listed ?? 0} listed: ${i.created ?? 0} created, ${i.updated ?? 0} updated, ${i.unchanged ?? 0} unchanged, ${i.vanished ?? 0} vanished, ${i.rejected ?? 0} rejected`;
  return s.matched !== undefined ? `${s.matched} matched, ${s.succeeded ?? 0} ok, ${s.failed ?? 0} failed` : '';
}

/** Rejected import items listed by `runs show` in text; JSON has them all. */
const SHOWN_FAILURES = 50;

function showTable(run: RunDetail): string {
  const out = [`run ${run.id}  workflow ${run.workflow}  trigger ${run.trigger}  status ${run.status}`, `started ${run.started_at}  finished ${run.finished_at ?? '-'}`];
  // An import's rejected items are not records of the run: its summary holds them.
  const s = run.summary as { import?: unknown; failures?: Array<{ key: string; step: string; error: string }> } | null;
  if (s?.import) {
    out.push(`import: ${summaryText(s)}`);
    const failures = (s.failures ?? []).filter((f) => f.step === 'map');
    for (const f of failures.slice(0, SHOWN_FAILURES)) out.push(`  rejected ${f.key}: ${f.error}`);
    if (failures.length > SHOWN_FAILURES) out.push(`  ... and ${failures.length - SHOWN_FAILURES} more (--format json lists all)`);
  }
  for (const rec of run.records) {
    out.push(`  ${rec.key}: ${rec.status}${rec.error ? ` (${rec.error})` : ''}`);
    for (const s of rec.steps) {
      const req = s.request as { method?: string; url?: string; params?: Record<string, string>; body?: string } | undefined;
      out.push(`    ${s.step_id}: ${s.status}${s.http_status ? ` HTTP ${s.http_status}` : ''}${s.qualys_code ? ` code ${s.qualys_code}` : ''}${s.attempts ? ` attempts ${s.attempts}` : ''}${s.duration_ms != null ? ` ${s.duration_ms} ms` : ''}`);
      if (req?.url) out.push(`      ${req.method} ${req.url}`);
      const params = Object.entries(req?.params ?? {});
      if (params.length) out.push(`      params: ${params.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ')}`);
      if (req?.body !== undefined) out.push(`      body: ${JSON.stringify(req.body)}`);
      if (s.qualys_message) out.push(`      message: ${s.qualys_message}`);
      const outputs = Object.entries(s.outputs ?? {});
      if (outputs.length) out.push(`      outputs: ${outputs.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ')}`);
      if (s.error) out.push(`      error: ${s.error}${s.error_code ? ` [${s.error_code}]` : ''}`);
    }
  }
  return out.join('\n');
}

/** `runs retry RUN_ID [--failed-only]`: the same workflow over the same records (or events) again. */
async function retryRun(ws: Workspace, positionals: string[], failedOnly: boolean, format: string, io: Io): Promise<number> {
  if (positionals.length !== 1) throw new UsageError('runs retry takes one RUN_ID');
  const run = await ws.store.getRun(positionals[0]!);
  if (!run) throw new SkeinError('unknown-run', `no run with id "${positionals[0]}" (skein runs list shows the ids)`);
  const wf = findWorkflow(ws.project, run.workflow);
  const data = (run.trigger_data ?? {}) as { keys?: string[]; events?: number[] };
  const keys = failedOnly ? run.records.filter((r) => r.status !== 'succeeded').map((r) => r.key) : data.keys ?? run.records.map((r) => r.key);
  const limits = await limiterFor(ws.store);
  const http = new HttpClient({ limiter: limits.limiter });
  const runner = await Presence.start(ws.store, { role: 'cli' });
  try {
    const deps = { project: ws.project, store: ws.store, http, env: io.env, runner };
    let target: RunTarget = { keys, trigger: 'retry', triggerData: { retry_of: run.id, keys } };
    if (data.events?.length) {
      // Event runs retry with their original events, so changed* rules see the same before/after.
      const wanted = new Set(data.events);
      const events = (await ws.store.readEvents({ afterId: Math.min(...data.events) - 1, limit: 100_000, object: wf.object })).filter((e) => wanted.has(e.id) && (!failedOnly || keys.includes(e.key)));
      target = { events, trigger: 'retry', triggerData: { retry_of: run.id, events: events.map((e) => e.id) } };
    }
    if (failedOnly && !keys.length) {
      println(io.stdout, `run ${run.id} has no failed records`);
      return EXIT.OK;
    }
    const summary = await runWorkflow(deps, wf, target);
    if (!summary.runId && format !== 'json') {
      // Nothing matched the rules any more (an earlier step's mapping changed the record).
      println(io.stdout, `nothing to retry: no record of run ${run.id} matches ${wf.name}'s rules now; no run recorded (steps still in doubt need skein runs resolve)`);
      return EXIT.OK;
    }
    println(io.stdout, format === 'json' ? JSON.stringify(summary, null, 2) : formatSummary(summary));
    return summary.failed ? EXIT.FAILED : EXIT.OK;
  } finally {
    await runner.stop();
    await http.close();
    await limits.close();
  }
}

/**
 * `runs resolve RUN_ID KEY --as succeeded|failed`: a person settles a step left `unknown` (or
 * `running` by a dead runner). failed lets the next run send the call again; succeeded does not
 * (set the record's fields yourself, e.g. skein records set KEY qualys_login=...).
 */
async function resolveRun(ws: Workspace, positionals: string[], values: { as?: string; step?: string; note?: string }, io: Io): Promise<number> {
  if (positionals.length !== 2) throw new UsageError('runs resolve takes RUN_ID KEY');
  if (values.as !== 'succeeded' && values.as !== 'failed') throw new UsageError('runs resolve needs --as succeeded or --as failed');
  const [runId, key] = positionals as [string, string];
  const run = await ws.store.getRun(runId);
  if (!run) throw new SkeinError('unknown-run', `no run with id "${runId}" (skein runs list shows the ids)`);
  const rec = run.records.find((r) => r.key === key);
  if (!rec) throw new SkeinError('unknown-record', `run ${runId} has no record "${key}"`);
  const open = rec.steps.filter((st) => (st.status === 'unknown' || st.status === 'running') && (!values.step || st.step_id === values.step));
  if (!open.length) throw new SkeinError('nothing-to-resolve', `run ${runId} has no unknown step for "${key}"${values.step ? ` named ${values.step}` : ''}`);
  const note = `resolved as ${values.as} by a person${values.note ? `: ${values.note}` : ''}`;
  // Every run that met the same call in doubt left its own unknown row, and each one blocks the
  // next send: a person's answer settles them all, not only the row of the run they looked at.
  const rows: Array<{ runId: string; stepId: string }> = [];
  for (const stepId of new Set(open.map((st) => st.step_id))) {
    rows.push({ runId, stepId });
    for (const d of await ws.store.stepsInDoubt(run.workflow, key, stepId)) if (d.run_id !== runId) rows.push({ runId: d.run_id, stepId });
  }
  await ws.store.commit(rows.map((r) => ({ op: 'recordStep', runId: r.runId, recordKey: key, step: { step_id: r.stepId, status: values.as as 'succeeded' | 'failed', error: note, error_code: 'resolved' } })));
  const others = new Set(rows.filter((r) => r.runId !== runId).map((r) => r.runId));
  println(io.stdout, `${open.map((st) => st.step_id).join(', ')} of ${key} in run ${runId}${others.size ? ` (and ${others.size} earlier run(s) that left it in doubt)` : ''}: ${note}`);
  if (values.as === 'succeeded') {
    // The run that met the call never applied its response mapping: the record does not say so
    // yet, and while its rules still match, the next run sends the call again.
    println(io.stdout, `note: the step's response mapping was not applied; set those fields yourself (e.g. skein records set ${key} qualys_login=...) before the next run, or a record its rules still match gets the call again`);
  }
  return EXIT.OK;
}

export const runsCommand: Command = {
  name: 'runs',
  summary: 'list runs and show one run with its records and steps',
  help: HELP,
  async run(args, io) {
    const [sub, ...rest] = args;
    if (sub !== 'list' && sub !== 'show' && sub !== 'retry' && sub !== 'resolve') throw new UsageError('use "runs list", "runs show RUN_ID", "runs retry RUN_ID" or "runs resolve RUN_ID KEY --as STATUS"');
    const { values, positionals } = parseArgs({
      args: rest,
      allowPositionals: true,
      strict: true,
      options: {
        ...WORKSPACE_OPTIONS,
        workflow: { type: 'string' },
        status: { type: 'string' },
        limit: { type: 'string', default: '50' },
        format: { type: 'string', default: 'table' },
        'failed-only': { type: 'boolean', default: false },
        as: { type: 'string' },
        step: { type: 'string' },
        note: { type: 'string' },
      },
    });
    if (!['table', 'json', 'text'].includes(values.format!)) throw new UsageError(`unknown format "${values.format}"; formats: table (or text), json`);
    // Reading history needs skein.yaml only: a broken workflow file elsewhere does not hide it.
    const reading = sub === 'list' || sub === 'show';
    const ws = await openWorkspace(values, io, undefined, { readOnly: reading, configOnly: reading });
    try {
      if (sub === 'list') {
        if (positionals.length) throw new UsageError('runs list takes no arguments');
        const limit = Number(values.limit);
        if (!/^\d+$/.test(values.limit!) || limit < 1 || limit > MAX_RUNS_LIMIT) throw new UsageError(`--limit takes a whole number from 1 to ${MAX_RUNS_LIMIT}, not "${values.limit}"`);
        if (values.status !== undefined && !RUN_STATUSES.includes(values.status as RunStatus)) {
          throw new UsageError(`unknown status "${values.status}"; statuses: ${RUN_STATUSES.join(', ')}`);
        }
        const runs = await ws.store.listRuns({ workflow: values.workflow, status: values.status as RunStatus | undefined, limit });
        println(io.stdout, values.format === 'json' ? JSON.stringify(runs, null, 2) : listTable(runs));
        return EXIT.OK;
      }
      if (sub === 'retry') return await retryRun(ws, positionals, values['failed-only']!, values.format!, io);
      if (sub === 'resolve') return await resolveRun(ws, positionals, values, io);
      if (positionals.length !== 1) throw new UsageError('runs show takes one RUN_ID');
      const run = await ws.store.getRun(positionals[0]!);
      if (!run) throw new SkeinError('unknown-run', `no run with id "${positionals[0]}" (skein runs list shows the ids)`);
      println(io.stdout, values.format === 'json' ? JSON.stringify(run, null, 2) : showTable(run));
      return EXIT.OK;
    } finally {
      await ws.close();
    }
  },
};
