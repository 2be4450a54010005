// `skein test` and `skein init`, in-process: the repository's workflow tests pass offline; a wrong
// expectation fails with exit 1 and file:line:col plus expected/actual; JUnit output is
// well-formed; broken test files get located diagnostics from `skein validate` (golden files in
// test/fixtures/invalid-tests/, regenerate with UPDATE_GOLDEN=1); init scaffolds a repository that
// validates and tests clean and refuses to overwrite one.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { afterAll, describe, expect, it } from 'vitest';
import { formatText } from '../../src/diagnostics-format.js';
import { collectProjects, loadProject, projectDiagnostics } from '../../src/workflow/project.js';
import { TEST_CREDENTIAL } from '../../src/testing/runner.js';
import { runCli } from '../helpers/cli.js';
import { unifiedDiff } from '../../src/testing/diff.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const INVALID_TESTS = fileURLToPath(new URL('../fixtures/invalid-tests/', import.meta.url));
const UPDATE = process.env.UPDATE_GOLDEN === '1';
const CREATE_TEST = 'workflows/tests/qualys-create-user.test.yaml';
const DEACTIVATE_TEST = 'workflows/tests/qualys-deactivate-leavers.test.yaml';
/** The generated password in the canned create_user answer: it must never be printed. */
const GENERATED_PASSWORD = 'Vq8#mT2rLw9z';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'skein-testcmd-'));
  dirs.push(d);
  return d;
}

/** A copy of the repository's workflows/ with `edit` applied to one test file. */
function copyWithEdit(file: string, edit: (text: string) => string): string {
  const dir = tempDir();
  cpSync(join(ROOT, 'workflows'), join(dir, 'workflows'), { recursive: true });
  const path = join(dir, file);
  const before = readFileSync(path, 'utf8');
  const after = edit(before);
  expect(after, 'the edit changed nothing').not.toBe(before);
  writeFileSync(path, after);
  return dir;
}

/** 1-based line of the first occurrence of `needle` in `file` of `dir`. */
function lineOf(dir: string, file: string, needle: string): number {
  const lines = readFileSync(join(dir, file), 'utf8').split('\n');
  const i = lines.findIndex((l) => l.includes(needle));
  expect(i, needle).toBeGreaterThanOrEqual(0);
  return i + 1;
}

describe('skein test on workflows/', () => {
  it('covers every example workflow and passes, ending with the summary line', async () => {
    const wfNames = readdirSync(join(ROOT, 'workflows')).filter((f) => f.endsWith('.yaml') && f !== 'skein.yaml').map((f) => f.slice(0, -5));
    const tests = readdirSync(join(ROOT, 'workflows', 'tests')).filter((f) => f.endsWith('.test.yaml'));
    for (const w of wfNames) expect(tests, `no test for ${w}`).toContain(`${w}.test.yaml`);
    const res = await runCli(['test'], ROOT);
    expect(res.stderr).toBe('');
    expect(res.code, res.stdout).toBe(0);
    const lines = res.stdout.trimEnd().split('\n');
    expect(lines.at(-1)).toMatch(/^[1-9]\d* passed, 0 failed$/);
    expect(res.stdout).not.toContain(GENERATED_PASSWORD);
    expect(res.stdout).not.toContain(TEST_CREDENTIAL.password);
  });

  it('validate stays clean with the test files in place', async () => {
    const res = await runCli(['validate', 'workflows'], ROOT);
    expect(res.stdout).toBe('');
    expect(res.code).toBe(0);
  });

  it('overlapping paths (a folder twice, a file and its folder) are read once; the tests folder finds its workflows', async () => {
    const all = await runCli(['test', 'workflows'], ROOT);
    const summary = all.stdout.trimEnd().split('\n').at(-1)!;
    for (const args of [['workflows', 'workflows/'], [CREATE_TEST, 'workflows'], ['workflows/tests']]) {
      const res = await runCli(['test', ...args], ROOT);
      expect(res.code, args.join(' ')).toBe(0);
      expect(res.stdout.trimEnd().split('\n').at(-1), args.join(' ')).toBe(summary);
    }
    for (const args of [['workflows', './workflows/'], ['workflows/qualys-edit-user.yaml', 'workflows']]) {
      const res = await runCli(['validate', ...args], ROOT);
      expect(res.code, args.join(' ')).toBe(0);
      expect(res.stderr, args.join(' ')).not.toContain('config-duplicate');
    }
  });
});

