// `npm run demo`: the main job end to end on the embedded default, with no credentials: starts the
// Qualys sandbox in-process, imports examples/users.csv into a fresh SQLite store, then runs the
// import workflow and each example workflow against the sandbox, printing every command it runs.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../dist/cli/main.js';
import { QualysSandbox } from '../dist/sandbox/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const stateDir = mkdtempSync(join(tmpdir(), 'skein-demo-'));
const state = join(stateDir, 'state.db');

// The Qualys side: the accounts some people already have (as in examples/users.csv), plus a few
// Qualys users HR does not know about, which the import will bring in.
const sandbox = new QualysSandbox({ seed: 2026, users: 3 });
const rows = readFileSync(join(root, 'examples', 'users.csv'), 'utf8').trim().split('\n').map((l) => l.split(','));
const head = rows.shift();
const col = (r, name) => r[head.indexOf(name)];
for (const r of rows) {
  const login = col(r, 'qualys_login');
  if (!login) continue;
  // kbecker left and was deactivated in Qualys; everyone else with a login is Active there.
  sandbox.addUser({
    login, role: 'scanner', business_unit: 'Unassigned', status: login === 'acme3kb' ? 'Inactive' : 'Active',
    first_name: col(r, 'first_name'), last_name: col(r, 'last_name'), title: col(r, 'title'), email: col(r, 'email'),
    phone: col(r, 'phone'), address1: col(r, 'address1'), city: col(r, 'city'), country: col(r, 'country'), state: col(r, 'state') || undefined,
  });
}
const { url } = await sandbox.start({ port: 0, host: '127.0.0.1' });
const [account] = sandbox.accounts;
const env = { ...process.env, QUALYS_USERNAME: account.username, QUALYS_PASSWORD: account.password };
const io = { stdout: process.stdout, stderr: process.stderr, env, cwd: root };
const common = ['--state', state, '--var', `qualys_api_url=${url}`];

let failures = 0;
async function skein(...args) {
  const shown = args.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ');
  console.log(`\n$ skein ${shown}`);
  const extra = ['run', 'runs', 'plan'].includes(args[0]) ? common : args[0] === 'records' ? ['--state', state] : [];
  const code = await main([...args, ...extra], io);
  if (code !== 0) {
    failures++;
    console.log(`(exit ${code})`);
  }
}

console.log(`Qualys sandbox at ${url} (API account ${account.username}); state store ${state}`);
try {
  await skein('validate', 'workflows');
  await skein('records', 'import', 'examples/users.csv');
  await skein('run', 'qualys-import-users');
  await skein('plan', 'qualys-deactivate-leavers');
  await skein('run', 'qualys-deactivate-leavers');
  await skein('run', 'qualys-create-user');
  await skein('records', 'set', 'kbecker', 'status=Active');
  await skein('records', 'set', 'rkumar', 'title=Principal Security Engineer');
  await skein('run', '--pending');
  await skein('run', 'qualys-change-password', '--record', 'jlee');
  await skein('records', 'get', 'jlee');
  await skein('runs', 'list');
  const users = sandbox.users();
  const by = (s) => users.filter((u) => u.status === s).length;
  console.log(`\nQualys now has ${users.length} users: ${by('Active')} Active, ${by('Inactive')} Inactive, ${by('Pending Activation')} Pending Activation.`);
  console.log(failures ? `\n${failures} command(s) reported failures (see above).` : '\nDemo finished: every command succeeded.');
} finally {
  await sandbox.stop();
  rmSync(stateDir, { recursive: true, force: true });
}
process.exitCode = failures ? 1 : 0;
