// Daemon benchmarks: schedule lateness with 1,000 workflows due in the same second (scheduler
// in-process, real store), idle RSS of a daemon with 1,000 workflows loaded, and reload time.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { Scheduler } from '../dist/daemon/scheduler.js';
import { createLogger } from '../dist/daemon/logger.js';
import { openStore } from '../dist/store/index.js';
import { buildObjectDefs } from '../dist/workflow/objects.js';
import { percentile } from './util.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'bench', '.out', 'daemon');
const N = 1000;

async function schedulerLateness() {
  const store = await openStore(join(out, 'sched.db'), buildObjectDefs(undefined));
  const quiet = createLogger({ level: 'error', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
  const late = [];
  const scheduler = new Scheduler({ store, log: quiet, fire: async (t) => void late.push(t.latenessMs) });
  const workflows = Array.from({ length: N }, (_, i) => ({ version: 1, name: `wf-${i}`, object: 'users', trigger: { on: ['schedule'], schedule: '* * * * * *' }, steps: [{ id: 's', preset: 'qualys.activate_user' }] }));
  await scheduler.plan(workflows);
  await new Promise((r) => setTimeout(r, 3500));
  await scheduler.stop();
  await store.close();
  return late;
}

function workflowFile(i) {
  return `version: 1\nname: wf-${i}\nobject: users\ntrigger:\n  on: [updated, schedule]\n  schedule: "${i % 60} ${i % 24} * * *"\nrules:\n  all:\n    - field: status\n      changed_to: Leaver\n    - field: qualys_login\n      is_not_empty: true\nsteps:\n  - id: deactivate\n    preset: qualys.deactivate_user\n    credentials: qualys\n    params: { login: "{{qualys_login}}" }\n    response: { qualys_status: Inactive }\n`;
}

async function idleAndReload() {
  const dir = join(out, 'proj');
  mkdirSync(join(dir, 'workflows'), { recursive: true });
  copyFileSync(join(root, 'workflows', 'skein.yaml'), join(dir, 'workflows', 'skein.yaml'));
  for (let i = 0; i < N; i++) writeFileSync(join(dir, 'workflows', `wf-${i}.yaml`), workflowFile(i));
  const child = spawn(process.execPath, [join(root, 'bin', 'skein.js'), 'daemon', '--listen', '127.0.0.1:0', '--state', join(dir, 's.db')], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = createInterface({ input: child.stdout });
  const t0 = performance.now();
  await new Promise((resolve) => child.stderr.on('data', (d) => String(d).includes('listening') && resolve()));
  const startMs = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 3000));
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))[1]);
  const reloads = [];
  for (let k = 0; k < 3; k++) {
    const t = performance.now();
    const done = new Promise((resolve) => lines.on('line', function on(l) {
      if (l.includes('workflows reloaded')) {
        lines.off('line', on);
        resolve();
      }
    }));
    child.kill('SIGHUP');
    await done;
    reloads.push(performance.now() - t);
  }
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  return { startMs, rssKb, reloads };
}

export async function main() {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const late = await schedulerLateness();
  console.log(`daemon: scheduler with ${N} workflows due every second for ~3 s (${late.length} fires)`);
  console.log(`  lateness p50 ${percentile(late, 50).toFixed(1)} ms, p99 ${percentile(late, 99).toFixed(1)} ms, max ${Math.max(...late).toFixed(1)} ms (target p99 < 50 ms)`);
  const r = await idleAndReload();
  console.log(`daemon: ${N} workflows loaded: start ${r.startMs.toFixed(0)} ms, idle RSS ${(r.rssKb / 1024).toFixed(0)} MB (target < 150 MB)`);
  console.log(`  reload of ${N} workflows (SIGHUP to reloaded): ${r.reloads.map((m) => m.toFixed(0) + ' ms').join(', ')} (target < 2 s)`);
}
