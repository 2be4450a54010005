// Golden tests for `skein validate`.
//
// test/fixtures/invalid/<case>.yaml holds one mistake (a few hold several); <case>.out beside it
// holds the exact diagnostics `formatText` prints for it (no color), one per line, paths relative
// to test/fixtures/invalid/. test/fixtures/invalid-config/<case>/ is a project directory whose
// skein.yaml is wrong (or missing); <case>.out beside the folder holds its diagnostics.
// test/fixtures/valid/ and workflows/ must produce no diagnostics at all.
//
// After an intended change to messages or positions, regenerate the .out files and review the diff:
//
//   UPDATE_GOLDEN=1 npx vitest run test/validate-golden.test.ts
//
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { CODES, type Diagnostic } from '../src/diagnostics.js';
import { formatText } from '../src/diagnostics-format.js';
import { collectProjects, loadProject, projectDiagnostics } from '../src/workflow/project.js';
import { MAX_FILE_BYTES } from '../src/workflow/source.js';

const UPDATE = process.env.UPDATE_GOLDEN === '1';
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}/`, import.meta.url));
const INVALID = fixture('invalid');
const INVALID_CONFIG = fixture('invalid-config');
const VALID = fixture('valid');
const WORKFLOWS = fileURLToPath(new URL('../workflows/', import.meta.url));

/** Runs the validator in-process, as `skein validate PATH...` would from `cwd`. */
function validate(cwd: string, paths: string[]): Diagnostic[] {
  return collectProjects(paths, { cwd })
    .map((g) => loadProject(g, { cwd }))
    .flatMap(projectDiagnostics);
}

/** The text format as the CLI prints it without a terminal, plus a final newline. */
function asText(list: Diagnostic[]): string {
  return list.length ? `${formatText(list)}\n` : '';
}

/** Compares with the golden file, or rewrites it under UPDATE_GOLDEN=1. */
function expectGolden(actual: string, outFile: string): void {
  if (UPDATE) writeFileSync(outFile, actual);
  expect(existsSync(outFile), `${outFile} is missing; run UPDATE_GOLDEN=1 npx vitest run test/validate-golden.test.ts`).toBe(true);
  expect(actual).toBe(readFileSync(outFile, 'utf8'));
}

/** Every golden line has the documented shape: FILE:LINE:COL: error MESSAGE [code], one line. */
function expectWellFormed(text: string, fileOrDir: string): void {
  const lines = text.trimEnd().split('\n');
  expect(lines.length).toBeGreaterThan(0);
  for (const line of lines) {
    const m = /^(\S+):(\d+):(\d+): (error|warning) (.+) \[([a-z-]+)\]$/.exec(line);
    expect(m, `malformed diagnostic line: ${line}`).not.toBeNull();
    expect(m![1] === fileOrDir || m![1]!.startsWith(`${fileOrDir}/`), line).toBe(true);
    expect(Number(m![2])).toBeGreaterThan(0);
    expect(Number(m![3])).toBeGreaterThan(0);
    expect(Object.keys(CODES), line).toContain(m![6]);
    expect(line).not.toMatch(/^\s+at /);
  }
}

const invalidCases = readdirSync(INVALID)
  .filter((f) => f.endsWith('.yaml') && f !== 'skein.yaml')
  .map((f) => f.slice(0, -'.yaml'.length))
  .sort();

const configCases = readdirSync(INVALID_CONFIG, { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => e.name)
  .sort();

describe('skein validate: invalid workflows (golden)', () => {
  it('has at least 40 cases, each with a non-empty .out and no orphan .out files', () => {
    expect(invalidCases.length).toBeGreaterThanOrEqual(40);
    const outs = readdirSync(INVALID).filter((f) => f.endsWith('.out'));
    if (!UPDATE) {
      for (const c of invalidCases) {
        expect(existsSync(join(INVALID, `${c}.out`)), `${c}.out`).toBe(true);
        expect(readFileSync(join(INVALID, `${c}.out`), 'utf8').trim(), `${c}.out is empty`).not.toBe('');
      }
    }
    for (const o of outs) expect(invalidCases, `${o} has no .yaml`).toContain(o.slice(0, -'.out'.length));
  });

  it.each(invalidCases)('%s', (name) => {
    const text = asText(validate(INVALID, [`${name}.yaml`]));
    expectGolden(text, join(INVALID, `${name}.out`));
    expect(text.trim(), `${name}.yaml gave no diagnostics`).not.toBe('');
    expectWellFormed(text, `${name}.yaml`);
  });
});

describe('skein validate: invalid skein.yaml (golden)', () => {
  it('has the config cases', () => {
    for (const c of ['literal-password', 'unknown-credential-type', 'bad-env-var-name', 'custom-object-without-key', 'redefine-builtin-field', 'bad-field-type', 'unknown-top-level-key', 'no-config']) {
      expect(configCases).toContain(c);
    }
  });

  it.each(configCases)('%s', (name) => {
    const text = asText(validate(INVALID_CONFIG, [name]));
    expectGolden(text, join(INVALID_CONFIG, `${name}.out`));
    expect(text.trim(), `${name}/ gave no diagnostics`).not.toBe('');
    expectWellFormed(text, name);
  });

  it('never echoes a literal password', () => {
    const secret = 's3cret-Passw0rd!';
    expect(readFileSync(join(INVALID_CONFIG, 'literal-password', 'skein.yaml'), 'utf8')).toContain(secret);
    const list = validate(INVALID_CONFIG, ['literal-password']);
    expect(list.map((d) => d.code)).toEqual(['literal-secret']);
    expect(JSON.stringify(list)).not.toContain(secret);
  });
});

describe('skein validate: valid input', () => {
  const validFiles = readdirSync(VALID).filter((f) => f.endsWith('.yaml') && f !== 'skein.yaml');

  it('has at least 8 valid workflows', () => {
    expect(validFiles.length).toBeGreaterThanOrEqual(8);
  });

  it('test/fixtures/valid/ gives no diagnostics', () => {
    expect(asText(validate(VALID, ['.']))).toBe('');
  });

  it.each(validFiles)('valid/%s alone gives no diagnostics', (file) => {
    expect(asText(validate(VALID, [file]))).toBe('');
  });

  it('the repository workflows/ gives no diagnostics', () => {
    expect(asText(validate(WORKFLOWS, ['.']))).toBe('');
  });
});

describe('skein validate: hostile input', () => {
  const dirs: string[] = [];
  /** A temporary project directory with the invalid fixtures' skein.yaml. */
  const project = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'skein-validate-'));
    dirs.push(dir);
    copyFileSync(join(INVALID, 'skein.yaml'), join(dir, 'skein.yaml'));
    return dir;
  };
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('refuses a 10 MB file quickly with file-too-large, without reading it as YAML', () => {
    const dir = project();
    const line = 'description: padding padding padding padding padding padding padding padding\n';
    writeFileSync(join(dir, 'huge.yaml'), 'version: 1\n' + line.repeat(Math.ceil((10 * 1024 * 1024) / line.length)));
    const started = performance.now();
    const list = validate(dir, ['huge.yaml']);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(list).toEqual([
      expect.objectContaining({ code: 'file-too-large', severity: 'error', file: 'huge.yaml', line: 1, col: 1 }),
    ]);
    expect(list[0]!.message).toContain(`the limit is ${MAX_FILE_BYTES / 1024 / 1024} MB`);
  });

  const bombs: Array<[string, () => string]> = [
    [
      // Thirty levels of thirty aliases each: 30^30 values if expanded.
      'deep billion laughs',
      () => {
        let s = 'version: 1\nname: big-bomb\nobject: users\ntrigger:\n  on: [manual]\nl0: &l0 [lol, lol, lol]\n';
        for (let i = 1; i < 30; i++) s += `l${i}: &l${i} [${Array(30).fill(`*l${i - 1}`).join(', ')}]\n`;
        return s;
      },
    ],
    [
      // ~900 KB of aliases that are each cheap: yaml's alias resolution is quadratic in their number.
      'alias flood',
      () => {
        let s = 'version: 1\nname: alias-flood\n';
        for (let i = 0; s.length < 900 * 1024; i++) s += `a${i}: &a${i} x\nl${i}: [${Array(99).fill(`*a${i}`).join(', ')}]\n`;
        return s;
      },
    ],
    [
      // Few aliases, but each expands a wide anchor.
      'wide anchor',
      () => `version: 1\nname: wide\nw: &w [${Array(5000).fill('x').join(', ')}]\nl: [${Array(50).fill('*w').join(', ')}]\n`,
    ],
  ];

  it.each(bombs)('refuses an alias bomb (%s) with yaml-alias-limit in bounded time and memory', (_name, make) => {
    const dir = project();
    writeFileSync(join(dir, 'bomb.yaml'), make());
    const heapBefore = process.memoryUsage().heapUsed;
    const started = performance.now();
    const list = validate(dir, ['bomb.yaml']);
    const elapsed = performance.now() - started;
    const grown = process.memoryUsage().heapUsed - heapBefore;
    expect(list.map((d) => d.code)).toEqual(['yaml-alias-limit']);
    expect(list[0]!.line).toBeGreaterThan(1);
    expect(elapsed).toBeLessThan(2000);
    expect(grown).toBeLessThan(200 * 1024 * 1024);
  });

  it('an anchor may be aliased exactly 100 times; the 101st use is the one reported', () => {
    const dir = project();
    const doc = (n: number) => `version: 1\nname: many\na: &x v\nb: [${Array(n).fill('*x').join(', ')}]\n`;
    writeFileSync(join(dir, 'ok.yaml'), doc(100));
    expect(validate(dir, ['ok.yaml']).filter((d) => d.code === 'yaml-alias-limit')).toEqual([]);
    writeFileSync(join(dir, 'over.yaml'), doc(101));
    const list = validate(dir, ['over.yaml']).filter((d) => d.code === 'yaml-alias-limit');
    // "b: [" is 4 characters, each "*x, " 4 more: the 101st alias starts at column 5 + 100 * 4.
    expect(list).toEqual([expect.objectContaining({ line: 4, col: 5 + 100 * 4 })]);
  });

  it('the committed small alias bomb is refused at its first over-expanding alias', () => {
    const list = validate(INVALID, ['yaml-alias-bomb.yaml']);
    expect(list).toEqual([expect.objectContaining({ code: 'yaml-alias-limit', file: 'yaml-alias-bomb.yaml' })]);
  });

  it('a big mapping does not make duplicate-key detection quadratic', () => {
    const dir = project();
    let s = 'version: 1\nname: wide-map\n';
    for (let i = 0; s.length < 900 * 1024; i++) s += `k${i}: v${i}\n`;
    s += 'k7: again\n';
    writeFileSync(join(dir, 'wide.yaml'), s);
    const started = performance.now();
    const list = validate(dir, ['wide.yaml']);
    expect(performance.now() - started).toBeLessThan(5000);
    expect(list).toEqual([expect.objectContaining({ code: 'yaml-duplicate-key', message: expect.stringContaining('duplicate key "k7" (first on line 10)') })]);
  });

  it('__proto__ keys are reported and pollute nothing', () => {
    const dir = project();
    writeFileSync(
      join(dir, 'skein.yaml'),
      readFileSync(join(INVALID, 'skein.yaml'), 'utf8') + '  __proto__:\n    polluted: true\n',
    );
    writeFileSync(
      join(dir, 'proto.yaml'),
      [
        'version: 1',
        'name: proto',
        'object: users',
        '__proto__: { polluted: true, isAdmin: true }',
        'trigger:',
        '  on: [manual]',
        '  __proto__: { polluted: true }',
        'rules:',
        '  field: status',
        '  equals: Active',
        '  __proto__: { polluted: true }',
        'steps:',
        '  - id: activate',
        '    preset: qualys.activate_user',
        '    credentials: qualys',
        '    params:',
        '      login: "{{qualys_login}}"',
        '      __proto__: { polluted: true }',
        '    response:',
        '      constructor: { prototype: { polluted: true } }',
        '',
      ].join('\n'),
    );
    const list = validate(dir, ['proto.yaml']);
    const plain: Record<string, unknown> = {};
    expect(plain.polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
    expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted')).toBe(false);
    expect(([] as unknown as Record<string, unknown>).polluted).toBeUndefined();
    expect((Object as unknown as Record<string, unknown>).polluted).toBeUndefined();
    // Each __proto__ is reported where it is written, and skein.yaml's too.
    const at = list.filter((d) => d.message.includes('__proto__')).map((d) => `${d.file}:${d.line}:${d.col} ${d.code}`);
    expect(at).toEqual(expect.arrayContaining(['proto.yaml:4:1 schema-unknown-key', 'proto.yaml:7:3 schema-unknown-key', 'proto.yaml:11:3 schema-unknown-key', 'proto.yaml:18:7 schema-pattern', 'skein.yaml:21:3 schema-pattern']));
    // The same again for the committed case.
    expect(validate(INVALID, ['proto-key.yaml']).map((d) => d.code)).toEqual(['schema-unknown-key']);
    expect(plain.polluted).toBeUndefined();
  });
});
