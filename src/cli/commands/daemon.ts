// `skein daemon`: the long-running runner. Signals: SIGTERM/SIGINT drain and exit 0; a second
// signal exits at once (the store stays consistent: every write is a transaction).
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import { Daemon } from '../../daemon/daemon.js';
import { createLogger } from '../../daemon/logger.js';
import { SkeinError } from '../../errors.js';
import { stateLocation } from '../workspace.js';
import { UsageError, type Command } from '../command.js';
import { EXIT } from '../exit-codes.js';
import type { Io } from '../io.js';

const HELP = `Usage: skein daemon [--dir workflows] [--state PATH] [--listen 127.0.0.1:8780] [--sandbox]
                    [--shutdown-timeout 30s] [--log-level info] [--poll 250ms]
                    [--lease-ttl 30s] [--claim-batch N]

Runs workflows continuously: fires schedules (croner, time zones, no overlap, catch-up of
missed ticks from the stored last fire time), runs event-triggered workflows for record
changes made by any process (within a second), and serves an HTTP API:
  GET /healthz, GET /readyz, GET /api/workflows, GET /api/runs?workflow=&status=,
  GET /api/runs/:id, POST /api/workflows/:name/run {"records": [...]}, GET /api/cluster,
  GET|PUT|PATCH|DELETE /api/records/:object/:key, GET /metrics (Prometheus text)
Invalid workflows are not loaded; their diagnostics are logged and shown by /api/workflows.
Changed files (and SIGHUP) reload at once: a file that validates takes effect, one that no
longer validates keeps its last good version running, a deleted file stops its workflow.

Options:
  --listen HOST:PORT     API address (default 127.0.0.1:8780; port 0 picks a free one). A
                         non-loopback address needs SKEIN_API_TOKEN (then every route but
                         /healthz needs "Authorization: Bearer <token>").
  --sandbox              start the Qualys sandbox in-process and point vars.qualys_api_url and
                         the credentials at it (no Qualys account needed)
  --shutdown-timeout D   how long SIGTERM waits for in-flight steps (default 30s)
  --log-level L          trace, debug, info (default), warn, error
  --poll D               how often the outbox is checked (default 250ms)
  --lease-ttl D          several runners on one store (PostgreSQL, see docs/scale-out.md): a
                         runner whose heartbeat is older than this is taken for dead; its event
                         leases lapse and its running runs are adopted (default 30s)
  --claim-batch N        events leased per claim; smaller spreads work across runners (default 256)
  --var NAME=VALUE       override a skein.yaml variable (repeatable)
  --dir, --state         as for the other commands

Logs are JSON lines on stdout; credentials, Authorization headers and passwords are redacted.
Exit codes: 0 stopped by a signal after draining, 1 failed to start or drain, 2 bad usage.`;

function parseListen(text: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(text);
  if (!m || Number(m[2]) > 65535) throw new UsageError(`--listen takes HOST:PORT with a port from 0 to 65535, found "${text}"`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

const isLoopback = (host: string) => host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));

function ms(text: string, what: string): number {
  const m = /^(\d+)(ms|s|m)?$/.exec(text);
  if (!m) throw new UsageError(`${what} takes a duration such as 500ms, 30s or 2m, found "${text}"`);
  return Number(m[1]) * (m[2] === 'm' ? 60_000 : m[2] === 's' ? 1000 : m[2] === 'ms' ? 1 : 1000);
}

