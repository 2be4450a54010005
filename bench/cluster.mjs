// Cluster benchmark ("Scale out"): events per second with 1, 2 and 4 daemons sharing one
// PostgreSQL database, side by side with the SQLite single daemon on the same work, in one run,
// against one sandbox process (limits off). Each configuration gets a fresh store holding N users
// (their N `created` events already handled by `run --pending`), starts its daemons and waits
// until they are up and idle, then one `records import` writes N updates (one transaction) and
// the clock runs from the import's exit (its commit) until every one of the N runs is finished.
// Daemon start-up and the import itself are outside the timed window.
//
// To say what limits scaling it measures, over the same window: CPU seconds of each daemon, of the
// sandbox, of the PostgreSQL server processes of the database (backends + auxiliary processes),
// of this process and of the rest of the machine (/proc); the daemons' database round trips and
// transactions (a preload in each daemon counts its pg / better-sqlite3 calls; no product change);
// and for PostgreSQL how long the store-wide write lock (pg_advisory_xact_lock(WRITE_LOCK_KEY),
// taken by every commit) was held and waited for.
//
//   npm run bench -- cluster [--n=N]      BENCH_CLUSTER_N (default 3000 records per configuration)
//   BENCH_CLUSTER_RUNNERS=1,2,4           PostgreSQL runner counts
//   BENCH_CLUSTER_CLAIM_BATCH=N           --claim-batch passed to every daemon (default: daemon's)
//   BENCH_PG_URL=postgres://postgres@127.0.0.1:5432/postgres   admin connection (CREATE/DROP DATABASE)
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createInterface } from 'node:readline';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'bench', '.out', 'cluster');
const skein = join(root, 'bin', 'skein.js');
const require = createRequire(join(root, 'package.json'));
const pg = require('pg');
const Database = require('better-sqlite3');
const env = { ...process.env, QUALYS_USERNAME: 'sandbox_mgr', QUALYS_PASSWORD: 'sandbox-password' };
delete env.SKEIN_DATABASE_URL;
delete env.SKEIN_STATE;
const ADMIN_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const WRITE_LOCK_KEY = 0x736b65696e77; // src/store/postgres/store.ts
const CLK_TCK = 100; // Linux USER_HZ (getconf CLK_TCK)
const CORES = cpus().length;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- /proc: CPU time of processes and of the machine ------------------------------------------

/** utime + stime of a process in seconds, or undefined when it is gone. */
function procCpu(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** Machine-wide busy and total CPU seconds (all cores) from /proc/stat. */
function machineCpu() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = f[3] + f[4];
  return { busy: (total - idle) / CLK_TCK, total: total / CLK_TCK };
}

// ---- the preload that counts database calls inside each daemon ---------------------------------