describe('skein test failures', () => {
  it('a changed expectation fails with exit 1 and file:line:col, expected and actual', async () => {
    const dir = copyWithEdit(DEACTIVATE_TEST, (t) => t.replace('params: { action: deactivate, login: acme_jd1 }', 'params: { action: deactivate, login: acme_xx9 }'));
    const res = await runCli(['test', 'workflows'], dir);
    expect(res.code).toBe(1);
    const line = lineOf(dir, DEACTIVATE_TEST, 'login: acme_xx9');
    expect(res.stdout).toMatch(new RegExp(`^${DEACTIVATE_TEST.replace(/[.]/g, '\\.')}:${line}:\\d+: case "a leaver's account is deactivated": step deactivate request\\.params\\.login: expected "acme_xx9", got "acme_jd1"$`, 'm'));
    expect(res.stdout.trimEnd().split('\n').at(-1)).toMatch(/^\d+ passed, 1 failed$/);
  });

  it('multi-line values get a unified diff; sensitive values are never printed', async () => {
    const dir = copyWithEdit(CREATE_TEST, (t) =>
      t
        .replace(`qualys_password: ${GENERATED_PASSWORD}`, 'qualys_password: not-the-password')
        .replace('api_response: { contains: "<PASSWORD>[REDACTED]</PASSWORD>" }', 'api_response: "<USER_OUTPUT>\\n  <RETURN status=\\"FAILED\\">\\n</USER_OUTPUT>\\n"'),
    );
    const res = await runCli(['test', CREATE_TEST], dir);
    expect(res.code).toBe(1);
    expect(res.stdout).toContain(`${CREATE_TEST}:${lineOf(dir, CREATE_TEST, 'qualys_password: not-the-password')}:`);
    expect(res.stdout).toContain('fields.qualys_password: the value differs from the expected one (sensitive field: values not shown)');
    expect(res.stdout).toContain('fields.api_response: expected and actual differ:');
    expect(res.stdout).toMatch(/^ {4}--- expected$/m);
    expect(res.stdout).toMatch(/^ {4}\+ {4}<PASSWORD>\[REDACTED\]<\/PASSWORD>$/m);
    expect(res.stdout).toMatch(/^ {4}- {2}<RETURN status="FAILED">$/m);
    expect(res.stdout).not.toContain(GENERATED_PASSWORD);
    expect(res.stdout).not.toContain('not-the-password');
  });

  it('a step without a canned response says so', async () => {
    const dir = copyWithEdit(DEACTIVATE_TEST, (t) => t.replace('    responses:\n      deactivate: { file: responses/deactivate-success.xml }\n', ''));
    const res = await runCli(['test', DEACTIVATE_TEST], dir);
    expect(res.code).toBe(1);
    expect(res.stdout).toContain('step deactivate outcome: expected succeeded, got failed');
    expect(res.stdout).toContain('the case gives no response for it');
  });

  it('--reporter junit writes well-formed JUnit XML with testcase and failure elements', async () => {
    const dir = copyWithEdit(DEACTIVATE_TEST, (t) => t.replace('        qualys_status: Inactive', '        qualys_status: Gone'));
    const res = await runCli(['test', 'workflows', '--reporter', 'junit', '--output', 'junit.xml'], dir);
    expect(res.code).toBe(1);
    expect(res.stdout.trim()).toMatch(/^\d+ passed, 1 failed$/);
    const xml = readFileSync(join(dir, 'junit.xml'), 'utf8');
    expect(XMLValidator.validate(xml)).toBe(true);
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => ['testsuite', 'testcase'].includes(name) }).parse(xml) as {
      testsuites: { tests: string; failures: string; testsuite: Array<{ name: string; testcase: Array<{ name: string; failure?: { message: string; '#text': string } }> }> };
    };
    expect(doc.testsuites.failures).toBe('1');
    const cases = doc.testsuites.testsuite.flatMap((s) => s.testcase);
    expect(cases.length).toBe(Number(doc.testsuites.tests));
    const failed = cases.filter((c) => c.failure);
    expect(failed.map((c) => c.name)).toEqual(["a leaver's account is deactivated"]);
    expect(failed[0]!.failure!.message).toBe('fields.qualys_status: expected "Gone", got "Inactive"');
    expect(failed[0]!.failure!['#text']).toContain(`${DEACTIVATE_TEST}:${lineOf(dir, DEACTIVATE_TEST, 'qualys_status: Gone')}:`);
  });

  it('an invalid test file fails the run with its diagnostics; bad flags are usage errors', async () => {
    const dir = copyWithEdit(DEACTIVATE_TEST, (t) => t.replace('workflow: qualys-deactivate-leavers', 'workflow: qualys-deactivate-leaver'));
    const res = await runCli(['test'], dir);
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/qualys-deactivate-leavers\.test\.yaml:3:11: error no workflow named "qualys-deactivate-leaver" in this directory; did you mean "qualys-deactivate-leavers"\?.*\[test-unknown-workflow\]/);
    expect((await runCli(['test', '--reporter', 'tap'], dir)).code).toBe(2);
    expect((await runCli(['test', 'nowhere'], dir)).code).toBe(2);
  });
});

