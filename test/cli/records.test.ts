// `skein records` through main(argv, io) with captured streams, plus one run of the real binary.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/store/sqlite/store.js';
import { buildObjectDefs } from '../../src/workflow/objects.js';
import { runCli } from '../helpers/cli.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURES = path.join(ROOT, 'test/fixtures/records');
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** A temp project dir: workflows/skein.yaml from the fixture, input files copied in. */
function project(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'skein-records-cli-'));
  dirs.push(dir);
  fs.mkdirSync(path.join(dir, 'workflows'));
  fs.copyFileSync(path.join(FIXTURES, 'project/skein.yaml'), path.join(dir, 'workflows/skein.yaml'));
  for (const f of ['users.csv', 'users.json', 'users.jsonl']) fs.copyFileSync(path.join(FIXTURES, f), path.join(dir, f));
  return dir;
}

let cwd: string;
const skein = (...argv: string[]) => runCli(argv, cwd);
beforeEach(() => {
  cwd = project();
});

async function events(file: string) {
  const store = await openSqliteStore(file, buildObjectDefs({ users: { fields: { qualys_login: { type: 'string' } } } }));
  try {
    return await store.readEvents({ limit: 1000 });
  } finally {
    await store.close();
  }
}

describe('skein records import', () => {
  it('imports a CSV, reports rejected rows as file:line and exits 1', async () => {
    const r = await skein('records', 'import', 'users.csv');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('users.csv -> users: 3 created, 0 updated, 0 unchanged, 6 rejected\n');
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(6);
    expect(lines[0]).toBe(
      'users.csv:3: users "bob": field "start_date" expects an ISO 8601 date or date-time (e.g. 2024-05-01 or 2024-05-01T09:30:00Z); got "2024/03/01" [rejected-row]',
    );
    expect(lines[1]).toBe('users.csv:5: missing key field "username" [rejected-row]');
    expect(lines[4]).toBe('users.csv:9: row has 3 columns; the header has 6 [rejected-row]');
    expect(fs.existsSync(path.join(cwd, '.skein/state.db'))).toBe(true);
  });

  it('run where there is no skein.yaml, says why custom fields are unknown once, not only per row', async () => {
    fs.rmSync(path.join(cwd, 'workflows/skein.yaml'));
    fs.writeFileSync(path.join(cwd, 'custom.csv'), 'username,qualys_login\na,acme_a\nb,acme_b\n');
    const r = await skein('records', 'import', 'custom.csv');
    expect(r.code).toBe(1);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines.filter((l) => l.includes('unknown field "qualys_login"'))).toHaveLength(2);
    expect(lines.at(-1)).toBe(`hint: there is no ${path.join('workflows', 'skein.yaml')}, so only the built-in users fields are known; run from the project folder or pass --dir`);
    // With the project's skein.yaml the same field is no mistake, and there is no hint.
    fs.copyFileSync(path.join(FIXTURES, 'project/skein.yaml'), path.join(cwd, 'workflows/skein.yaml'));
    const ok = await skein('records', 'import', 'custom.csv');
    expect([ok.code, ok.stderr]).toEqual([0, '']);
  });

  it('exits 0 when every row is good, and reports unchanged rows on re-import', async () => {
    fs.writeFileSync(path.join(cwd, 'ok.jsonl'), '{"username":"a","risk_score":3}\n{"username":"b","mfa_enabled":"yes"}\n');
    expect((await skein('records', 'import', 'ok.jsonl')).code).toBe(0);
    const again = await skein('records', 'import', 'ok.jsonl');
    expect(again).toEqual({ code: 0, stdout: 'ok.jsonl -> users: 0 created, 0 updated, 2 unchanged, 0 rejected\n', stderr: '' });
  });

  it('takes --format over the extension and honours --skip-empty', async () => {
    fs.writeFileSync(path.join(cwd, 'data.txt'), 'username,qualys_login\na,acme_a\n');
    expect((await skein('records', 'import', 'data.txt')).code).toBe(2);
    expect((await skein('records', 'import', 'data.txt', '--format', 'csv')).code).toBe(0);
    fs.writeFileSync(path.join(cwd, 'blank.csv'), 'username,qualys_login\na,\n');
    expect((await skein('records', 'import', 'blank.csv', '--skip-empty')).stdout).toContain('1 unchanged');
    expect((await skein('records', 'import', 'blank.csv')).stdout).toContain('1 updated');
  });

  it('says which file it cannot read (exit 2) and refuses a broken JSON file as a whole (exit 1)', async () => {
    const missing = await skein('records', 'import', 'nope.csv');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read nope.csv');
    fs.writeFileSync(path.join(cwd, 'bad.json'), '[\n{"username": "a"},\n{"username": }\n]');
    const bad = await skein('records', 'import', 'bad.json');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^skein records: bad\.json:3: invalid JSON: .*; nothing imported \[import-parse\]\n$/);
  });

  it('a --dir that does not exist (or is a file) is bad usage, not a silent fallback to the built-in fields', async () => {
    fs.writeFileSync(path.join(cwd, 'people.csv'), 'username,email\na,a@x\n');
    for (const dir of ['workflowz', 'people.csv']) {
      const r = await skein('records', 'import', 'people.csv', '--dir', dir);
      expect(r.code, dir).toBe(2);
      expect(r.stderr, dir).toMatch(new RegExp(`^skein records: --dir .*${dir.replace('.', '\\.')}: no such directory \\[unreadable-path\\]\n$`));
    }
    expect((await skein('records', 'list', '--format', 'json')).stdout.trim()).toBe('[]');
  });

  it('an empty --state (an unset shell variable) is bad usage, not the current folder', async () => {
    const r = await skein('records', 'list', '--state', '');
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toMatch(/^skein records: --state needs a file path or a postgres:\/\/ URL, not an empty value .*\[usage\]\n$/);
  });

  it('a state path whose directory cannot be made fails at once (Node 20 spins on a recursive mkdir under /proc)', async () => {
    const r = await skein('records', 'set', 'z', 'email=z@x', '--state', '/proc/skein-nope/state.db');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^skein records: cannot open state database \/proc\/skein-nope\/state\.db: .*\[store-open-failed\]\n$/);
  });

  it('refuses a file that is not UTF-8, pointing at the first bad byte, and writes nothing', async () => {
    fs.writeFileSync(path.join(cwd, 'latin1.csv'), Buffer.concat([Buffer.from('username,email\nok,ok@x\nlatin,Jos'), Buffer.from([0xe9]), Buffer.from('@x\n')]));
    const r = await skein('records', 'import', 'latin1.csv');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('skein records: latin1.csv:3:10: invalid UTF-8 byte 0xe9; save the file as UTF-8; nothing imported [file-encoding]\n');
    expect((await skein('records', 'list', '--format', 'json')).stdout.trim()).toBe('[]');
  });
});

