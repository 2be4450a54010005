// `skein run WORKFLOW` / `skein run --pending`: run workflows now against the real API (or the
// sandbox via --var qualys_api_url=...).
import { parseArgs } from 'node:util';
import { SkeinError } from '../../errors.js';
import { HttpClient } from '../../http/index.js';
import { runPending } from '../../engine/pending.js';
import { Presence } from '../../engine/presence.js';
import { limiterFor } from '../../http/shared-limiter.js';
import { runWorkflow, type RunSummary } from '../../engine/run.js';
import { UsageError, type Command } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { println, type Io } from '../io.js';
import { progressBar } from '../progress.js';
import { findWorkflow, openWorkspace, WORKSPACE_HELP, WORKSPACE_OPTIONS } from '../workspace.js';
import { setMaxListeners } from 'node:events';

const HELP = `Usage: skein run WORKFLOW [--record KEY ... | --all] [--format text|json]
       skein run --pending [--format text|json]

Runs a workflow now, whatever its trigger (as if its schedule fired, or by hand), over the
named records or every record its rules match. --pending consumes the outbox instead: each
event-triggered workflow runs once for each record event it has not handled yet.

Options:
  --record KEY      run for these records only (repeatable)
  --all             every record the rules match (default)
  --pending         handle outstanding record events
  --concurrency N   records in parallel (default 16)
  --format F        text summary (default) or json
${WORKSPACE_HELP}

Credentials come from the environment or files named in skein.yaml; a missing one stops the
run before any request is sent.

Ctrl-C stops taking records and lets the calls in flight finish (the run is recorded
cancelled); a second Ctrl-C cuts them off, a third exits at once.

Exit codes: 0 every record succeeded, 1 any record failed (or the run could not start),
2 bad usage, 130 stopped by Ctrl-C or SIGTERM.`;

export function formatSummary(s: RunSummary): string {
  const lines = [`run ${s.runId} of ${s.workflow}: ${s.status}`];
  if (s.import) {
    const i = s.import;
    lines.push(`  listed ${i.listed}: ${i.created} created, ${i.updated} updated, ${i.unchanged} unchanged, ${i.vanished} flagged vanished, ${i.rejected} rejected`);
  } else {
    lines.push(`  ${s.considered} record(s) considered, ${s.matched} matched: ${s.succeeded} succeeded, ${s.failed} failed`);
    for (const [id, t] of Object.entries(s.steps)) {
      lines.push(`  step ${id}: ${t.succeeded} succeeded, ${t.failed} failed, ${t.skipped} skipped${t.unknown ? `, ${t.unknown} unknown (check the vendor; see skein runs show)` : ''}`);
    }
  }
  for (const f of s.failures.slice(0, 20)) lines.push(`  FAILED ${f.key} at ${f.step}: ${f.error}`);
  if (s.failures.length > 20) lines.push(`  ... ${s.failures.length - 20} more failures (skein runs show ${s.runId})`);
  return lines.join('\n');
}

/** A disabled workflow stays in Git without running; plan still shows what it would do. */
function enabledWorkflow(project: Parameters<typeof findWorkflow>[0], name: string) {
  const wf = findWorkflow(project, name);
  if (wf.enabled === false) throw new SkeinError('workflow-disabled', `workflow ${name} is disabled (enabled: false); enable it to run it, or use skein plan to preview it`);
  return wf;
}

export const runCommand: Command = {
  name: 'run',
  summary: 'run a workflow now over records, or handle pending record events',
  help: HELP,
  async run(args, io: Io) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        ...WORKSPACE_OPTIONS,
        record: { type: 'string', multiple: true },
        all: { type: 'boolean', default: false },
        pending: { type: 'boolean', default: false },
        concurrency: { type: 'string', default: '16' },
        format: { type: 'string', default: 'text' },
      },
    });
    if (values.pending ? positionals.length !== 0 : positionals.length !== 1) throw new UsageError(values.pending ? '--pending takes no workflow name' : 'name one workflow (or use --pending)');
    if (values.record && values.all) throw new UsageError('use either --record or --all');
    if (values.pending && (values.record || values.all)) throw new UsageError('--pending handles the outstanding events; it takes neither --record nor --all');
    if (!['text', 'json'].includes(values.format!)) throw new UsageError(`unknown format "${values.format}"; formats: text, json`);
    const concurrency = Number(values.concurrency);
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError('--concurrency takes a whole number >= 1');
    const ws = await openWorkspace(values, io, positionals[0]);
    const limits = await limiterFor(ws.store);
    const http = new HttpClient({ connections: concurrency, limiter: limits.limiter });
    const bar = progressBar(io, positionals[0] ?? 'pending');
    // Registered while it runs, so a daemon on the same store neither adopts its runs nor takes its events.
    const runner = await Presence.start(ws.store, { role: 'cli' });
    // Ctrl-C (or SIGTERM) stops taking records and lets the calls in flight finish, so the run
    // ends recorded (cancelled) rather than left running; a second one cuts the calls off (a call
    // not safe to repeat was journaled and is reconciled next run); a third exits at once.
    const stop = new AbortController();
    const cut = new AbortController();
    // Every call in flight listens on these (one per record at --concurrency): no leak warning.
    setMaxListeners(0, stop.signal, cut.signal);
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals) => {
      signals++;
      if (signals === 1) {
        bar.end();
        println(io.stderr, `skein run: ${sig}: stopping; the calls in flight finish (again to cut them off)`);
        stop.abort();
      } else if (signals === 2) {
        println(io.stderr, `skein run: ${sig}: cutting off the calls in flight (again to exit at once)`);
        cut.abort();
      } else process.exit(EXIT.SIGNAL);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      const deps = { project: ws.project, store: ws.store, http, env: io.env, concurrency, onProgress: bar.update, runner, stopSignal: stop.signal, signal: cut.signal };
      const summaries = values.pending
        ? await runPending(deps)
        : [await runWorkflow(deps, enabledWorkflow(ws.project, positionals[0]!), { keys: values.record, trigger: 'manual' })];
      bar.end();
      if (values.format === 'json') println(io.stdout, JSON.stringify(values.pending ? summaries : summaries[0], null, 2));
      else if (!summaries.length) println(io.stdout, 'no pending events');
      else for (const s of summaries) println(io.stdout, formatSummary(s));
      if (stop.signal.aborted) return EXIT.SIGNAL;
      return summaries.some((s) => s.failed > 0) ? EXIT.FAILED : EXIT.OK;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await runner.stop();
      await http.close();
      await limits.close();
      await ws.close();
    }
  },
};