// Loaded with `node --import` into every daemon: wraps pg's Client#query and better-sqlite3's
// statement calls to count round trips, transactions and the write lock's wait and hold times. On
// SIGUSR2 it writes its counters to probe-<pid>.json. Counting costs a few ns per call.
function probeSource(dir) {
  return `
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
const require = createRequire(${JSON.stringify(join(root, 'package.json'))});
const c = { queries: 0, begins: 0, commits: 0, rollbacks: 0, writeLocks: 0, writeLockWaitMs: 0, writeLockHoldMs: 0, claims: 0, claimLockWaitMs: 0, queryMs: 0, commitMs: 0, lockedTrips: 0, lockedQueryMs: 0, sqliteStatements: 0, sqliteBegins: 0 };
const now = () => performance.now();
try {
  const pg = require('pg');
  const orig = pg.Client.prototype.query;
  pg.Client.prototype.query = function (config, values, callback) {
    if (config && typeof config.submit === 'function') return orig.apply(this, arguments);
    const text = typeof config === 'string' ? config : config?.text ?? '';
    const vals = Array.isArray(values) ? values : config?.values;
    const t0 = now();
    const client = this;
    c.queries++;
    const locked = client.__benchLockedAt !== undefined;
    if (locked) c.lockedTrips++;
    let kind = '';
    if (/^\\s*BEGIN/i.test(text)) { c.begins++; kind = 'begin'; }
    else if (/^\\s*COMMIT/i.test(text)) { c.commits++; kind = 'commit'; }
    else if (/^\\s*ROLLBACK\\s*$/i.test(text)) { c.rollbacks++; kind = 'end'; }
    else if (text.includes('pg_advisory_xact_lock($1)') && Number(vals?.[0]) === ${WRITE_LOCK_KEY}) { c.writeLocks++; kind = 'write-lock'; }
    else if (text.includes('pg_advisory_xact_lock($1, hashtext($2))')) { c.claims++; kind = 'claim-lock'; }
    const done = () => {
      const t = now();
      c.queryMs += t - t0;
      if (locked) c.lockedQueryMs += t - t0;
      if (kind === 'write-lock') { c.writeLockWaitMs += t - t0; client.__benchLockedAt = t; }
      else if (kind === 'claim-lock') c.claimLockWaitMs += t - t0;
      if (kind === 'commit') c.commitMs += t - t0;
      if ((kind === 'end' || kind === 'commit') && client.__benchLockedAt !== undefined) { c.writeLockHoldMs += t - client.__benchLockedAt; client.__benchLockedAt = undefined; }
    };
    const cbIndex = typeof values === 'function' ? 1 : typeof callback === 'function' ? 2 : -1;
    if (cbIndex >= 0) {
      const args = [...arguments];
      const cb = args[cbIndex];
      args[cbIndex] = function () { done(); return cb.apply(this, arguments); };
      return orig.apply(this, args);
    }
    const r = orig.apply(this, arguments);
    if (r && typeof r.then === 'function') r.then(done, done);
    return r;
  };
} catch {}
try {
  const Database = require('better-sqlite3');
  const mem = new Database(':memory:');
  const proto = Object.getPrototypeOf(mem.prepare('SELECT 1'));
  mem.close();
  for (const m of ['run', 'get', 'all', 'iterate']) {
    const orig = proto[m];
    proto[m] = function () { c.sqliteStatements++; if (/^\\s*BEGIN/i.test(this.source)) c.sqliteBegins++; return orig.apply(this, arguments); };
  }
  const exec = Database.prototype.exec;
  Database.prototype.exec = function (sql) { c.sqliteStatements++; if (/^\\s*BEGIN/i.test(sql)) c.sqliteBegins++; return exec.apply(this, arguments); };
} catch {}
process.on('SIGUSR2', () => writeFileSync(${JSON.stringify(dir)} + '/probe-' + process.pid + '.json', JSON.stringify(c)));
`;
}

// ---- processes -------------------------------------------------------------------------------

function runCli(args, cwd) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [skein, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 || code === 1 ? resolve(stdout) : reject(new Error(`skein ${args.join(' ')} exited ${code}: ${stderr}`))));
  });
}

async function startSandbox(users) {
  const child = spawn(process.execPath, [join(root, 'bench', 'sandbox-child.mjs'), String(users)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const url = await new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`sandbox exited ${code}: ${stderr}`)));
  });
  return {
    url,
    pid: child.pid,
    stop: () => new Promise((r) => {
      if (child.exitCode !== null) return r(stderr);
      child.once('exit', () => r(stderr));
      child.kill('SIGTERM');
    }),
  };
}