describe('skein records list / get / set / delete', () => {
  beforeEach(async () => {
    fs.writeFileSync(
      path.join(cwd, 'seed.jsonl'),
      [
        '{"username":"alice","email":"alice@example.com","status":"Active","api_token":"s3cret"}',
        '{"username":"bob","email":"bob@example.com","status":"Leaver","risk_score":9}',
        '{"username":"carol","email":"carol@example.com","status":"Active"}',
      ].join('\n'),
    );
    expect((await skein('records', 'import', 'seed.jsonl')).code).toBe(0);
  });

  it('lists as a table, json and csv, with --where and sensitive values masked', async () => {
    const table = await skein('records', 'list');
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^username +email +status +risk_score +api_token$/);
    expect(table.stdout).toContain('********');
    expect(table.stdout).not.toContain('s3cret');
    const json = JSON.parse((await skein('records', 'list', '--where', 'status=Active', '--format', 'json')).stdout);
    expect(json.map((r: { username: string }) => r.username)).toEqual(['alice', 'carol']);
    expect(json[0].api_token).toBe('********');
    const csv = await skein('records', 'list', '--where', 'status=Active', '--where', 'email=carol@example.com', '--format', 'csv', '--reveal');
    expect(csv.stdout).toBe('username,email,status\ncarol,carol@example.com,Active\n');
    const limited = JSON.parse((await skein('records', 'list', '--limit', '1', '--format', 'json', '--reveal')).stdout);
    expect(limited).toEqual([{ username: 'alice', email: 'alice@example.com', status: 'Active', api_token: 's3cret' }]);
  });

  it('gets one record, exit 1 when the key is missing', async () => {
    const got = await skein('records', 'get', 'bob', '--format', 'json');
    expect(JSON.parse(got.stdout)).toEqual({ username: 'bob', email: 'bob@example.com', status: 'Leaver', risk_score: 9 });
    const table = await skein('records', 'get', 'alice');
    expect(table.stdout).toMatch(/^field +value\nusername +alice\n/);
    expect(table.stdout).toContain('api_token     ********');
    const none = await skein('records', 'get', 'zed');
    expect(none).toEqual({ code: 1, stdout: '', stderr: 'skein records: no users record with key "zed" [record-not-found]\n' });
  });

  it('sets several fields in one event, creating the record if missing', async () => {
    const state = path.join(cwd, '.skein/state.db');
    const before = (await events(state)).length;
    const set = await skein('records', 'set', 'alice', 'title=Lead Analyst', 'risk_score=4', 'status=');
    expect(set).toEqual({ code: 0, stdout: 'users "alice": updated (risk_score, status, title)\n', stderr: '' });
    const after = await events(state);
    expect(after.length).toBe(before + 1);
    expect(after.at(-1)).toMatchObject({ kind: 'updated', source: 'cli', changed: ['risk_score', 'status', 'title'] });
    expect((await skein('records', 'set', 'alice', 'risk_score=4')).stdout).toBe('users "alice": unchanged\n');
    expect((await skein('records', 'set', 'dave', 'email=dave@example.com')).stdout).toBe('users "dave": created (email, username)\n');
  });

  it('rejects bad values (exit 1) and bad usage (exit 2)', async () => {
    const bad = await skein('records', 'set', 'alice', 'risk_score=high', 'shoe=1');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('field "risk_score" expects a number; got "high"');
    expect(bad.stderr).toMatch(/unknown field "shoe" for object "users"; allowed: .*qualys_login.* \[invalid-field\]/);
    expect((await skein('records', 'set', 'alice')).code).toBe(2);
    expect((await skein('records', 'set', 'alice', 'novalue')).code).toBe(2);
    expect((await skein('records', 'list', '--bogus')).code).toBe(2);
    expect((await skein('records', 'list', '--format', 'xml')).code).toBe(2);
    expect((await skein('records', 'list', '--where', 'nope=1')).code).toBe(2);
    expect((await skein('records', 'get', 'a', '--object', 'planets')).stderr).toContain('unknown object "planets"; objects: devices, users');
    expect((await skein('records', 'frobnicate')).code).toBe(2);
    expect((await skein('records')).code).toBe(2);
  });

  it('deletes, then exits 1 for a key that is gone', async () => {
    expect(await skein('records', 'delete', 'carol')).toEqual({ code: 0, stdout: 'users "carol": deleted\n', stderr: '' });
    expect((await skein('records', 'delete', 'carol')).code).toBe(1);
    expect((await events(path.join(cwd, '.skein/state.db'))).at(-1)).toMatchObject({ kind: 'deleted', key: 'carol' });
  });

  it('works on other objects and other state files', async () => {
    const other = path.join(cwd, 'elsewhere/state.db');
    expect((await skein('records', 'set', 'SN-1', 'hostname=web-1', '--object', 'devices', '--state', 'elsewhere/state.db')).code).toBe(0);
    expect(fs.existsSync(other)).toBe(true);
    const listed = await runCli(['records', 'list', '--object', 'devices', '--format', 'csv'], cwd, { SKEIN_STATE: other });
    expect(listed.stdout).toBe('serial,hostname\nSN-1,web-1\n');
  });
});

