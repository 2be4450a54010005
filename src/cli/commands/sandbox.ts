// `skein sandbox qualys`: run the local Qualys V1 user-API simulator until SIGINT/SIGTERM.
// Thin: parses argv, builds a QualysSandbox, prints its URL and credentials, waits, stops.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { SkeinError } from '../../errors.js';
import {
  FaultSpecError,
  QualysSandbox,
  loadAccountsFile,
  parseFaultSpec,
  parseRateLimit,
  type LimitsConfig,
  type SandboxOptions,
  type ToWaitHeaderMode,
} from '../../sandbox/index.js';
import { UsageError, type Command } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { println, type Io } from '../io.js';

const DEFAULT_PORT = 8765;
const DEFAULT_HOST = '127.0.0.1';
const TO_WAIT_MODES: readonly ToWaitHeaderMode[] = ['always', 'omit-on-block', 'omit-on-first-block'];

const HELP = `Usage: skein sandbox qualys [options]

Run a local simulator of the Qualys V1 user-management API (/msp/user.php, user_list.php,
password_change.php, acceptEULA.php) until Ctrl+C. Prints the base URL and the sandbox-only API
credentials it accepts. See docs/sandbox.md.

Options:
  --port N              port to listen on (default ${DEFAULT_PORT}; 0 picks a free port)
  --host H              address to bind (default ${DEFAULT_HOST})
  --accounts FILE       API accounts and subscriptions, JSON or YAML (default: sandbox_mgr,
                        sandbox_admin and sandbox_unit, password sandbox-password)
  --users N             generate N realistic users per subscription (default 0)
  --seed N              seed for generated users, logins, passwords and faults (default random)
  --rate-limit C/S      allow C calls per S seconds per (subscription, script) (default off)
  --concurrency N       concurrent calls per (subscription, script) (default unlimited)
  --to-wait-header M    ${TO_WAIT_MODES.join(' | ')} (default always): whether
                        blocked calls carry X-RateLimit-ToWait-Sec
  --latency MS          delay every call by MS milliseconds (default 0)
  --faults SPEC         inject faults, e.g. 500:0.1,drop:every=7,malformed:0.05,seed=42
  --state FILE          load users from FILE at start and save them there after each change

Exit codes: 0 stopped by a signal, 1 could not start, 2 bad usage.`;

export const sandboxCommand: Command = {
  name: 'sandbox',
  summary: 'run a local Qualys API simulator (skein sandbox qualys)',
  help: HELP,
  async run(args: string[], io: Io): Promise<number> {
    const stop = new AbortController();
    const onSignal = (): void => stop.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      return await runSandbox(args, io, stop.signal);
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  },
};

/** The command body with an injectable stop signal (tests run it in-process). */
export async function runSandbox(args: string[], io: Io, signal: AbortSignal): Promise<number> {
  const { options, port, host } = await parseSandboxArgs(args, io);
  const sandbox = new QualysSandbox(options);
  let started: { url: string; port: number };
  try {
    started = await sandbox.start({ port, host });
  } catch (err) {
    if (err instanceof SkeinError) throw err;
    throw new SkeinError('sandbox-listen', `cannot listen on ${host}:${port}: ${(err as Error).message}`, { cause: err });
  }
  printBanner(io, sandbox, started.url, options);
  if (!signal.aborted) await new Promise<void>((done) => signal.addEventListener('abort', () => done(), { once: true }));
  await sandbox.stop();
  println(io.stdout, 'Qualys sandbox stopped.');
  return EXIT.OK;
}

