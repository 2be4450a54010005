// The daemon as a child process on a real SQLite file with its in-process sandbox: API, record
// changes from another process, seconds-level schedules, tokens, and graceful SIGTERM.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const bin = join(root, 'bin', 'skein.js');
let dir: string;
let child: ChildProcess | undefined;
let logs: string[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'skein-daemon-'));
  cpSync(join(root, 'workflows'), join(dir, 'workflows'), { recursive: true });
  logs = [];
});
afterEach(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGKILL');
    await new Promise((r) => child!.once('exit', r));
  }
  child = undefined;
  rmSync(dir, { recursive: true, force: true });
});

async function startDaemon(extraArgs: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<string> {
  child = spawn(process.execPath, [bin, 'daemon', '--sandbox', '--listen', '127.0.0.1:0', '--state', join(dir, 's.db'), ...extraArgs], { cwd: dir, env: { ...process.env, ...env } });
  createInterface({ input: child.stdout! }).on('line', (l) => logs.push(l));
  return new Promise((resolve, reject) => {
    let err = '';
    child!.stderr!.on('data', (d) => {
      err += String(d);
      const m = /listening on (http:\/\/\S+)/.exec(err);
      if (m) resolve(m[1]!);
    });
    child!.once('exit', (code) => reject(new Error(`daemon exited ${code}: ${err}`)));
  });
}

const JSON_TYPE = { 'content-type': 'application/json' };
const exitOf = (c: ChildProcess) => new Promise<number | null>((r) => (c.exitCode !== null ? r(c.exitCode) : c.once('exit', (code) => r(code))));
const cli = (...args: string[]) => promisify(execFile)(process.execPath, [bin, ...args, '--state', join(dir, 's.db')], { cwd: dir });

async function waitFor<T>(fn: () => Promise<T | undefined>, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('skein daemon', () => {
  it('serves the API, runs workflows for records changed by another process, and drains on SIGTERM', async () => {
    writeFileSync(join(dir, 'workflows', 'broken.yaml'), 'version: 1\nname: broken\nobject: users\ntrigger: { on: [manual] }\nsteps: [{ id: s, preset: qualys.nope, credentials: qualys }]\n');
    const url = await startDaemon();
    expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ status: 'ok' });
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    const workflows = (await (await fetch(`${url}/api/workflows`)).json()) as Array<{ name: string; valid: boolean; next_fire: string | null; diagnostics: Array<{ code: string }> }>;
    expect(workflows.find((w) => w.name === 'broken')).toMatchObject({ valid: false, diagnostics: [{ code: 'unknown-preset' }] });
    expect(workflows.find((w) => w.name === 'qualys-deactivate-leavers')!.next_fire).toMatch(/^\d{4}-/);

    // Another process imports people: the create-user workflow runs for the created events.
    const t0 = Date.now();
    await cli('records', 'set', 'ada', 'email=ada@corp.test', 'first_name=Ada', 'last_name=Lovelace', 'title=Engineer', 'phone=1', 'address1=1 Main St', 'city=Berlin', 'country=Germany', 'status=Active');
    const run = await waitFor(async () => {
      const runs = (await (await fetch(`${url}/api/runs?workflow=qualys-create-user`)).json()) as Array<{ id: string; status: string }>;
      return runs[0] && runs[0].status !== 'running' ? runs[0] : undefined;
    }, 5000);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(run.status).toBe('succeeded');
    const rec = (await (await fetch(`${url}/api/records/users/ada`)).json()) as Record<string, string>;
    expect(rec.qualys_login).toMatch(/^quays/);
    expect(rec.qualys_password).toBe('********');

    // Metrics in Prometheus text. A run is counted once its pass over the pending events returns,
    // a moment after its row says finished.
    const runsLine = /skein_runs_total\{workflow="qualys-create-user",trigger="event",status="succeeded"\} 1/;
    const metrics = await waitFor(async () => {
      const text = await (await fetch(`${url}/metrics`)).text();
      return runsLine.test(text) ? text : undefined;
    }, 2000);
    expect(metrics).toMatch(/skein_steps_total\{workflow="qualys-create-user",step="create",status="succeeded"\} 1/);
    expect(metrics).toMatch(/skein_step_duration_seconds_count\{workflow="qualys-create-user",step="create"\} 1/);
    expect(metrics).toMatch(/skein_workflows\{state="invalid"\} 1/);
    expect(metrics).toMatch(/skein_rate_limit_wait_seconds_total\{key="qualys:user.php"\}/);

    // The manual trigger and record writes through the API.
    const put = await fetch(`${url}/api/records/users/bob`, { method: 'PUT', headers: JSON_TYPE, body: JSON.stringify({ email: 'bob@corp.test', status: 'Inactive' }) });
    expect(put.status).toBe(201);
    const bad = await fetch(`${url}/api/records/users/bob`, { method: 'PATCH', headers: JSON_TYPE, body: '{not json' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: 'invalid-json' } });
    const manual = await fetch(`${url}/api/workflows/qualys-create-user/run`, { method: 'POST', headers: JSON_TYPE, body: JSON.stringify({ records: ['ada'] }) });
    expect(await manual.json()).toMatchObject({ workflow: 'qualys-create-user', matched: 0 });
    expect((await fetch(`${url}/api/workflows/nope/run`, { method: 'POST' })).status).toBe(404);

    child!.kill('SIGTERM');
    expect(await exitOf(child!)).toBe(0);
    const all = logs.join('\n');
    expect(all).toContain('"msg":"daemon stopped"');
    expect(all).not.toContain('sandbox-password');
    for (const l of logs) expect(() => JSON.parse(l)).not.toThrow();
  });

  it('refuses cross-site and non-JSON writes, disabled workflows, bad queries and empty PUTs; a repeated key runs once', async () => {
    const wf = join(dir, 'workflows', 'qualys-activate-returning.yaml');
    writeFileSync(wf, readFileSync(wf, 'utf8').replace('enabled: true', 'enabled: false'));
    const url = await startDaemon();
    const post = (path: string, init: RequestInit) => fetch(`${url}${path}`, { method: 'POST', ...init });
    const expectError = async (res: Response, status: number, code: string) => {
      expect(res.status, code).toBe(status);
      expect(await res.json()).toMatchObject({ error: { code } });
    };
    // A page of another origin (browsers send Origin), and bodies a browser may send cross-site.
    await expectError(await post('/api/workflows/qualys-import-users/run', { headers: { origin: 'http://evil.example', ...JSON_TYPE }, body: '{}' }), 403, 'cross-origin');
    await expectError(await post('/api/workflows/qualys-import-users/run', { headers: { 'content-type': 'text/plain' }, body: '{}' }), 415, 'unsupported-media-type');
    await expectError(await fetch(`${url}/api/records/users/zed`, { method: 'PUT', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'email=x' }), 415, 'unsupported-media-type');
    expect((await fetch(`${url}/api/runs`)).status).toBe(200);
    // A disabled workflow is refused, as by the CLI.
    await expectError(await post('/api/workflows/qualys-activate-returning/run', { headers: JSON_TYPE, body: '{}' }), 409, 'workflow-disabled');
    // Client mistakes are 4xx, not 500.
    for (const q of ['abc', '1.5', '0', '100000000000000000000']) await expectError(await fetch(`${url}/api/runs?limit=${q}`), 400, 'invalid-query');
    await expectError(await fetch(`${url}/api/runs?status=bogus`), 400, 'invalid-query');
    await expectError(await fetch(`${url}/api/runs/%ZZ`), 400, 'invalid-path');
    await expectError(await fetch(`${url}/api/records/users/%ZZ`, { method: 'PUT', headers: JSON_TYPE, body: '{}' }), 400, 'invalid-path');
    // An empty PUT would clear every field: refused, and the record is unchanged.
    expect((await fetch(`${url}/api/records/users/zed`, { method: 'PUT', headers: JSON_TYPE, body: JSON.stringify({ email: 'zed@corp.test', status: 'Leaver' }) })).status).toBe(201);
    await expectError(await fetch(`${url}/api/records/users/zed`, { method: 'PUT' }), 400, 'invalid-body');
    expect(await (await fetch(`${url}/api/records/users/zed`)).json()).toMatchObject({ email: 'zed@corp.test', status: 'Leaver' });
    // A key named three times is one record of the run.
    const run = await post('/api/workflows/qualys-deactivate-leavers/run', { headers: JSON_TYPE, body: JSON.stringify({ records: ['zed', 'zed', 'zed'] }) });
    expect(await run.json()).toMatchObject({ considered: 1 });
    child!.kill('SIGTERM');
    expect(await exitOf(child!)).toBe(0);
  });

  it('shows a broken skein.yaml in /api/workflows, and watches a workflow directory put back in place', async () => {
    const url = await startDaemon();
    const get = async () => (await (await fetch(`${url}/api/workflows`)).json()) as Array<{ name: string | null; file: string; valid: boolean; diagnostics: Array<{ code: string }> }>;
    const config = join(dir, 'workflows', 'skein.yaml');
    const good = readFileSync(config, 'utf8');
    writeFileSync(config, good.replace('version: 1', 'version: 7'));
    const entry = await waitFor(async () => (await get()).find((w) => w.file.endsWith('skein.yaml') && !w.valid), 5000);
    expect(entry.diagnostics.map((d) => d.code)).toContain('schema-version');
    // The workflows keep their own findings, not knock-on errors of the broken skein.yaml.
    for (const w of (await get()).filter((x) => x.name !== null)) expect(w.diagnostics, w.name!).toEqual([]);
    writeFileSync(config, good);
    await waitFor(async () => ((await get()).some((w) => w.file.endsWith('skein.yaml')) ? undefined : true), 5000);
    // A deploy that moves the directory away and puts it back: later edits are still picked up.
    renameSync(join(dir, 'workflows'), join(dir, 'workflows.old'));
    await new Promise((r) => setTimeout(r, 500));
    renameSync(join(dir, 'workflows.old'), join(dir, 'workflows'));
    await new Promise((r) => setTimeout(r, 2500));
    writeFileSync(join(dir, 'workflows', 'later.yaml'), 'version: 1\nname: later\nobject: users\ntrigger: { on: [manual] }\nsteps: [{ id: s, preset: qualys.activate_user, credentials: qualys, params: { login: "{{qualys_login}}" } }]\n');
    await waitFor(async () => ((await get()).some((w) => w.name === 'later' && w.valid) ? true : undefined), 8000);
    child!.kill('SIGTERM');
    expect(await exitOf(child!)).toBe(0);
  });

  it('fires a seconds-level schedule', async () => {
    writeFileSync(
      join(dir, 'workflows', 'every-second.yaml'),
      'version: 1\nname: every-second\nobject: users\ntrigger: { on: [schedule], schedule: "* * * * * *" }\nrules: { field: username, equals: nobody }\nsteps: [{ id: s, preset: qualys.activate_user, credentials: qualys, params: { login: "{{qualys_login}}" } }]\n',
    );
    await startDaemon();
    await new Promise((r) => setTimeout(r, 2600));
    const fires = logs.filter((l) => l.includes('"msg":"schedule fired"') && l.includes('every-second'));
    expect(fires.length).toBeGreaterThanOrEqual(2);
    for (const l of fires) expect(JSON.parse(l).lateness_ms).toBeLessThan(500);
    child!.kill('SIGTERM');
    expect(await exitOf(child!)).toBe(0);
  });

  it('needs the bearer token when SKEIN_API_TOKEN is set, and refuses a public address without one', async () => {
    const url = await startDaemon([], { SKEIN_API_TOKEN: 'test-token-123' });
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    // Probes carry no token: readiness answers without one; metrics and the API do not.
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    expect((await fetch(`${url}/metrics`)).status).toBe(401);
    expect((await fetch(`${url}/api/workflows`)).status).toBe(401);
    expect((await fetch(`${url}/api/workflows`, { headers: { authorization: 'Bearer test-token-123' } })).status).toBe(200);
    // With a token the Origin is not checked (a proxy in front may present another host).
    expect((await fetch(`${url}/api/workflows`, { headers: { authorization: 'Bearer test-token-123', origin: 'https://skein.corp.example' } })).status).toBe(200);
    child!.kill('SIGTERM');
    await exitOf(child!);
    const r = await promisify(execFile)(process.execPath, [bin, 'daemon', '--listen', '0.0.0.0:0', '--state', join(dir, 's.db')], { cwd: dir, env: { ...process.env, SKEIN_API_TOKEN: '' } }).catch((e) => e);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/refusing to listen on 0\.0\.0\.0 without SKEIN_API_TOKEN; .*\[api-token-required\]/);
  });

  it('hot reload: a broken change keeps the last good version, a new broken file is not loaded, a deleted file stops', async () => {
    const url = await startDaemon();
    const get = async () => (await (await fetch(`${url}/api/workflows`)).json()) as Array<{ name: string | null; file: string; valid: boolean; running_last_good: boolean; trigger: { on: string[] } | null }>;
    const file = join(dir, 'workflows', 'qualys-edit-user.yaml');
    // A valid change takes effect.
    writeFileSync(join(dir, 'workflows', 'extra.yaml'), 'version: 1\nname: extra\nobject: users\ntrigger: { on: [manual] }\nsteps: [{ id: s, preset: qualys.activate_user, credentials: qualys, params: { login: "{{qualys_login}}" } }]\n');
    await waitFor(async () => ((await get()).some((w) => w.name === 'extra' && w.valid) ? true : undefined), 5000);
    // The same file broken: the last good version keeps running.
    writeFileSync(join(dir, 'workflows', 'extra.yaml'), 'version: 1\nname: extra\nobject: users\ntrigger: { on: [manual] }\nsteps: [{ id: s, preset: qualys.nope, credentials: qualys }]\n');
    const kept = await waitFor(async () => (await get()).find((w) => w.name === 'extra' && w.running_last_good), 5000);
    expect(kept.valid).toBe(true);
    expect((await fetch(`${url}/api/workflows/extra/run`, { method: 'POST', headers: JSON_TYPE, body: '{}' })).status).toBe(200);
    // A new broken file is not loaded; a deleted file stops its workflow (SIGHUP reloads too).
    writeFileSync(join(dir, 'workflows', 'new-broken.yaml'), 'version: 1\nname: new-broken\nobject: nope\ntrigger: { on: [manual] }\nsteps: [{ id: s, preset: qualys.activate_user, credentials: qualys, params: { login: x } }]\n');
    rmSync(file);
    child!.kill('SIGHUP');
    await waitFor(async () => {
      const list = await get();
      return !list.some((w) => w.name === 'qualys-edit-user') && list.some((w) => w.file.endsWith('new-broken.yaml') && !w.valid) ? true : undefined;
    }, 5000);
    expect((await fetch(`${url}/api/workflows/new-broken/run`, { method: 'POST', headers: JSON_TYPE, body: '{}' })).status).toBe(404);
    expect((await fetch(`${url}/api/workflows/qualys-edit-user/run`, { method: 'POST', headers: JSON_TYPE, body: '{}' })).status).toBe(404);
    expect(logs.join('\n')).toContain('last good version keeps running');
    // Another reload: the still-broken file is not logged again.
    const reloads = () => logs.filter((l) => l.includes('"msg":"workflows reloaded"')).length;
    const before = reloads();
    child!.kill('SIGHUP');
    await waitFor(async () => (reloads() > before ? true : undefined), 5000);
    expect(logs.filter((l) => l.includes('new-broken.yaml') && l.includes('workflow not loaded'))).toHaveLength(1);
    child!.kill('SIGTERM');
    expect(await exitOf(child!)).toBe(0);
  });

  it('hot reload sees files replaced by rename (git pull, sed -i), again and again, and fields added to skein.yaml', async () => {
    const url = await startDaemon();
    const get = async () => (await (await fetch(`${url}/api/workflows`)).json()) as Array<{ name: string | null; next_fire: string | null; trigger: { schedule?: string } | null }>;
    const file = join(dir, 'workflows', 'yearly.yaml');
    // As git and sed -i write: a new file renamed over the old one.
    const replace = (path: string, text: string) => {
      writeFileSync(`${path}.tmp`, text);
      renameSync(`${path}.tmp`, path);
    };
    const yearly = (day: number) => `version: 1\nname: yearly\nobject: users\ntrigger: { on: [schedule], schedule: "0 0 ${day} 1 *" }\nrules: { field: username, equals: nobody }\nsteps: [{ id: s, preset: qualys.list_users, credentials: qualys }]\n`;
    replace(file, yearly(1));
    for (const day of [2, 3, 4]) {
      replace(file, yearly(day));
      await waitFor(async () => ((await get()).find((w) => w.name === 'yearly')?.trigger?.schedule === `0 0 ${day} 1 *` ? true : undefined), 6000);
    }
    rmSync(file);
    await waitFor(async () => ((await get()).some((w) => w.name === 'yearly') ? undefined : true), 6000);
    // A field added to skein.yaml is writable at once by the workflow that maps it.
    const config = join(dir, 'workflows', 'skein.yaml');
    replace(config, readFileSync(config, 'utf8').replace('      qualys_error: {', '      review_note: { type: string }\n      qualys_error: {'));
    replace(join(dir, 'workflows', 'note.yaml'), 'version: 1\nname: note\nobject: users\ntrigger: { on: [manual] }\nsteps: [{ id: s, preset: qualys.list_users, credentials: qualys, response: { review_note: seen } }]\n');
    await waitFor(async () => ((await get()).some((w) => w.name === 'note') ? true : undefined), 6000);
    await cli('records', 'set', 'u1', 'email=u1@corp.test');
    const run = await fetch(`${url}/api/workflows/note/run`, { method: 'POST', headers: JSON_TYPE, body: JSON.stringify({ records: ['u1'] }) });
    expect(run.status).toBe(200);
    expect(((await run.json()) as { status: string }).status).toBe('succeeded');
    expect(((await (await fetch(`${url}/api/records/users/u1`)).json()) as Record<string, string>).review_note).toBe('seen');
    child!.kill('SIGTERM');
    expect(await exitOf(child!)).toBe(0);
  });
});
