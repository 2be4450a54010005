// plan / run / runs through the CLI, in-process and as a child process, against the sandbox.
import { execFile, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { QualysSandbox } from '../../src/sandbox/index.js';
import { runCli } from '../helpers/cli.js';

const root = join(import.meta.dirname, '..', '..');
const ENV = { QUALYS_USERNAME: 'sandbox_mgr', QUALYS_PASSWORD: 'sandbox-password' };
let dir: string;
let sandbox: QualysSandbox;
let url: string;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'skein-cli-'));
  cpSync(join(root, 'workflows'), join(dir, 'workflows'), { recursive: true });
  sandbox = new QualysSandbox({ seed: 3 });
  ({ url } = await sandbox.start({ port: 0, host: '127.0.0.1' }));
  writeFileSync(
    join(dir, 'people.csv'),
    [
      'username,email,first_name,last_name,title,phone,address1,city,state,country,zip_code,status',
      'ada,ada@corp.test,Ada,Lovelace,Engineer,+1 212 555 0100,1 Main St,New York,New York,United States of America,10004,Active',
      'bob,bob@corp.test,Bob,Builder,Engineer,+1 212 555 0101,2 Main St,New York,,United States of America,10004,Active',
      'cy,cy@corp.test,Cy,Inactive,Engineer,+1 212 555 0102,3 Main St,Berlin,,Germany,10117,Inactive',
    ].join('\n') + '\n',
  );
});

afterEach(async () => {
  await sandbox.stop();
  rmSync(dir, { recursive: true, force: true });
});

const withUrl = () => ['--var', `qualys_api_url=${url}`];

/** Imports `n` Active people with no Qualys login (PREFIX0@corp.test, ...): a create each to send. */
async function importActive(prefix: string, n: number): Promise<void> {
  const rows = ['username,email,first_name,last_name,title,phone,address1,city,country,status'];
  for (let i = 0; i < n; i++) rows.push(`${prefix}${i},${prefix}${i}@corp.test,P,Erson${i},Engineer,1,1 Main St,Berlin,Germany,Active`);
  writeFileSync(join(dir, `${prefix}.csv`), rows.join('\n') + '\n');
  expect((await runCli(['records', 'import', `${prefix}.csv`], dir)).code).toBe(0);
}

/** `skein run qualys-create-user ...` as a child process against the sandbox. */
const spawnCreate = (...args: string[]) => spawn(process.execPath, [join(root, 'bin', 'skein.js'), 'run', 'qualys-create-user', ...args, ...withUrl()], { cwd: dir, env: { ...process.env, ...ENV } });

/** Resolves once the sandbox has seen `n` requests. */
async function requestsSeen(n: number): Promise<void> {
  while (sandbox.stats().requests < n) await new Promise((r) => setTimeout(r, 20));
}

/** Qualys users created for the people `importActive(prefix, ...)` wrote. */
const createdFor = (prefix: string) => sandbox.users().filter((u) => new RegExp(`^${prefix}\\d+@corp\\.test$`).test(u.email)).length;