describe('skein records without a state file', () => {
  it('lists nothing and creates no file', async () => {
    const r = await skein('records', 'list', '--state', 'fresh/state.db');
    expect(r).toEqual({ code: 0, stdout: '', stderr: 'no users records\n' });
    expect(fs.existsSync(path.join(cwd, 'fresh'))).toBe(false);
  });

  it('uses the built-in fields when skein.yaml is missing', async () => {
    fs.rmSync(path.join(cwd, 'workflows'), { recursive: true });
    const r = await skein('records', 'set', 'a', 'qualys_login=x');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('unknown field "qualys_login"');
  });
});

describe('bin/skein.js records (child process)', () => {
  it('imports examples/users.csv with the repository workflows/skein.yaml and lists it', async () => {
    if (!fs.existsSync(path.join(ROOT, 'dist/cli/commands/records.js'))) {
      throw new Error('dist/ is missing the records command: run `npx tsc -p tsconfig.json` (npm test builds) before this test');
    }
    const run = promisify(execFile);
    const state = path.join(cwd, 'child/state.db');
    const env = { ...process.env, SKEIN_STATE: state };
    const imported = await run(process.execPath, ['bin/skein.js', 'records', 'import', 'examples/users.csv'], { cwd: ROOT, env });
    expect(imported.stdout).toBe('examples/users.csv -> users: 25 created, 0 updated, 0 unchanged, 0 rejected\n');
    const listed = await run(process.execPath, ['bin/skein.js', 'records', 'list', '--where', 'status=Leaver', '--format', 'json'], { cwd: ROOT, env });
    const leavers = JSON.parse(listed.stdout) as Array<Record<string, string>>;
    expect(leavers.map((u) => u.username)).toEqual(['kbecker', 'lbrown', 'nreddy', 'rthompson']);
    expect(leavers.find((u) => u.username === 'rthompson')).toMatchObject({ state: 'Washington', country: 'United States of America', qualys_login: 'acme3rt' });
    const missing = await run(process.execPath, ['bin/skein.js', 'records', 'get', 'nobody'], { cwd: ROOT, env }).catch((e: { code: number; stderr: string }) => e);
    expect(missing).toMatchObject({ code: 1, stderr: 'skein records: no users record with key "nobody" [record-not-found]\n' });
  });
});