describe('skein validate on broken test files (golden)', () => {
  const cases = readdirSync(INVALID_TESTS).filter((f) => f.endsWith('.test.yaml')).sort();

  it('has the cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(3);
  });

  it.each(cases)('%s', (file) => {
    const list = collectProjects([file], { cwd: INVALID_TESTS })
      .map((g) => loadProject(g, { cwd: INVALID_TESTS }))
      .flatMap(projectDiagnostics);
    const text = `${formatText(list)}\n`;
    const out = join(INVALID_TESTS, file.replace(/\.yaml$/, '.out'));
    if (UPDATE) writeFileSync(out, text);
    expect(text).toBe(readFileSync(out, 'utf8'));
    for (const line of text.trimEnd().split('\n')) expect(line).toMatch(new RegExp(`^${file.replace(/[.]/g, '\\.')}:\\d+:\\d+: error .+ \\[[a-z-]+\\]$`));
  });
});

describe('skein init', () => {
  it('scaffolds a repository that validates and tests clean at once', async () => {
    const dir = tempDir();
    const res = await runCli(['init', 'repo'], dir);
    expect(res.code, res.stderr).toBe(0);
    const root = join(dir, 'repo');
    for (const f of ['workflows/skein.yaml', 'workflows/qualys-deactivate-leavers.yaml', 'workflows/tests/qualys-deactivate-leavers.test.yaml', '.gitignore', '.github/workflows/skein.yml']) {
      expect(existsSync(join(root, f)), f).toBe(true);
    }
    expect(readFileSync(join(root, 'workflows/skein.yaml'), 'utf8')).toMatch(/^# yaml-language-server: \$schema=\.\.\/node_modules\/skein\/schemas\/config\.schema\.json$/m);
    expect(readFileSync(join(root, 'workflows/tests/qualys-deactivate-leavers.test.yaml'), 'utf8')).toContain('$schema=../../node_modules/skein/schemas/test.schema.json');
    expect(readFileSync(join(root, '.gitignore'), 'utf8').split('\n')).toEqual(expect.arrayContaining(['.skein/', 'node_modules/']));
    const ci = readFileSync(join(root, '.github/workflows/skein.yml'), 'utf8');
    expect(ci).toContain('skein validate workflows');
    expect(ci).toContain('skein test workflows');
    const validate = await runCli(['validate', 'repo/workflows'], dir);
    expect(validate.stdout).toBe('');
    expect(validate.code).toBe(0);
    const test = await runCli(['test', 'repo/workflows'], dir);
    expect(test.code, test.stdout).toBe(0);
    expect(test.stdout.trimEnd().split('\n').at(-1)).toMatch(/^[1-9]\d* passed, 0 failed$/);
  });

  it('refuses a non-empty workflows directory unless --force; keeps an existing .gitignore', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'workflows'));
    writeFileSync(join(dir, 'workflows', 'mine.yaml'), 'version: 1\n');
    writeFileSync(join(dir, '.gitignore'), 'dist/');
    const refused = await runCli(['init'], dir);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('is not empty');
    expect(readFileSync(join(dir, 'workflows', 'mine.yaml'), 'utf8')).toBe('version: 1\n');
    const forced = await runCli(['init', '--force'], dir);
    expect(forced.code).toBe(0);
    expect(existsSync(join(dir, 'workflows', 'skein.yaml'))).toBe(true);
    expect(readFileSync(join(dir, '.gitignore'), 'utf8')).toBe('dist/\n.skein/\nnode_modules/\n');
    expect((await runCli(['init', 'a', 'b'], dir)).code).toBe(2);
  });

  it('--package names where CI and the next step install skein from (skein may not be in the registry)', async () => {
    const dir = tempDir();
    const spec = 'git+https://git.example.com/it/skein.git#v0.1.0';
    const res = await runCli(['init', '--package', spec], dir);
    expect(res.code, res.stderr).toBe(0);
    expect(readFileSync(join(dir, '.github', 'workflows', 'skein.yml'), 'utf8')).toContain(`- run: npm install --no-save ${spec}\n`);
    expect(res.stdout).toContain(`next: npm install -D ${spec}, then`);
    const plain = await runCli(['init', 'other'], dir);
    expect(plain.stdout).toMatch(/next: npm install -D skein@\S+ \(or --package SPEC: skein may not be in your registry/);
    expect((await runCli(['init', 'third', '--package', 'skein; rm -rf /'], dir)).code).toBe(2);
  });

  it('keeps an existing CI workflow file unless --force, and says which', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, '.github', 'workflows'), { recursive: true });
    writeFileSync(join(dir, '.github', 'workflows', 'skein.yml'), 'my ci\n');
    const res = await runCli(['init'], dir);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^kept \.github\/workflows\/skein\.yml \(it exists; --force overwrites it\)$/m);
    expect(readFileSync(join(dir, '.github', 'workflows', 'skein.yml'), 'utf8')).toBe('my ci\n');
    const forced = await runCli(['init', '--force'], dir);
    expect(forced.stdout).toMatch(/^overwrote \.github\/workflows\/skein\.yml$/m);
    expect(readFileSync(join(dir, '.github', 'workflows', 'skein.yml'), 'utf8')).toContain('skein validate workflows');
  });
});

