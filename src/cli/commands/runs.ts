// `skein runs list|show`: the run history, for audits and for finding why a record failed.
import { parseArgs } from 'node:util';
import { SkeinError } from '../../errors.js';
import type { RunDetail, RunRow, RunStatus } from '../../store/types.js';
import { UsageError, type Command } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { println } from '../io.js';
import { openWorkspace, WORKSPACE_HELP, WORKSPACE_OPTIONS } from '../workspace.js';

const HELP = `Usage: skein runs list [--workflow NAME] [--status STATUS] [--limit N] [--format table|json]
       skein runs show RUN_ID [--format table|json]

Lists runs (newest first) or shows one run with every record and step: the request as sent
(secrets redacted), HTTP status, Qualys code and message, outputs, attempts, duration, error.

Options:
  --workflow NAME   only runs of this workflow
  --status S        running, succeeded, failed, partial or cancelled
  --limit N         at most N runs (default 50)
  --format F        table (default) or json
${WORKSPACE_HELP}

Exit codes: 0 shown, 1 no such run, 2 bad usage.`;

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

function listTable(runs: RunRow[]): string {
  if (!runs.length) return 'no runs';
  const rows = [['RUN', 'WORKFLOW', 'TRIGGER', 'STATUS', 'STARTED', 'SUMMARY']];
  for (const r of runs) {
    const s = (r.summary ?? {}) as { matched?: number; succeeded?: number; failed?: number };
    rows.push([r.id, r.workflow, r.trigger, r.status, r.started_at, s.matched !== undefined ? `${s.matched} matched, ${s.succeeded ?? 0} ok, ${s.failed ?? 0} failed` : '']);
  }
  return table(rows);
}

function showTable(run: RunDetail): string {
  const out = [`run ${run.id}  workflow ${run.workflow}  trigger ${run.trigger}  status ${run.status}`, `started ${run.started_at}  finished ${run.finished_at ?? '-'}`];
  for (const rec of run.records) {
    out.push(`  ${rec.key}: ${rec.status}${rec.error ? ` (${rec.error})` : ''}`);
    for (const s of rec.steps) {
      const req = s.request as { method?: string; url?: string } | undefined;
      out.push(`    ${s.step_id}: ${s.status}${s.http_status ? ` HTTP ${s.http_status}` : ''}${s.qualys_code ? ` code ${s.qualys_code}` : ''}${s.attempts ? ` attempts ${s.attempts}` : ''}${s.duration_ms != null ? ` ${s.duration_ms} ms` : ''}`);
      if (req?.url) out.push(`      ${req.method} ${req.url}`);
      if (s.qualys_message) out.push(`      message: ${s.qualys_message}`);
      if (s.error) out.push(`      error: ${s.error}`);
    }
  }
  return out.join('\n');
}

export const runsCommand: Command = {
  name: 'runs',
  summary: 'list runs and show one run with its records and steps',
  help: HELP,
  async run(args, io) {
    const [sub, ...rest] = args;
    if (sub !== 'list' && sub !== 'show') throw new UsageError('use "runs list" or "runs show RUN_ID"');
    const { values, positionals } = parseArgs({
      args: rest,
      allowPositionals: true,
      strict: true,
      options: { ...WORKSPACE_OPTIONS, workflow: { type: 'string' }, status: { type: 'string' }, limit: { type: 'string', default: '50' }, format: { type: 'string', default: 'table' } },
    });
    if (!['table', 'json'].includes(values.format!)) throw new UsageError(`unknown format "${values.format}"; formats: table, json`);
    const ws = await openWorkspace(values, io);
    try {
      if (sub === 'list') {
        if (positionals.length) throw new UsageError('runs list takes no arguments');
        const runs = await ws.store.listRuns({ workflow: values.workflow, status: values.status as RunStatus | undefined, limit: Number(values.limit) });
        println(io.stdout, values.format === 'json' ? JSON.stringify(runs, null, 2) : listTable(runs));
        return EXIT.OK;
      }
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
