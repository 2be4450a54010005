// Daemon lifecycle as child processes: SIGTERM lets an in-flight step finish; missed schedule
// ticks are caught up after a restart according to the workflow's policy.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const bin = join(root, 'bin', 'skein.js');
const env = { ...process.env, QUALYS_USERNAME: 'sandbox_mgr', QUALYS_PASSWORD: 'sandbox-password' };
let dir: string;
const children: ChildProcess[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'skein-life-'));
  cpSync(join(root, 'workflows', 'skein.yaml'), join(dir, 'workflows', 'skein.yaml'));
});
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function lineMatching(child: ChildProcess, stream: 'stdout' | 'stderr', re: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    createInterface({ input: child[stream]! }).on('line', (l) => {
      const m = re.exec(l);
      if (m) resolve(m[1] ?? l);
    });
    child.once('exit', (c) => reject(new Error(`exited ${c} before ${re}`)));
  });
}

function spawnSkein(args: string[]): ChildProcess {
  const c = spawn(process.execPath, [bin, ...args], { cwd: dir, env });
  children.push(c);
  return c;
}

const exitCode = (c: ChildProcess) => new Promise<number | null>((r) => (c.exitCode !== null ? r(c.exitCode) : c.once('exit', (code) => r(code))));

describe('daemon lifecycle', () => {
  it('SIGTERM waits for the in-flight step, persists it, and exits 0', async () => {
    const sandbox = spawnSkein(['sandbox', 'qualys', '--port', '0', '--latency', '1500']);
    const sandboxUrl = await lineMatching(sandbox, 'stdout', /(http:\/\/127\.0\.0\.1:\d+)/);
    cpSync(join(root, 'workflows', 'qualys-create-user.yaml'), join(dir, 'workflows', 'qualys-create-user.yaml'));
    await promisify(execFile)(process.execPath, [bin, 'records', 'set', 'ada', 'email=ada@corp.test', 'first_name=Ada', 'last_name=L', 'title=T', 'phone=1', 'address1=A', 'city=Berlin', 'country=Germany', 'status=Active', '--state', 's.db'], { cwd: dir });
    const daemon = spawnSkein(['daemon', '--listen', '127.0.0.1:0', '--state', 's.db', '--var', `qualys_api_url=${sandboxUrl}`, '--poll', '50ms']);
    const logs: string[] = [];
    createInterface({ input: daemon.stdout! }).on('line', (l) => logs.push(l));
    await lineMatching(daemon, 'stderr', /listening on (\S+)/);
    // The created event starts the create call, which the sandbox answers after 1.5 s.
    await new Promise((r) => setTimeout(r, 500));
    daemon.kill('SIGTERM');
    expect(await exitCode(daemon)).toBe(0);
    const all = logs.join('\n');
    expect(all).toContain('shutting down: finishing in-flight steps');
    expect(all).toMatch(/"clean":true/);
    const { stdout } = await promisify(execFile)(process.execPath, [bin, 'records', 'get', 'ada', '--format', 'json', '--state', 's.db'], { cwd: dir });
    expect(JSON.parse(stdout).qualys_login).toMatch(/^quays/);
    const users = (await (await fetch(`${sandboxUrl}/__sandbox/users`)).json()) as Array<{ email: string }>;
    expect(users.filter((u) => u.email === 'ada@corp.test')).toHaveLength(1);
  });

  it('past --shutdown-timeout it cuts the in-flight call off and exits 1', async () => {
    const sandbox = spawnSkein(['sandbox', 'qualys', '--port', '0', '--latency', '20000']);
    const sandboxUrl = await lineMatching(sandbox, 'stdout', /(http:\/\/127\.0\.0\.1:\d+)/);
    cpSync(join(root, 'workflows', 'qualys-create-user.yaml'), join(dir, 'workflows', 'qualys-create-user.yaml'));
    await promisify(execFile)(process.execPath, [bin, 'records', 'set', 'ada', 'email=ada@corp.test', 'first_name=Ada', 'last_name=L', 'title=T', 'phone=1', 'address1=A', 'city=Berlin', 'country=Germany', 'status=Active', '--state', 's.db'], { cwd: dir });
    const daemon = spawnSkein(['daemon', '--listen', '127.0.0.1:0', '--state', 's.db', '--var', `qualys_api_url=${sandboxUrl}`, '--poll', '50ms', '--shutdown-timeout', '1s']);
    const logs: string[] = [];
    createInterface({ input: daemon.stdout! }).on('line', (l) => logs.push(l));
    await lineMatching(daemon, 'stderr', /listening on (\S+)/);
    await new Promise((r) => setTimeout(r, 500));
    const t0 = Date.now();
    daemon.kill('SIGTERM');
    expect(await exitCode(daemon)).toBe(1);
    // The sandbox would answer after 20 s: the daemon did not wait for it.
    expect(Date.now() - t0).toBeLessThan(8000);
    expect(logs.join('\n')).toMatch(/"clean":false/);
  });

  it('exits 1 at once, with one line, when its --listen address is taken', async () => {
    const blocker = spawnSkein(['sandbox', 'qualys', '--port', '0']);
    const taken = await lineMatching(blocker, 'stdout', /http:\/\/(127\.0\.0\.1:\d+)/);
    const t0 = Date.now();
    const daemon = spawnSkein(['daemon', '--sandbox', '--listen', taken, '--state', 's.db']);
    let err = '';
    daemon.stderr!.on('data', (d) => (err += String(d)));
    expect(await exitCode(daemon)).toBe(1);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(err).toMatch(/^skein daemon: cannot listen on 127\.0\.0\.1:\d+ \(EADDRINUSE\); choose another --listen \[daemon-listen\]\n$/);
  });

  it('a SIGHUP while it starts (a deploy hook) reloads once it is up, instead of killing it', async () => {
    const daemon = spawnSkein(['daemon', '--sandbox', '--listen', '127.0.0.1:0', '--state', 's.db']);
    const logs: string[] = [];
    createInterface({ input: daemon.stdout! }).on('line', (l) => {
      logs.push(l);
      // Logged before the daemon opens its store and starts its schedules.
      if (l.includes('Qualys sandbox started in-process')) daemon.kill('SIGHUP');
    });
    await lineMatching(daemon, 'stderr', /listening on (http:\/\/\S+)/);
    await new Promise((r) => setTimeout(r, 300));
    expect(logs.some((l) => l.includes('"msg":"workflows reloaded"') && l.includes('"reason":"SIGHUP"'))).toBe(true);
    daemon.kill('SIGTERM');
    expect(await exitCode(daemon)).toBe(0);
  });

  it('catches up missed ticks after a restart: all of them, from the stored last fire time', async () => {
    writeFileSync(
      join(dir, 'workflows', 'minutely.yaml'),
      'version: 1\nname: minutely\nobject: users\ntrigger: { on: [schedule], schedule: "* * * * *", catch_up: all, catch_up_window: 10m }\nrules: { field: username, equals: nobody }\nsteps: [{ id: s, preset: qualys.activate_user, credentials: qualys, params: { login: "{{qualys_login}}" } }]\n',
    );
    const first = spawnSkein(['daemon', '--sandbox', '--listen', '127.0.0.1:0', '--state', 's.db']);
    await lineMatching(first, 'stderr', /listening on (\S+)/);
    first.kill('SIGTERM');
    expect(await exitCode(first)).toBe(0);
    // Pretend the daemon was down for 4 minutes: move the stored last fire time back.
    const db = new Database(join(dir, 's.db'));
    const last = new Date(Date.now() - 4 * 60_000 - 5_000);
    db.prepare('UPDATE kv SET value = ? WHERE key = ?').run(last.toISOString(), 'schedule:minutely:last');
    db.close();
    const second = spawnSkein(['daemon', '--sandbox', '--listen', '127.0.0.1:0', '--state', 's.db']);
    const logs: string[] = [];
    createInterface({ input: second.stdout! }).on('line', (l) => logs.push(l));
    await lineMatching(second, 'stderr', /listening on (\S+)/);
    await new Promise((r) => setTimeout(r, 800));
    second.kill('SIGTERM');
    expect(await exitCode(second)).toBe(0);
    const fires = logs.filter((l) => l.includes('"msg":"schedule fired"') && l.includes('"catch_up":true'));
    expect(fires.length).toBeGreaterThanOrEqual(4);
    expect(fires.length).toBeLessThanOrEqual(5);
  });

  it('a second SIGTERM exits at once, and the next start finishes the work without duplicates', async () => {
    const sandbox = spawnSkein(['sandbox', 'qualys', '--port', '0', '--latency', '3000']);
    const sandboxUrl = await lineMatching(sandbox, 'stdout', /(http:\/\/127\.0\.0\.1:\d+)/);
    cpSync(join(root, 'workflows', 'qualys-create-user.yaml'), join(dir, 'workflows', 'qualys-create-user.yaml'));
    await promisify(execFile)(process.execPath, [bin, 'records', 'set', 'bo', 'email=bo@corp.test', 'first_name=Bo', 'last_name=B', 'title=T', 'phone=1', 'address1=A', 'city=Berlin', 'country=Germany', 'status=Active', '--state', 's.db'], { cwd: dir });
    const args = ['daemon', '--listen', '127.0.0.1:0', '--state', 's.db', '--var', `qualys_api_url=${sandboxUrl}`, '--poll', '50ms'];
    const first = spawnSkein(args);
    await lineMatching(first, 'stderr', /listening on (\S+)/);
    await new Promise((r) => setTimeout(r, 500));
    const t0 = Date.now();
    first.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    first.kill('SIGTERM');
    expect(await exitCode(first)).toBe(1);
    expect(Date.now() - t0).toBeLessThan(2000);
    // The create may or may not have reached the sandbox; the restart reconciles instead of re-sending.
    await new Promise((r) => setTimeout(r, 3000));
    const second = spawnSkein(args);
    await lineMatching(second, 'stderr', /listening on (\S+)/);
    const deadline = Date.now() + 20_000;
    let login = '';
    while (!login && Date.now() < deadline) {
      const { stdout } = await promisify(execFile)(process.execPath, [bin, 'records', 'get', 'bo', '--format', 'json', '--state', 's.db'], { cwd: dir });
      login = JSON.parse(stdout).qualys_login ?? '';
      if (!login) await new Promise((r) => setTimeout(r, 300));
    }
    second.kill('SIGTERM');
    expect(await exitCode(second)).toBe(0);
    expect(login).toMatch(/^quays/);
    const users = (await (await fetch(`${sandboxUrl}/__sandbox/users`)).json()) as Array<{ email: string }>;
    expect(users.filter((u) => u.email === 'bo@corp.test')).toHaveLength(1);
  }, 60_000);
  it('adopting a dead runner\'s runs: a scheduled run resumes only its unfinished records; a manual run is only closed', async () => {
    const sandbox = spawnSkein(['sandbox', 'qualys', '--port', '0', '--users', '10']);
    const sandboxUrl = await lineMatching(sandbox, 'stdout', /(http:\/\/127\.0\.0\.1:\d+)/);
    writeFileSync(join(dir, 'workflows', 'yearly.yaml'), [
      'version: 1', 'name: yearly', 'object: users', 'trigger:', '  on: [schedule, manual]', '  schedule: "0 0 1 1 *"',
      'rules: { field: qualys_login, is_not_empty: true }',
      'steps:', '  - id: deactivate', '    preset: qualys.deactivate_user', '    credentials: qualys', '    params: { login: "{{qualys_login}}" }',
    ].join('\n') + '\n');
    const users = (await (await fetch(`${sandboxUrl}/__sandbox/users`)).json()) as Array<{ login: string; status: string }>;
    const logins = users.filter((u) => u.status === 'Active' && !u.login.startsWith('sandbox_')).map((u) => u.login).slice(0, 3);
    expect(logins).toHaveLength(3);
    for (const [i, login] of logins.entries()) {
      await promisify(execFile)(process.execPath, [bin, 'records', 'set', `u${i}`, `qualys_login=${login}`, '--state', 's.db'], { cwd: dir });
    }
    // Two runs left running by runners that are gone: a scheduled one over u0 and u1 that
    // finished u0 only, and a manual one over u2.
    const { openStore } = await import('../../src/store/index.js');
    const { buildObjectDefs } = await import('../../src/workflow/objects.js');
    const store = await openStore(join(dir, 's.db'), buildObjectDefs({ users: { fields: { qualys_login: { type: 'string' } } } }));
    const scheduled = await store.createRun({ workflow: 'yearly', trigger: 'schedule', trigger_data: { keys: ['u0', 'u1'] }, runner: 'gone-1' });
    await store.commit([
      { op: 'startRunRecord', runId: scheduled, object: 'users', key: 'u0' },
      { op: 'finishRunRecord', runId: scheduled, key: 'u0', status: 'succeeded' },
      { op: 'startRunRecord', runId: scheduled, object: 'users', key: 'u1' },
    ]);
    const manual = await store.createRun({ workflow: 'yearly', trigger: 'manual', trigger_data: { keys: ['u2'] }, runner: 'gone-2' });
    await store.commit([{ op: 'startRunRecord', runId: manual, object: 'users', key: 'u2' }]);
    await store.close();
    const daemon = spawnSkein(['daemon', '--listen', '127.0.0.1:0', '--state', 's.db', '--var', `qualys_api_url=${sandboxUrl}`, '--poll', '50ms']);
    const logs: string[] = [];
    createInterface({ input: daemon.stdout! }).on('line', (l) => logs.push(l));
    await lineMatching(daemon, 'stderr', /listening on (\S+)/);
    const deadline = Date.now() + 20_000;
    while (!logs.some((l) => l.includes('"run finished"') || l.includes('scheduled run finished') || l.includes('"resuming an interrupted run over its unfinished records"')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 1500));
    daemon.kill('SIGTERM');
    await exitCode(daemon);
    const all = logs.join('\n');
    expect(all).toMatch(/"records":1,.*"resuming an interrupted run over its unfinished records"|"resuming an interrupted run over its unfinished records".*"records":1/);
    expect(all).toContain('a run started by a person was interrupted and is not resumed');
    const after = (await (await fetch(`${sandboxUrl}/__sandbox/users`)).json()) as Array<{ login: string; status: string }>;
    const status = (login: string) => after.find((u) => u.login === login)!.status;
    // Only u1 was deactivated: u0 had finished, u2's run was a person's.
    expect(logins.map(status)).toEqual(['Active', 'Inactive', 'Active']);
    sandbox.kill('SIGTERM');
  }, 60_000);
});