describe('skein test reports', () => {
  it('an --output path that cannot be written is a one-line unwritable-path error (exit 2)', async () => {
    const res = await runCli(['test', 'workflows', '--output', 'no/such/dir/junit.xml'], ROOT);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/^skein test: cannot write the report to no\/such\/dir\/junit\.xml \(ENOENT\); check that its folder exists \[unwritable-path\]\n$/);
  });

  it('--reporter junit with no test files still writes a report (and exits 1)', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'empty'));
    const res = await runCli(['test', 'empty', '--reporter', 'junit', '--output', 'junit.xml'], dir);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('[no-tests]');
    expect(XMLValidator.validate(readFileSync(join(dir, 'junit.xml'), 'utf8'))).toBe(true);
  });
});

describe('test schema and less common cases', () => {
  it('test.schema.json: draft 2020-12, $id, a description on every property, closed objects', () => {
    const schema = JSON.parse(readFileSync(join(ROOT, 'schemas/test.schema.json'), 'utf8')) as Record<string, unknown>;
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.$id).toBe('https://skein.dev/schemas/test.schema.json');
    const problems: string[] = [];
    const visit = (node: unknown, path: string): void => {
      if (!node || typeof node !== 'object') return;
      const n = node as Record<string, unknown>;
      if (n.properties && n.additionalProperties !== false) problems.push(`${path}: additionalProperties is not false`);
      for (const [name, sub] of Object.entries((n.properties as Record<string, Record<string, unknown>>) ?? {})) {
        if (typeof sub.description !== 'string' || sub.description === '') {
          const target = typeof sub.$ref === 'string' ? (schema.$defs as Record<string, Record<string, unknown>>)[sub.$ref.slice(8)] : undefined;
          if (!target?.description) problems.push(`${path}.${name}: no description`);
        }
      }
      for (const [k, v] of Object.entries(n)) if (typeof v === 'object') visit(v, `${path}.${k}`);
    };
    visit(schema, 'test');
    expect(problems).toEqual([]);
  });

  it('deleted events, vars overrides, skipped steps and a when that holds', async () => {
    const dir = tempDir();
    const wf = join(dir, 'workflows');
    mkdirSync(join(wf, 'tests'), { recursive: true });
    cpSync(join(INVALID_TESTS, 'skein.yaml'), join(wf, 'skein.yaml'));
    writeFileSync(join(wf, 'skein.yaml'), readFileSync(join(wf, 'skein.yaml'), 'utf8').replace('version: 1\n', 'version: 1\nvariables:\n  qualys_api_url: https://qualysapi.qualys.com\n'));
    writeFileSync(
      join(wf, 'offboard.yaml'),
      [
        'version: 1',
        'name: offboard',
        'object: users',
        'trigger:',
        '  on: [deleted]',
        'steps:',
        '  - id: deactivate',
        '    preset: qualys.deactivate_user',
        '    credentials: qualys',
        '    when: { field: qualys_login, is_not_empty: true }',
        '    params:',
        '      login: "{{qualys_login}}"',
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(wf, 'tests', 'offboard.test.yaml'),
      [
        'version: 1',
        'workflow: offboard',
        'cases:',
        '  - name: a deleted user with a login is deactivated on the EU platform',
        '    vars: { qualys_api_url: "https://qualysapi.qualys.eu" }',
        '    event: { kind: deleted, record: { username: jane.doe, qualys_login: acme_jd1 } }',
        '    responses:',
        `      deactivate: { body: ${JSON.stringify(readFileSync(join(ROOT, 'workflows/tests/responses/deactivate-success.xml'), 'utf8'))} }`,
        '    expect:',
        '      matches: true',
        '      steps:',
        '        deactivate:',
        '          outcome: succeeded',
        '          request: { url: "https://qualysapi.qualys.eu/msp/user.php?action=deactivate", params: { login: acme_jd1 } }',
        '  - name: a deleted user without a login skips the step',
        '    event: { kind: deleted, record: { username: sam.lee } }',
        '    expect:',
        '      matches: true',
        '      steps:',
        '        deactivate: { outcome: skipped }',
        '',
      ].join('\n'),
    );
    expect((await runCli(['validate', 'workflows'], dir)).stdout).toBe('');
    const res = await runCli(['test'], dir);
    expect(res.code, res.stdout).toBe(0);
    expect(res.stdout.trimEnd().split('\n').at(-1)).toBe('2 passed, 0 failed');
  });
});

