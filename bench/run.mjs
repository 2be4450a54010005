// Run benchmark: N user records through the deactivate workflow against the sandbox in another
// process (limits off), concurrency 16, against bare undici sending the same N requests.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'bench', '.out', 'run');
const N = Number(process.env.BENCH_RUN_N ?? 10000);
const CONC = 16;

async function startSandbox() {
  const child = spawn(process.execPath, [join(root, 'bench', 'sandbox-child.mjs'), String(N)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (c) => reject(new Error(`sandbox exited ${c}`)));
  });
  return { url, stop: () => new Promise((r) => { child.once('exit', r); child.kill('SIGTERM'); }) };
}

function node(args, env = {}) {
  const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 1 << 26 });
  if (r.status !== 0 && r.status !== 1) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout.trim().split('\n').pop();
}

export async function main() {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const csv = ['username,email,status,qualys_login,qualys_status'];
  for (let i = 0; i < N; i++) csv.push(`user${i},bench${i}@corp.test,Leaver,bench${String(i).padStart(5, '0')},Active`);
  writeFileSync(join(out, 'users.csv'), csv.join('\n') + '\n');

  let sb = await startSandbox();
  const base = JSON.parse(node([join(root, 'bench', 'baseline-undici.mjs'), sb.url, String(N), String(CONC)]));
  await sb.stop();

  sb = await startSandbox();
  const state = join(out, 'state.db');
  node([join(root, 'bin', 'skein.js'), 'records', 'import', join(out, 'users.csv'), '--state', state]);
  const ours = JSON.parse(node([join(root, 'bench', 'skein-child.mjs'), 'run', 'qualys-deactivate-leavers', '--all', '--concurrency', String(CONC), '--state', state, '--var', `qualys_api_url=${sb.url}`], { QUALYS_USERNAME: 'sandbox_mgr', QUALYS_PASSWORD: 'sandbox-password' }));
  await sb.stop();
  // The run's own span from its history (run created after the records were listed, to run
  // finished): the rate of the work itself, without the CLI's start-up and project load, which
  // the baseline's timing does not include either.
  const db = new Database(state, { readonly: true });
  const run = db.prepare('SELECT started_at, finished_at FROM runs ORDER BY rowid DESC LIMIT 1').get();
  db.close();
  const runMs = Date.parse(run.finished_at) - Date.parse(run.started_at);

  const baseRate = (N / base.ms) * 1000;
  const ourRate = (N / ours.ms) * 1000;
  console.log(`run: ${N} records through qualys-deactivate-leavers, sandbox in another process, limits off, concurrency ${CONC}`);
  console.log(`  baseline (bare undici, same requests): ${baseRate.toFixed(0)} req/s (${base.ok} ok), peak RSS ${(base.maxRssKb / 1024).toFixed(0)} MB`);
  console.log(`  skein run (rules, templates, XML, store, history): ${ourRate.toFixed(0)} steps/s (exit ${ours.code}), peak RSS ${(ours.maxRssKb / 1024).toFixed(0)} MB (target < 250 MB)`);
  console.log(`  ratio skein / baseline: ${(ourRate / baseRate).toFixed(2)}x (target >= 0.6x), end to end: CLI start-up, project load and record listing included`);
  console.log(`  skein run phase only (run history started_at to finished_at, ${runMs} ms): ${((N / runMs) * 1000).toFixed(0)} steps/s, ${((N / runMs) * 1000 / baseRate).toFixed(2)}x; start-up and listing took ${(ours.ms - runMs).toFixed(0)} ms`);
}