export const daemonCommand: Command = {
  name: 'daemon',
  summary: 'run schedules and record events continuously, with an HTTP API',
  help: HELP,
  async run(args, io: Io) {
    const { values } = parseArgs({
      args,
      strict: true,
      options: {
        dir: { type: 'string', default: 'workflows' },
        state: { type: 'string' },
        listen: { type: 'string', default: '127.0.0.1:8780' },
        sandbox: { type: 'boolean', default: false },
        'shutdown-timeout': { type: 'string', default: '30s' },
        'log-level': { type: 'string', default: 'info' },
        poll: { type: 'string', default: '250ms' },
        'lease-ttl': { type: 'string', default: '30s' },
        'claim-batch': { type: 'string' },
        var: { type: 'string', multiple: true },
      },
    });
    const { host, port } = parseListen(values.listen!);
    const token = io.env.SKEIN_API_TOKEN || undefined;
    if (!isLoopback(host) && !token) throw new SkeinError('api-token-required', `refusing to listen on ${host} without SKEIN_API_TOKEN; set a token or listen on 127.0.0.1`);
    if (!['trace', 'debug', 'info', 'warn', 'error'].includes(values['log-level']!)) throw new UsageError(`unknown log level "${values['log-level']}"`);
    const shutdownMs = ms(values['shutdown-timeout']!, '--shutdown-timeout');
    const log = createLogger({ level: values['log-level'], destination: io.stdout });
    const env = { ...io.env };
    const vars: Record<string, string> = {};
    for (const pair of values.var ?? []) {
      const i = pair.indexOf('=');
      if (i <= 0) throw new UsageError(`--var takes NAME=VALUE, found "${pair}"`);
      vars[pair.slice(0, i)] = pair.slice(i + 1);
    }
    const state = stateLocation(values.state, io);
    const leaseTtlMs = ms(values['lease-ttl']!, '--lease-ttl');
    if (leaseTtlMs < 300) throw new UsageError('--lease-ttl must be at least 300ms');
    const claimBatch = values['claim-batch'] === undefined ? undefined : Number(values['claim-batch']);
    if (claimBatch !== undefined && !(Number.isInteger(claimBatch) && claimBatch >= 1)) throw new UsageError(`--claim-batch takes a whole number >= 1, found "${values['claim-batch']}"`);
    // The handlers go in before anything starts: a SIGHUP from a deploy hook or a SIGTERM from a
    // supervisor may come while the store opens, and without a handler either kills the process
    // undrained (SIGHUP's default is to exit). They wait for the start to end.
    let daemon: Daemon | undefined;
    let started = false;
    let reloadAfterStart = false;
    let signals = 0;
    let onStop!: (sig: string) => void;
    const stopRequested = new Promise<string>((resolve) => (onStop = resolve));
    const onSignal = (sig: string) => {
      signals++;
      if (signals > 1) {
        log.warn({ signal: sig }, 'second signal: exiting at once');
        process.exit(EXIT.FAILED);
      }
      onStop(sig);
    };
    const onHup = () => (started ? void daemon!.reload('SIGHUP') : (reloadAfterStart = true));
    const removeHandlers = () => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      process.off('SIGHUP', onHup);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    process.on('SIGHUP', onHup);
    let sandbox: { stop(): Promise<void> } | undefined;
    if (values.sandbox) {
      const { QualysSandbox } = await import('../../sandbox/index.js');
      const sb = new QualysSandbox({ users: 5, seed: 1 });
      const { url } = await sb.start({ port: 0, host: '127.0.0.1' }).catch((err: unknown) => {
        removeHandlers();
        throw err;
      });
      const [account] = sb.accounts;
      vars.qualys_api_url = url;
      // Point every credential's env variables at the sandbox account.
      env.QUALYS_USERNAME = account!.username;
      env.QUALYS_PASSWORD = account!.password;
      sandbox = sb;
      log.info({ sandbox: url, account: account!.username }, 'Qualys sandbox started in-process');
    }
    daemon = new Daemon({ dir: values.dir!, cwd: io.cwd, state, host, port, env, log, vars, pollMs: ms(values.poll!, '--poll'), apiToken: token, leaseTtlMs, claimBatch });
    let url: string;
    try {
      url = await daemon.start();
    } catch (err) {
      removeHandlers();
      await sandbox?.stop();
      throw err;
    }
    started = true;
    if (reloadAfterStart) void daemon.reload('SIGHUP');
    io.stderr.write(`skein daemon listening on ${url}\n`);
    const sig = await stopRequested;
    log.info({ signal: sig, timeout_ms: shutdownMs }, 'shutting down: finishing in-flight steps');
    const drained = await daemon.stop(shutdownMs);
    await sandbox?.stop();
    return drained ? EXIT.OK : EXIT.FAILED;
  },
};