describe('unifiedDiff', () => {
  it('prints a changed line as removal, then addition, between its context lines', () => {
    expect(unifiedDiff('a\nb\nc', 'a\nB\nc')).toEqual(['--- expected', '+++ actual', ' a', '-b', '+B', ' c']);
    expect(unifiedDiff('x\ny', 'x\nz\nw')).toEqual(['--- expected', '+++ actual', ' x', '-y', '+z', '+w']);
  });
});

describe('a case\'s now', () => {
  it('holds for {{date "now"}} in templates as for the rules, and only during the case', async () => {
    const dir = tempDir();
    cpSync(join(ROOT, 'workflows'), join(dir, 'workflows'), { recursive: true });
    writeFileSync(join(dir, 'workflows', 'stamp.yaml'), [
      'version: 1', 'name: stamp', 'object: users', 'trigger:', '  on: [manual]',
      'rules: { field: start_date, before: now-1d }',
      'steps:', '  - id: edit', '    preset: qualys.edit_user', '    credentials: qualys', '    params:',
      '      login: "{{qualys_login}}"', '      title: "since {{date \\"now\\" \\"YYYY-MM-DD\\"}}"',
    ].join('\n') + '\n');
    const caseOf = (now: string | undefined, title: string) => [
      `  - name: at ${now ?? 'the real time'}`, ...(now ? [`    now: ${now}`] : []),
      '    event:', '      kind: manual', '      record: { username: ann, qualys_login: acme_a1, start_date: "2019-12-01" }',
      '    responses:', '      edit: { file: responses/edit-success.xml }',
      '    expect:', '      matches: true', '      steps:', '        edit:', '          request:', `            params: { action: edit, login: acme_a1, title: "${title}" }`,
    ];
    const today = new Date().toISOString().slice(0, 10);
    writeFileSync(join(dir, 'workflows', 'tests', 'stamp.test.yaml'), [
      'version: 1', 'workflow: stamp', 'cases:', ...caseOf('2020-01-01T00:00:00Z', 'since 2020-01-01'), ...caseOf(undefined, `since ${today}`),
    ].join('\n') + '\n');
    const res = await runCli(['test', 'workflows/tests/stamp.test.yaml'], dir);
    expect(res.code, res.stdout + res.stderr).toBe(0);
  });
});
