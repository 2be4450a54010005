// Events benchmark: N record updates written by another process (one `records import`), consumed
// by the daemon against the sandbox (limits off): events per second from commit to completed
// runs, against the engine's own `run --all` over the same records, side by side.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'bench', '.out', 'events');
const N = Number(process.env.BENCH_EVENTS_N ?? 10000);
const env = { ...process.env, QUALYS_USERNAME: 'sandbox_mgr', QUALYS_PASSWORD: 'sandbox-password' };
const skein = join(root, 'bin', 'skein.js');

async function startSandbox() {
  const child = spawn(process.execPath, [join(root, 'bench', 'sandbox-child.mjs'), String(N)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise((resolve) => createInterface({ input: child.stdout }).once('line', resolve));
  return { url, stop: () => new Promise((r) => { child.once('exit', r); child.kill('SIGTERM'); }) };
}

function cli(args, cwd) {
  const r = spawnSync(process.execPath, [skein, ...args], { cwd, env, encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0 && r.status !== 1) throw new Error(`skein ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

function project(name) {
  const dir = join(out, name);
  mkdirSync(join(dir, 'workflows'), { recursive: true });
  copyFileSync(join(root, 'workflows', 'skein.yaml'), join(dir, 'workflows', 'skein.yaml'));
  writeFileSync(join(dir, 'workflows', 'leavers.yaml'), `version: 1
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
`);
  const rows = ['username,email,status,qualys_login,qualys_status'];
  for (let i = 0; i < N; i++) rows.push(`user${i},bench${i}@corp.test,Active,bench${String(i).padStart(5, '0')},Active`);
  writeFileSync(join(dir, 'users.csv'), rows.join('\n') + '\n');
  writeFileSync(join(dir, 'leavers.csv'), ['username,status', ...Array.from({ length: N }, (_, i) => `user${i},Leaver`)].join('\n') + '\n');
  cli(['records', 'import', 'users.csv', '--state', 's.db'], dir);
  return dir;
}

export async function main() {
  rmSync(out, { recursive: true, force: true });
  // Baseline: the engine's own run --all over the same records.
  let sb = await startSandbox();
  const a = project('run-all');
  cli(['records', 'import', 'leavers.csv', '--state', 's.db'], a);
  const t0 = performance.now();
  cli(['run', 'leavers', '--all', '--state', 's.db', '--var', `qualys_api_url=${sb.url}`], a);
  const runAllMs = performance.now() - t0;
  await sb.stop();

  // The daemon consuming N update events written by another process.
  sb = await startSandbox();
  const d = project('daemon');
  const daemon = spawn(process.execPath, [skein, 'daemon', '--listen', '127.0.0.1:0', '--state', 's.db', '--var', `qualys_api_url=${sb.url}`, '--poll', '100ms', '--log-level', 'warn'], { cwd: d, env, stdio: ['ignore', 'ignore', 'pipe'] });
  const api = await new Promise((resolve) => daemon.stderr.on('data', (x) => { const m = /listening on (\S+)/.exec(String(x)); if (m) resolve(m[1]); }));
  // Let the daemon settle on the N `created` events from the first import (no match: status Active).
  for (;;) {
    const metrics = await (await fetch(`${api}/metrics`)).text();
    if (!/skein_outbox_lag_seconds [1-9]/.test(metrics)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  await new Promise((r) => setTimeout(r, 1000));
  cli(['records', 'import', 'leavers.csv', '--state', 's.db'], d);
  const t1 = performance.now();
  let done = 0;
  while (done < N) {
    const runs = await (await fetch(`${api}/api/runs?workflow=leavers&limit=1000`)).json();
    done = runs.filter((r) => r.status !== 'running').reduce((n, r) => n + (r.summary?.succeeded ?? 0), 0);
    if (performance.now() - t1 > 300_000) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const daemonMs = performance.now() - t1;
  daemon.kill('SIGTERM');
  await new Promise((r) => daemon.once('exit', r));
  await sb.stop();
  const runAll = (N / runAllMs) * 1000;
  const events = (done / daemonMs) * 1000;
  console.log(`events: ${N} record updates written by another process (one import), sandbox in another process, limits off`);
  console.log(`  skein run --all on the same records: ${runAll.toFixed(0)} records/s (${runAllMs.toFixed(0)} ms, whole CLI process)`);
  console.log(`  daemon, commit to completed runs:   ${events.toFixed(0)} events/s (${done} done in ${daemonMs.toFixed(0)} ms)`);
  console.log(`  ratio daemon / run --all: ${(events / runAll).toFixed(2)}x (target >= 0.8x)`);
}