function startDaemon(dir, state, sandboxUrl, probe) {
  const args = ['--import', pathToFileURL(probe).href, skein, 'daemon', '--listen', '127.0.0.1:0', '--state', state, '--var', `qualys_api_url=${sandboxUrl}`, '--poll', '100ms', '--log-level', 'warn'];
  if (process.env.BENCH_CLUSTER_CLAIM_BATCH) args.push('--claim-batch', process.env.BENCH_CLUSTER_CLAIM_BATCH);
  const child = spawn(process.execPath, args, { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const ready = new Promise((resolve, reject) => {
    child.stderr.on('data', (x) => {
      log = (log + x).slice(-4000);
      const m = /listening on (\S+)/.exec(log);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`daemon exited ${code} before it was ready: ${log}`)));
  });
  return {
    pid: child.pid,
    ready,
    log: () => log,
    stop: () => new Promise((r) => {
      if (child.exitCode !== null || child.signalCode !== null) return r();
      child.once('exit', r);
      child.kill('SIGTERM');
    }),
  };
}

/** Asks every daemon's preload for its counters. */
async function probeAll(dir, daemons) {
  const files = daemons.map((d) => join(dir, `probe-${d.pid}.json`));
  for (const f of files) rmSync(f, { force: true });
  for (const d of daemons) process.kill(d.pid, 'SIGUSR2');
  const t0 = Date.now();
  while (!files.every((f) => existsSync(f))) {
    if (Date.now() - t0 > 5000) throw new Error('daemons did not answer the counter probe (SIGUSR2)');
    await sleep(5);
  }
  await sleep(5);
  const sum = {};
  for (const f of files) for (const [k, v] of Object.entries(JSON.parse(readFileSync(f, 'utf8')))) sum[k] = (sum[k] ?? 0) + v;
  return sum;
}

// ---- the workload ----------------------------------------------------------------------------

const WORKFLOW = `version: 1
name: leavers
object: users
trigger: { on: [updated, manual] }
rules:
  all:
    - { field: status, equals: Leaver }
    - { field: qualys_status, equals: Active }
steps:
  - id: deactivate
    preset: qualys.deactivate_user
    credentials: qualys
    params: { login: "{{qualys_login}}" }
    response: { qualys_status: Inactive }
`;

/** A project whose N users map to sandbox logins offset..offset+N-1 (each configuration its own). */
function project(name, n, offset) {
  const dir = join(out, name);
  mkdirSync(join(dir, 'workflows'), { recursive: true });
  copyFileSync(join(root, 'workflows', 'skein.yaml'), join(dir, 'workflows', 'skein.yaml'));
  writeFileSync(join(dir, 'workflows', 'leavers.yaml'), WORKFLOW);
  const rows = ['username,email,status,qualys_login,qualys_status'];
  for (let i = 0; i < n; i++) rows.push(`user${i},bench${i}@corp.test,Active,bench${String(offset + i).padStart(5, '0')},Active`);
  writeFileSync(join(dir, 'users.csv'), rows.join('\n') + '\n');
  writeFileSync(join(dir, 'leavers.csv'), ['username,status', ...Array.from({ length: n }, (_, i) => `user${i},Leaver`)].join('\n') + '\n');
  return dir;
}

/** Progress and CPU/lock queries against one configuration's store. */
async function openMonitor(kind, state) {
  if (kind === 'sqlite') {
    const db = new Database(state, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
    const finished = db.prepare("SELECT count(*) AS n FROM run_records WHERE status <> 'running'");
    const byStatus = db.prepare('SELECT status, count(*) AS n FROM run_records GROUP BY status');
    return {
      finished: async () => finished.get().n,
      statuses: async () => Object.fromEntries(byStatus.all().map((r) => [r.status, r.n])),
      pgPids: async () => [],
      xacts: async () => 0,
      close: async () => db.close(),
    };
  }
  const client = new pg.Client({ connectionString: state, application_name: 'skein-bench-monitor' });
  await client.connect();
  const self = (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
  const db = new URL(state).pathname.slice(1);
  return {
    finished: async () => Number((await client.query("SELECT count(*) AS n FROM run_records WHERE status <> 'running'")).rows[0].n),
    statuses: async () => Object.fromEntries((await client.query('SELECT status, count(*) AS n FROM run_records GROUP BY status')).rows.map((r) => [r.status, Number(r.n)])),
    // Backends of this database (but this monitor) and the server's auxiliary processes.
    pgPids: async () => (await client.query('SELECT pid FROM pg_stat_activity WHERE (datname = $1 AND pid <> $2) OR datname IS NULL', [db, self])).rows.map((r) => r.pid),
    xacts: async () => Number((await client.query('SELECT xact_commit FROM pg_stat_database WHERE datname = $1', [db])).rows[0].xact_commit),
    close: () => client.end(),
  };
}

async function adminClient() {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 5000, application_name: 'skein-bench-admin' });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (err) {
    throw new Error(`cluster bench needs PostgreSQL at ${ADMIN_URL.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@')} (set BENCH_PG_URL): ${err.message || err.code || err}`);
  }
  return client;
}

function snapshot(pids) {
  const m = new Map();
  for (const p of pids) m.set(p, procCpu(p));
  return m;
}
/** CPU seconds used between two snapshots; processes born in between count from zero. */
function cpuDelta(before, after) {
  let s = 0;
  for (const [p, t] of after) if (t !== undefined) s += t - (before.get(p) ?? 0);
  return s;
}

/** Idle latency of one round trip and of a one-row write transaction (its COMMIT waits for the WAL flush). */
async function calibrate(url) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('CREATE TABLE bench_calibration (x int)');
    const time = async (k, fn) => {
      const t = performance.now();
      for (let i = 0; i < k; i++) await fn();
      return (performance.now() - t) / k;
    };
    await time(20, () => c.query('SELECT 1'));
    const rtt = await time(200, () => c.query('SELECT $1::int', [1]));
    const tx = await time(100, async () => {
      await c.query('BEGIN');
      await c.query('INSERT INTO bench_calibration VALUES ($1)', [1]);
      await c.query('COMMIT');
    });
    await c.query('DROP TABLE bench_calibration');
    return { rtt, tx };
  } finally {
    await c.end();
  }
}