describe('skein plan / run / runs', () => {
  it('a run with more calls in flight than Node\'s listener limit prints no leak warning', async () => {
    await importActive('w', 14);
    sandbox.setLatency(200);
    const r = await promisify(execFile)(process.execPath, [join(root, 'bin', 'skein.js'), 'run', 'qualys-create-user', ...withUrl()], { cwd: dir, env: { ...process.env, ...ENV } });
    expect(r.stdout).toMatch(/14 matched: 14 succeeded/);
    expect(r.stderr).toBe('');
  });

  it('a run killed mid-call (SIGKILL): the next run at once reconciles its calls instead of waiting out its heartbeat', async () => {
    await importActive('k', 4);
    sandbox.setLatency(400);
    const child = spawnCreate('--concurrency', '2');
    await requestsSeen(1);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    // Let the calls the killed run sent land at the vendor.
    await new Promise((r) => setTimeout(r, 600));
    sandbox.setLatency(0);
    const again = await runCli(['run', 'qualys-create-user', ...withUrl()], dir, ENV);
    expect(again.stdout).not.toContain('is making this call');
    expect(again.code).toBe(0);
    expect(createdFor('k')).toBe(4);
  });

  it('Ctrl-C: the calls in flight finish, the run is recorded cancelled, exit 130; the next run does the rest at once', async () => {
    await importActive('u', 8);
    sandbox.setLatency(700);
    const child = spawnCreate('--concurrency', '2');
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += String(d)));
    child.stderr.on('data', (d) => (err += String(d)));
    // Calls are in flight once the sandbox has seen one.
    await requestsSeen(1);
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    expect(code).toBe(130);
    expect(err).toContain('skein run: SIGINT: stopping; the calls in flight finish');
    expect(out).toMatch(/: cancelled\n/);
    // The calls in flight finished and were recorded; the other records were not started.
    const done = createdFor('u');
    expect(done).toBeGreaterThan(0);
    expect(done).toBeLessThan(8);
    expect(out).toContain(`step create: ${done} succeeded, 0 failed`);
    const runs = JSON.parse((await runCli(['runs', 'list', '--format', 'json'], dir)).stdout) as Array<{ status: string }>;
    expect(runs[0]!.status).toBe('cancelled');
    // The next run creates the rest, with no "another run is making this call" and no duplicate.
    sandbox.setLatency(0);
    const again = await runCli(['run', 'qualys-create-user', ...withUrl()], dir, ENV);
    expect([again.code, again.stdout]).toEqual([0, expect.stringContaining(`${8 - done} matched: ${8 - done} succeeded, 0 failed`)]);
    expect(createdFor('u')).toBe(8);
  });

  it('plans in json and markdown without sending, runs, and shows the history', async () => {
    expect((await runCli(['records', 'import', 'people.csv'], dir)).code).toBe(0);

    const planJson = await runCli(['plan', 'qualys-create-user', '--format', 'json', ...withUrl()], dir, ENV);
    expect(planJson.code).toBe(0);
    const plan = JSON.parse(planJson.stdout);
    expect(plan).toMatchObject({ workflow: 'qualys-create-user', considered: 3, matched: 2 });
    // bob has no state although his country needs one: the plan says so before anything is sent.
    const bob = plan.records.find((r: { key: string }) => r.key === 'bob');
    expect(bob.steps[0].error).toMatch(/needs parameter "state"/);
    const md = await runCli(['plan', 'qualys-create-user', '--format', 'markdown', ...withUrl()], dir, ENV);
    expect(md.stdout).toMatch(/^### skein plan/);
    expect(md.stdout).toContain('<details>');
    expect(md.stdout).toContain('| `qualys-create-user` |');
    expect(sandbox.stats().requests).toBe(0);

    const run = await runCli(['run', 'qualys-create-user', ...withUrl()], dir, ENV);
    expect(run.code).toBe(1); // bob failed
    expect(run.stdout).toMatch(/2 matched: 1 succeeded, 1 failed/);
    expect(run.stdout).toMatch(/FAILED bob at create: .*state/);
    expect(run.stdout + run.stderr).not.toContain('sandbox-password');
    expect(sandbox.findUserByEmail('ada@corp.test')).toBeDefined();

    const list = await runCli(['runs', 'list', '--format', 'json'], dir);
    const runs = JSON.parse(list.stdout);
    expect(runs[0]).toMatchObject({ workflow: 'qualys-create-user', status: 'partial' });
    const show = await runCli(['runs', 'show', runs[0].id, '--format', 'json'], dir);
    const detail = JSON.parse(show.stdout);
    const ada = detail.records.find((r: { key: string }) => r.key === 'ada');
    expect(ada.steps[0]).toMatchObject({ step_id: 'create', status: 'succeeded', http_status: 200 });
    expect(ada.steps[0].request.params).toMatchObject({ email: 'ada@corp.test', send_email: '0' });
    expect(JSON.stringify(detail)).not.toMatch(/authorization|sandbox-password/i);
    const password = sandbox.findUserByEmail('ada@corp.test')!.password!;
    expect(JSON.stringify(detail)).not.toContain(password);
    const text = await runCli(['runs', 'show', runs[0].id], dir);
    expect(text.stdout).toMatch(/bob: failed/);
    // The text view carries what the JSON does: params as sent (secrets masked) and outputs.
    const login = sandbox.findUserByEmail('ada@corp.test')!.login;
    expect(text.stdout).toMatch(/params: .*email="ada@corp\.test".*send_email="0"/);
    expect(text.stdout).toMatch(new RegExp(`outputs: .*login="${login}"`));
    expect(text.stdout).toMatch(/password="\[REDACTED\]"/);
    expect(text.stdout).not.toContain(password);
    expect((await runCli(['runs', 'show', 'r_nope'], dir)).code).toBe(1);
  });

  it('runs list summarises an import run by its listed, created, ... counts', async () => {
    const r = await runCli(['run', 'qualys-import-users', ...withUrl()], dir, ENV);
    expect(r.code, r.stderr).toBe(0);
    const n = sandbox.users().length;
    const list = await runCli(['runs', 'list'], dir);
    expect(list.stdout).toMatch(new RegExp(`qualys-import-users .* ${n} listed: ${n} created, 0 updated, 0 unchanged, 0 vanished, 0 rejected`));
  });

  it('--var keeps the type of the variable it overrides: notify=false stays false in {{#if}}', async () => {
    const config = join(dir, 'workflows', 'skein.yaml');
    writeFileSync(config, readFileSync(config, 'utf8').replace('variables:\n', 'variables:\n  notify: true\n  batch: 5\n'));
    writeFileSync(join(dir, 'workflows', 'flag.yaml'), [
      'version: 1', 'name: flag', 'object: users', 'trigger:', '  on: [manual]', 'steps:', '  - id: hook', '    request:',
      '      method: POST', '      url: "https://hooks.example.com/x"', '      body: "{{#if vars.notify}}ON{{else}}OFF{{/if}} {{#if vars.batch}}N{{else}}Z{{/if}}"',
    ].join('\n') + '\n');
    expect((await runCli(['records', 'import', 'people.csv'], dir)).code).toBe(0);
    const plan = async (...vars: string[]) => (await runCli(['plan', 'flag', '--record', 'ada', ...vars.flatMap((v) => ['--var', v])], dir)).stdout;
    expect(await plan()).toContain('ON N');
    expect(await plan('notify=false', 'batch=0')).toContain('OFF Z');
    expect(await plan('notify=yes')).toContain('ON N');
  });

  it('runs list and show still read history while an unrelated workflow file is broken', async () => {
    const r = await runCli(['run', 'qualys-import-users', ...withUrl()], dir, ENV);
    expect(r.code, r.stderr).toBe(0);
    writeFileSync(join(dir, 'workflows', 'broken.yaml'), 'version: 1\nname: broken\nobject: users\ntrigger: { on: [manual] }\nsteps: []\nrules: { field: nope, equals: x }\n');
    const list = await runCli(['runs', 'list', '--format', 'json'], dir);
    expect(list.code, list.stderr).toBe(0);
    const [run] = JSON.parse(list.stdout);
    expect((await runCli(['runs', 'show', run.id], dir)).code).toBe(0);
    // Running still refuses the broken tree's workflow.
    expect((await runCli(['run', 'broken', ...withUrl()], dir, ENV)).code).not.toBe(0);
  });

  it('runs show names the rejected items of an import and why', async () => {
    const [u] = sandbox.users();
    sandbox.addUser({ login: 'dup_login2', role: 'scanner', first_name: 'D', last_name: 'Up', email: u!.email, status: 'Active' });
    const r = await runCli(['run', 'qualys-import-users', ...withUrl()], dir, ENV);
    expect(r.code).toBe(1);
    const [run] = JSON.parse((await runCli(['runs', 'list', '--format', 'json'], dir)).stdout);
    const text = (await runCli(['runs', 'show', run.id], dir)).stdout;
    expect(text).toMatch(/^import: \d+ listed: .* 1 rejected$/m);
    expect(text).toContain(`  rejected ${u!.email.toLowerCase()}: key "${u!.email.toLowerCase()}" is already the record of qualys_login "${u!.login}" in this run`);
    expect(text).toMatch(/^  \*: failed \(1 listed item\(s\) rejected\)$/m);
  });

  it('fails one record whose rendered params are refused at run time and runs the others', async () => {
    // Handlebars mistakes that would throw while rendering ({{#with}} with no value) are refused
    // by validate now; what is left for run time is a value only some records produce.
    writeFileSync(
      join(dir, 'workflows', 'broken-title.yaml'),
      `version: 1
name: broken-title
object: users
trigger: { on: [manual] }
rules: { field: qualys_login, is_not_empty: true }
steps:
  - id: edit
    preset: qualys.edit_user
    credentials: qualys
    params:
      login: "{{qualys_login}}"
      title: "{{#if department}}{{department}}{{department}} {{/if}}{{title}}"
`,
    );
    const a = sandbox.addUser({ role: 'scanner', first_name: 'A', last_name: 'A', email: 'a@corp.test', status: 'Active' });
    const b = sandbox.addUser({ role: 'scanner', first_name: 'B', last_name: 'B', email: 'b@corp.test', status: 'Active' });
    await runCli(['records', 'set', 'a', `qualys_login=${a.login}`, 'title=Boss'], dir);
    await runCli(['records', 'set', 'b', `qualys_login=${b.login}`, `department=${'IT'.repeat(30)}`, 'title=Boss'], dir);
    const run = await runCli(['run', 'broken-title', ...withUrl()], dir, ENV);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/FAILED b at edit: .*title/);
    expect(sandbox.findUser(a.login)!.title).toBe('Boss');
    expect(sandbox.findUser(b.login)!.title).not.toMatch(/Boss/);
  });

  it('bad usage exits 2; an unknown workflow exits 1 with a suggestion', async () => {
    expect((await runCli(['run'], dir)).code).toBe(2);
    expect((await runCli(['run', 'x', '--record', 'a', '--all'], dir)).code).toBe(2);
    expect((await runCli(['plan', 'x', '--format', 'yaml'], dir)).code).toBe(2);
    expect((await runCli(['runs', 'nope'], dir)).code).toBe(2);
    const missing = await runCli(['plan', 'qualys-create-user', '--record', 'nobody', ...withUrl()], dir);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toContain('nobody: no such record');
    expect(missing.stderr).toBe('skein plan: no users record with key "nobody" [unknown-record]\n');
    const typo = await runCli(['plan', 'qualys-create-user', '--all', '--var', 'qualys_api_ur=http://127.0.0.1:9'], dir);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/--var qualys_api_ur: no such variable; .*did you mean "qualys_api_url"\?.*\[usage\]$/m);
    // Node's parser explains an ambiguous option over three lines: we print one.
    const ambiguous = await runCli(['runs', 'list', '--format', '--limit'], dir);
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toBe('skein runs: --format needs a value; to give one that starts with "-", write --format=VALUE (see skein runs --help) [usage]\n');
    const misspelt = await runCli(['records', 'list', '--formt', 'json'], dir);
    expect(misspelt.stderr).toBe('skein records: unknown option --formt; did you mean "--format"? (see skein records --help) [usage]\n');
    const command = await runCli(['valdiate'], dir);
    expect([command.code, command.stderr]).toEqual([2, expect.stringMatching(/^skein: unknown command "valdiate"; did you mean "validate"\?; commands: /)]);
    const help = await runCli(['help', 'plan'], dir);
    expect([help.code, help.stdout]).toEqual([0, expect.stringMatching(/^Usage: skein plan WORKFLOW/)]);
    const pendingOne = await runCli(['run', '--pending', '--record', 'nobody', ...withUrl()], dir, ENV);
    expect(pendingOne.code).toBe(2);
    expect(pendingOne.stderr).toMatch(/--pending .* takes neither --record nor --all/);
    for (const bad of [['--limit', 'abc'], ['--limit', '1.5'], ['--limit=-1'], ['--limit', '0'], ['--limit', '100000000000000000000'], ['--status', 'bogus']]) {
      const x = await runCli(['runs', 'list', ...bad], dir);
      expect(x.code, bad.join(' ')).toBe(2);
      expect(x.stderr, bad.join(' ')).toMatch(/\[usage\]$/m);
    }
    const r = await runCli(['run', 'qualys-create-usr'], dir, ENV);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no workflow named "qualys-create-usr".*did you mean "qualys-create-user"\?.*\[unknown-workflow\]$/m);
  });

  it('as a child process: a rule pattern that backtracks exponentially does not hang plan', async () => {
    const file = join(dir, 'workflows', 'qualys-create-user.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('      equals: Active\n', '      equals: Active\n    - field: title\n      matches: "(a+)+$"\n'));
    expect((await runCli(['records', 'import', 'people.csv'], dir)).code).toBe(0);
    expect((await runCli(['records', 'set', 'ada', `title=${'a'.repeat(40)}!`], dir)).code).toBe(0);
    expect((await runCli(['records', 'set', 'bob', `title=${'a'.repeat(40)}`], dir)).code).toBe(0);
    // Backtracking would take about 2^40 steps here; the process is given 30 s.
    const { stdout } = await promisify(execFile)(process.execPath, [join(root, 'bin', 'skein.js'), 'plan', 'qualys-create-user', '--all', '--format', 'json', ...withUrl()], { cwd: dir, timeout: 30_000 });
    expect((JSON.parse(stdout) as { records: Array<{ key: string }> }).records.map((r) => r.key)).toEqual(['bob']);
  });

  it('a named workflow whose file does not parse is reported at its line, not as unknown', async () => {
    const file = join(dir, 'workflows', 'qualys-create-user.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('\nsteps:', '\n\tbroken: x\nsteps:'));
    for (const cmd of ['plan', 'run']) {
      const r = await runCli([cmd, 'qualys-create-user', '--all', ...withUrl()], dir, ENV);
      expect(r.code, cmd).toBe(1);
      // The error line, then each diagnostic on its own line as validate prints it.
      const [first, ...rest] = r.stderr.trimEnd().split('\n');
      expect(first, cmd).toMatch(new RegExp(`^skein ${cmd}: 1 validation error\\(s\\); fix them first \\(skein validate workflows\\) \\[invalid-workflows\\]$`));
      expect(rest, cmd).toEqual([expect.stringMatching(/^workflows\/qualys-create-user\.yaml:\d+:1: error tab used for indentation.*\[yaml-tab-indent\]$/)]);
      expect(r.stderr, cmd).not.toContain('unknown-workflow');
    }
    // Another workflow still runs: the broken file is not its concern.
    expect((await runCli(['plan', 'qualys-deactivate-leavers', '--all', ...withUrl()], dir)).code).toBe(0);
  });

  it('as a child process: a missing credential variable stops the run before any request, in one line', async () => {
    await runCli(['records', 'import', 'people.csv'], dir);
    const { QUALYS_PASSWORD: _omit, ...env } = { ...process.env, ...ENV };
    const r = await promisify(execFile)(process.execPath, [join(root, 'bin', 'skein.js'), 'run', 'qualys-create-user', ...withUrl()], { cwd: dir, env }).catch((e) => e);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('skein run: credential "qualys": environment variable QUALYS_PASSWORD (its password) is not set [credential-missing]');
    expect(sandbox.stats().requests).toBe(0);
  });

  it('runs retry --failed-only re-runs the failed records; runs resolve settles an unknown step', async () => {
    await runCli(['records', 'import', 'people.csv'], dir);
    const first = await runCli(['run', 'qualys-create-user', '--format', 'json', ...withUrl()], dir, ENV);
    const run = JSON.parse(first.stdout);
    expect(run).toMatchObject({ succeeded: 1, failed: 1 });
    await runCli(['records', 'set', 'bob', 'state=New York'], dir);
    const retry = await runCli(['runs', 'retry', run.runId, '--failed-only', '--format', 'json', ...withUrl()], dir, ENV);
    expect(retry.code).toBe(0);
    expect(JSON.parse(retry.stdout)).toMatchObject({ considered: 1, matched: 1, succeeded: 1 });
    expect(sandbox.findUserByEmail('bob@corp.test')).toBeDefined();
    expect(sandbox.users().filter((u) => u.email === 'ada@corp.test')).toHaveLength(1);

    await runCli(['records', 'set', 'dan', 'email=dan@corp.test', 'first_name=Dan', 'last_name=D', 'title=T', 'phone=1', 'address1=A', 'city=Berlin', 'country=Germany', 'status=Active'], dir);
    sandbox.setFaults('drop:phase=after:times=1');
    const dropped = JSON.parse((await runCli(['run', 'qualys-create-user', '--record', 'dan', '--format', 'json', ...withUrl()], dir, ENV)).stdout);
    expect(dropped.steps.create.unknown).toBe(1);
    expect((await runCli(['runs', 'resolve', dropped.runId, 'dan'], dir)).code).toBe(2);
    const resolved = await runCli(['runs', 'resolve', dropped.runId, 'dan', '--as', 'succeeded', '--note', 'checked in the Qualys UI'], dir);
    expect(resolved.code).toBe(0);
    expect(resolved.stdout).toMatch(/create of dan in run .*: resolved as succeeded by a person: checked in the Qualys UI/);
    // The mapping never ran: the person is told to set the mapped fields before the next run.
    expect(resolved.stdout).toMatch(/\nnote: the step's response mapping was not applied; set those fields yourself \(e\.g\. skein records set dan qualys_login=\.\.\.\)/);
    const shown = JSON.parse((await runCli(['runs', 'show', dropped.runId, '--format', 'json'], dir)).stdout);
    expect(shown.records[0].steps[0]).toMatchObject({ status: 'succeeded', error_code: 'resolved' });
    // Set by hand as told: a retry of that run matches nothing and sends nothing.
    await runCli(['records', 'set', 'dan', `qualys_login=${sandbox.findUserByEmail('dan@corp.test')!.login}`], dir);
    const nothing = await runCli(['runs', 'retry', dropped.runId, ...withUrl()], dir, ENV);
    expect([nothing.code, nothing.stdout]).toEqual([0, expect.stringContaining('1 record(s) considered, 0 matched')]);
    expect(sandbox.users().filter((u) => u.email === 'dan@corp.test')).toHaveLength(1);
    expect((await runCli(['runs', 'resolve', dropped.runId, 'dan', '--as', 'failed'], dir)).code).toBe(1);
  });

  it('runs resolve settles the call in doubt in every run that met it, so the next run sends it', async () => {
    const u = sandbox.addUser({ role: 'scanner', first_name: 'P', last_name: 'W', email: 'pw@corp.test', status: 'Active' });
    await runCli(['records', 'set', 'pw', `qualys_login=${u.login}`], dir);
    sandbox.setFaults('drop:script=password_change:phase=after:times=1');
    const run = async () => JSON.parse((await runCli(['run', 'qualys-change-password', '--record', 'pw', '--format', 'json', ...withUrl()], dir, ENV)).stdout);
    const dropped = await run();
    expect(dropped.steps.reset.unknown).toBe(1);
    const again = await run(); // still in doubt: nothing sent, one more unknown row
    expect(again.steps.reset.unknown).toBe(1);
    const sent = () => sandbox.stats().byScript['password_change.php']?.requests ?? 0;
    expect(sent()).toBe(1);
    const resolved = await runCli(['runs', 'resolve', again.runId, 'pw', '--as', 'failed'], dir);
    expect(resolved.stdout).toMatch(/reset of pw in run \S+ \(and 1 earlier run\(s\) that left it in doubt\): resolved as failed by a person/);
    const third = await run();
    expect(third).toMatchObject({ succeeded: 1 });
    expect(sent()).toBe(2);
  });

  it('plan and runs list never create a missing state file', async () => {
    const plan = await runCli(['plan', 'qualys-create-user', ...withUrl()], dir, ENV);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toMatch(/0 of 0 record\(s\) match/);
    expect((await runCli(['runs', 'list'], dir)).stdout).toMatch(/no runs/);
    expect(existsSync(join(dir, '.skein', 'state.db'))).toBe(false);
  });

  it('a broken workflow test file blocks neither plan nor run (skein test reports it)', async () => {
    writeFileSync(join(dir, 'workflows', 'tests', 'broken.test.yaml'), 'workflow: [unclosed\n  cases: {\n');
    expect((await runCli(['records', 'import', 'people.csv'], dir)).code).toBe(0);
    const plan = await runCli(['plan', 'qualys-deactivate-leavers', ...withUrl()], dir, ENV);
    expect(plan.code).toBe(0);
    expect(plan.stderr).toBe('');
    const run = await runCli(['run', 'qualys-deactivate-leavers', ...withUrl()], dir, ENV);
    expect(run.code).toBe(0);
    const test = await runCli(['test'], dir);
    expect(test.code).not.toBe(0);
    expect(test.stdout + test.stderr).toContain('broken.test.yaml');
  });
});