function intFlag(values: Record<string, unknown>, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const text = String(raw);
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got "${text}"`);
  }
  return Number(text);
}

async function parseSandboxArgs(args: string[], io: Io): Promise<{ options: SandboxOptions; port: number; host: string }> {
  const parsed = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      accounts: { type: 'string' },
      users: { type: 'string' },
      seed: { type: 'string' },
      'rate-limit': { type: 'string' },
      concurrency: { type: 'string' },
      'to-wait-header': { type: 'string' },
      latency: { type: 'string' },
      faults: { type: 'string' },
      state: { type: 'string' },
    },
  });
  const { values, positionals } = parsed;
  if (positionals.length !== 1 || positionals[0] !== 'qualys') {
    throw new UsageError(`expected exactly one simulator name, "qualys"; got ${positionals.length === 0 ? 'none' : positionals.map((p) => `"${p}"`).join(', ')}`);
  }
  const options: SandboxOptions = {};
  const limits: LimitsConfig = {};
  if (values['rate-limit'] !== undefined) {
    const rate = parseRateLimit(values['rate-limit']);
    if (!rate) throw new UsageError(`--rate-limit must be CALLS/SECONDS, e.g. 300/3600; got "${values['rate-limit']}"`);
    limits.rate = rate;
  }
  const concurrency = intFlag(values, 'concurrency', 1);
  if (concurrency !== undefined) limits.concurrency = concurrency;
  const toWait = values['to-wait-header'];
  if (toWait !== undefined) {
    if (!(TO_WAIT_MODES as readonly string[]).includes(toWait)) throw new UsageError(`--to-wait-header must be one of ${TO_WAIT_MODES.join(', ')}; got "${toWait}"`);
    limits.toWaitHeader = toWait as ToWaitHeaderMode;
  }
  options.limits = limits;
  const users = intFlag(values, 'users', 0, 100_000);
  if (users !== undefined) options.users = users;
  const seed = intFlag(values, 'seed', 0, 2 ** 32 - 1);
  if (seed !== undefined) options.seed = seed;
  const latency = intFlag(values, 'latency', 0, 600_000);
  if (latency !== undefined) options.latencyMs = latency;
  if (values.faults !== undefined) {
    try {
      parseFaultSpec(values.faults); // report grammar errors as usage errors
      options.faults = values.faults;
    } catch (err) {
      if (err instanceof FaultSpecError) throw new UsageError(`--faults: ${err.message}`);
      throw err;
    }
  }
  if (values.state !== undefined) options.stateFile = resolve(io.cwd, values.state);
  if (values.accounts !== undefined) {
    const file = await loadAccountsFile(resolve(io.cwd, values.accounts));
    options.accounts = file.accounts;
    options.subscriptions = file.subscriptions;
  }
  if (values.host === '') throw new UsageError('--host must not be empty');
  return { options, port: intFlag(values, 'port', 0, 65_535) ?? DEFAULT_PORT, host: values.host ?? DEFAULT_HOST };
}

function printBanner(io: Io, sandbox: QualysSandbox, url: string, options: SandboxOptions): void {
  const out = io.stdout;
  println(out, `Qualys sandbox listening on ${url}`);
  println(out, `  V1 scripts: ${url}/msp/user.php, user_list.php, password_change.php, acceptEULA.php`);
  println(out, `  control API: ${url}/__sandbox/ (health, stats, users, state, reset, faults, limits)`);
  println(out, 'API accounts (sandbox-only fake credentials, Basic auth):');
  const width = Math.max(...sandbox.accounts.map((a) => a.username.length));
  for (const a of sandbox.accounts) {
    println(out, `  ${a.username.padEnd(width)}  ${a.password}  (${a.role}, business unit ${a.business_unit}, subscription ${a.subscription})`);
  }
  const l = options.limits ?? {};
  const rate = l.rate ? `${l.rate.calls} calls per ${l.rate.windowSec} s` : 'off';
  println(out, `Limits per (subscription, script): rate ${rate}, concurrency ${l.concurrency ?? 'unlimited'}`);
  if (options.latencyMs) println(out, `Latency: ${options.latencyMs} ms`);
  if (options.faults) println(out, `Faults: ${typeof options.faults === 'string' ? options.faults : `${options.faults.rules.length} rule(s)`}`);
  if (options.stateFile) println(out, `State file: ${options.stateFile}`);
  println(out, 'Press Ctrl+C to stop.');
}