async function runConfig(cfg, n, offset, sandbox, admin) {
  const name = `${cfg.kind}-${cfg.runners}`;
  const dir = project(name, n, offset);
  const probe = join(dir, 'probe.mjs');
  writeFileSync(probe, probeSource(dir));
  let state = join(dir, 's.db');
  let dbName;
  if (cfg.kind === 'pg') {
    dbName = `skein_bench_cluster_${process.pid}_${cfg.runners}`;
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${dbName}`);
    const u = new URL(ADMIN_URL);
    u.pathname = '/' + dbName;
    state = u.href;
  }
  const calibration = cfg.kind === 'pg' ? await calibrate(state) : undefined;
  const daemons = [];
  let monitor;
  const tSetup = performance.now();
  try {
    await runCli(['records', 'import', 'users.csv', '--state', state], dir);
    // The N `created` events do not match (trigger: updated); mark them handled before timing.
    await runCli(['run', '--pending', '--state', state, '--var', `qualys_api_url=${sandbox.url}`], dir);
    monitor = await openMonitor(cfg.kind, state);
    for (let i = 0; i < cfg.runners; i++) daemons.push(startDaemon(dir, state, sandbox.url, probe));
    await Promise.all(daemons.map((d) => d.ready));
    await sleep(1500); // let every daemon reach its idle poll
    const xactBefore = await monitor.xacts();

    await runCli(['records', 'import', 'leavers.csv', '--state', state], dir);
    // Window starts: the N update events are committed.
    const pgPids0 = await monitor.pgPids();
    const c0 = { m: machineCpu(), self: process.cpuUsage(), d: snapshot(daemons.map((d) => d.pid)), sb: procCpu(sandbox.pid), pg: snapshot(pgPids0) };
    const q0 = await probeAll(dir, daemons);
    const t0 = performance.now();
    const setupMs = t0 - tSetup;
    let done = 0;
    while (done < n) {
      done = await monitor.finished();
      if (performance.now() - t0 > 300_000) break;
      if (done < n) await sleep(cfg.kind === 'pg' ? 100 : 50);
    }
    const ms = performance.now() - t0;
    const q1 = await probeAll(dir, daemons);
    const pgPids1 = await monitor.pgPids();
    const c1 = { m: machineCpu(), self: process.cpuUsage(c0.self), d: snapshot(daemons.map((d) => d.pid)), sb: procCpu(sandbox.pid), pg: snapshot(pgPids1) };
    // Window ends. Everything below is bookkeeping.
    const statuses = await monitor.statuses();
    const sec = ms / 1000;
    const cpu = {
      machine: c1.m.busy - c0.m.busy,
      machineTotal: c1.m.total - c0.m.total,
      daemons: cpuDelta(c0.d, c1.d),
      perDaemon: daemons.map((d) => (c1.d.get(d.pid) ?? 0) - (c0.d.get(d.pid) ?? 0)),
      sandbox: c1.sb - c0.sb,
      postgres: cpuDelta(c0.pg, c1.pg),
      bench: (c1.self.user + c1.self.system) / 1e6,
    };
    cpu.other = cpu.machine - cpu.daemons - cpu.sandbox - cpu.postgres - cpu.bench;
    const q = Object.fromEntries(Object.keys(q1).map((k) => [k, q1[k] - (q0[k] ?? 0)]));
    const r = { name, cfg, n, done, ms, sec, rate: (done / ms) * 1000, cpu, q, statuses, setupMs, calibration };
    // Server-side cross-check: commits from before the import until the daemons stopped (backends
    // flush their statistics on exit), so it includes the import and the idle polls after the end.
    await Promise.all(daemons.map((d) => d.stop()));
    await sleep(200);
    r.xacts = (await monitor.xacts()) - xactBefore;
    return r;
  } finally {
    await Promise.all(daemons.map((d) => d.stop()));
    await monitor?.close().catch(() => undefined);
    if (dbName) await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch((err) => console.error(`could not drop ${dbName}: ${err.message}`));
  }
}

const pct = (x) => `${(x * 100).toFixed(0)}%`;
const f1 = (x) => x.toFixed(1);

export async function main(argv = []) {
  const nArg = argv.find((a) => a.startsWith('--n='));
  const n = Number(nArg ? nArg.slice(4) : (process.env.BENCH_CLUSTER_N ?? 3000));
  if (!(Number.isInteger(n) && n > 0 && n <= 25000)) throw new Error(`cluster bench: N must be a whole number 1..25000, found ${n}`);
  const runners = (process.env.BENCH_CLUSTER_RUNNERS ?? '1,2,4').split(',').map(Number);
  const configs = [{ kind: 'sqlite', runners: 1 }, ...runners.map((r) => ({ kind: 'pg', runners: r }))];
  if (configs.length * n > 100000) throw new Error('cluster bench: too many users for one sandbox (configurations x N > 100000)');

  const admin = await adminClient();
  const pgVersion = (await admin.query('SHOW server_version')).rows[0].server_version;
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const rev = revision();
  const sandbox = await startSandbox(configs.length * n);
  const results = [];
  const tStart = performance.now();
  try {
    for (const [i, cfg] of configs.entries()) {
      const r = await runConfig(cfg, n, i * n, sandbox, admin);
      results.push(r);
      const bad = r.done !== n || (r.statuses.succeeded ?? 0) !== n;
      if (bad) console.error(`cluster: ${r.name}: ${r.done}/${n} runs finished, statuses ${JSON.stringify(r.statuses)}`);
    }
  } finally {
    const sbLog = await sandbox.stop();
    await admin.end();
    if (results.length === configs.length) {
      const total = ((performance.now() - tStart) / 1000).toFixed(0);
      report(results, n, pgVersion, sbLog, total, rev);
    }
  }
}

function revision() {
  const git = (args) => spawnSync('git', args, { cwd: root, encoding: 'utf8' }).stdout?.trim() ?? '?';
  const head = git(['rev-parse', '--short', 'HEAD']);
  const dirty = git(['status', '--porcelain', '--', 'src']).split('\n').filter(Boolean).length;
  let built = '?';
  try {
    built = statSync(join(root, 'dist', 'cli', 'main.js')).mtime.toISOString();
  } catch {}
  return `product ${head}${dirty ? ` + ${dirty} uncommitted src file(s)` : ''}, dist built ${built}`;
}

function report(results, n, pgVersion, sbLog, totalSec, rev) {
  const base = results.find((r) => r.cfg.kind === 'sqlite');
  const requests = /"requests":(\d+)/.exec(sbLog)?.[1];
  console.log(`cluster: ${n} record updates per configuration written by one import, event-triggered workflow (1 call + response mapping per record),`);
  console.log(`  one sandbox process (limits off), daemons are child processes (--poll 100ms${process.env.BENCH_CLUSTER_CLAIM_BATCH ? `, --claim-batch ${process.env.BENCH_CLUSTER_CLAIM_BATCH}` : ''}), PostgreSQL ${pgVersion}, ${CORES} cores.`);
  console.log(`  ${rev}.`);
  console.log(`  Timed from the import's commit (daemons already up and idle) until all ${n} runs finished; start-up and the import are excluded.`);
  console.log('');
  const head = ['store', 'runners', 'events/s', 'vs SQLite', 'time', 'ok', 'machine CPU', 'daemons', 'sandbox', 'postgres', 'other', 'tx/event', 'trips/event', 'write lock held', 'lock queue'];
  const rows = results.map((r) => {
    const isPg = r.cfg.kind === 'pg';
    return [
      isPg ? 'PostgreSQL' : 'SQLite',
      String(r.cfg.runners),
      r.rate.toFixed(0),
      `${(r.rate / base.rate).toFixed(2)}x`,
      `${f1(r.sec)} s`,
      `${r.statuses.succeeded ?? 0}/${n}`,
      `${pct(r.cpu.machine / r.sec / CORES)} of ${CORES}`,
      `${f1(r.cpu.daemons)} s`,
      `${f1(r.cpu.sandbox)} s`,
      isPg ? `${f1(r.cpu.postgres)} s` : '-',
      `${f1(r.cpu.other + r.cpu.bench)} s`,
      isPg ? (r.q.commits / n).toFixed(2) : (r.q.sqliteBegins / n).toFixed(2),
      isPg ? (r.q.queries / n).toFixed(1) : `(${(r.q.sqliteStatements / n).toFixed(1)} stmts)`,
      isPg ? pct(r.q.writeLockHoldMs / r.ms) : '-',
      isPg ? f1(r.q.writeLockWaitMs / r.ms) : '-',
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) => '  ' + cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(line(head));
  for (const r of rows) console.log(line(r));
  console.log('');
  console.log('  CPU columns: CPU seconds in the window (daemons summed; postgres = backends of the bench database + auxiliary');
  console.log('  processes; "other" = the rest of the machine, incl. this process and anything else running).');
  console.log('  tx/event: committed transactions per event (SQLite: BEGINs, group-committed); trips/event: pg queries the daemons sent.');
  console.log('  write lock held: share of the window some transaction held the store-wide write lock (one holder at a time, max 100%);');
  console.log('  lock queue: transactions (of all daemons) waiting for that lock, on average.');
  console.log('');
  for (const r of results) {
    const own = r.cpu.daemons + r.cpu.sandbox + r.cpu.postgres;
    if (r.cfg.kind !== 'pg') {
      console.log(`  ${r.name}: setup ${f1(r.setupMs / 1000)} s; daemon ${pct(r.cpu.daemons / r.sec)} of a core; daemon+sandbox ${f1(own / r.sec)} of ${CORES} cores`);
      continue;
    }
    const q = r.q;
    const hold = q.writeLockHoldMs / Math.max(1, q.writeLocks);
    const ceiling = 1000 / ((q.writeLocks / n) * hold);
    console.log(`  ${r.name}: setup ${f1(r.setupMs / 1000)} s; per daemon CPU ${r.cpu.perDaemon.map((s) => pct(s / r.sec)).join(' + ')} of a core; daemons+sandbox+postgres ${f1(own / r.sec)} of ${CORES} cores`);
    const inDb = q.lockedQueryMs / Math.max(1, q.writeLocks);
    console.log(`    ${(q.writeLocks / n).toFixed(2)} write-locked transactions per event, each holding the lock ${hold.toFixed(2)} ms => lock ceiling ${ceiling.toFixed(0)} events/s;`);
    console.log(`    while held: ${(q.lockedTrips / Math.max(1, q.writeLocks)).toFixed(1)} round trips incl. COMMIT, ${inDb.toFixed(2)} ms from send to handled answer (COMMIT alone ${(q.commitMs / Math.max(1, q.commits)).toFixed(2)} ms), ` +
      `${(hold - inDb).toFixed(2)} ms between them; mean query ${(q.queryMs / Math.max(1, q.queries)).toFixed(2)} ms incl. lock waits`);
    console.log(`    idle reference before the run: round trip ${r.calibration.rtt.toFixed(2)} ms, BEGIN+INSERT+COMMIT ${r.calibration.tx.toFixed(2)} ms`);
    console.log(`    claims ${q.claims} (claim lock wait ${f1(q.claimLockWaitMs / 1000)} s); server xact_commit ${(r.xacts / n).toFixed(2)}/event (import to daemon stop, incl. import and idle polls)`);
  }
  console.log('');
  console.log('  what limits scaling:');
  for (const r of results) {
    const machine = r.cpu.machine / r.sec / CORES;
    const own = (r.cpu.daemons + r.cpu.sandbox + r.cpu.postgres) / r.sec; // cores used by skein + sandbox + postgres
    const maxDaemon = Math.max(...r.cpu.perDaemon) / r.sec;
    const parts = [`machine CPU ${pct(machine)} of ${CORES} cores (daemons ${f1(r.cpu.daemons / r.sec)}, sandbox ${f1(r.cpu.sandbox / r.sec)}` +
      (r.cfg.kind === 'pg' ? `, postgres ${f1(r.cpu.postgres / r.sec)}` : '') + `, other ${f1((r.cpu.other + r.cpu.bench) / r.sec)} cores)`];
    const verdicts = [];
    if (own >= 0.85 * CORES) verdicts.push('CPU (the cores are busy with this work)');
    else if (maxDaemon >= 0.85) verdicts.push("a daemon's single thread (one core busy)");
    if (r.cfg.kind === 'pg') {
      const lock = r.q.writeLockHoldMs / r.ms;
      parts.push(`${(r.q.commits / n).toFixed(1)} transactions and ${(r.q.queries / n).toFixed(1)} round trips per event`);
      parts.push(`write lock held ${pct(lock)} of the time, ${f1(r.q.writeLockWaitMs / r.ms)} transactions queued`);
      if (lock >= 0.8) verdicts.unshift('the store-wide write lock (commits serialized, each held over several round trips + fsync)');
    } else {
      parts.push(`${(r.q.sqliteBegins / n).toFixed(2)} transactions and ${(r.q.sqliteStatements / n).toFixed(1)} statements per event (in-process)`);
    }
    if (!verdicts.length) verdicts.push(r.cfg.kind === 'pg' ? 'neither CPU nor the write lock saturated (latency: round trips)' : 'no measured resource saturated (single daemon, group-committed writes)');
    if (machine - own / CORES >= 0.25) verdicts.push(`NOTE other processes used ${pct(machine - own / CORES)} of the machine: figures are disturbed`);
    console.log(`    ${r.name}: ${verdicts.join('; ')}. ${parts.join('; ')}`);
  }
  console.log(`  this process (progress polls): ${results.map((r) => `${r.name} ${f1(r.cpu.bench)} s`).join(', ')} of CPU, inside "other"`);
  console.log(`  sandbox requests: ${requests ?? '?'}; whole bench ${totalSec} s`);
}
