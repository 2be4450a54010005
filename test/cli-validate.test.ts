// `skein validate` through the CLI entry point: every output format, exit codes, help, and no
// stack traces unless --debug. Runs main(argv, io) in-process; one test runs the real binary
// (bin/skein.js imports dist/, so build first: `npx tsc -p tsconfig.json`; `npm test` does).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CODES, type Diagnostic } from '../src/diagnostics.js';
import { formatSarif } from '../src/diagnostics-format.js';
import { runCli, type CliResult } from './helpers/cli.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const INVALID = fileURLToPath(new URL('./fixtures/invalid/', import.meta.url));
const VALID = fileURLToPath(new URL('./fixtures/valid/', import.meta.url));

/** A case with one semantic error and one with several, and their golden text output. */
const ONE = 'unknown-preset';
const SEVERAL = 'prototype-names';
const golden = (name: string) => readFileSync(`${INVALID}${name}.out`, 'utf8');

const STACK = /^\s+at .+/m;

function expectNoStack(r: CliResult): void {
  expect(r.stdout).not.toMatch(STACK);
  expect(r.stderr).not.toMatch(STACK);
}

describe('skein validate --format text', () => {
  it('prints the golden lines for an invalid file and exits 1', async () => {
    const r = await runCli(['validate', `${ONE}.yaml`], INVALID);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(golden(ONE));
    expect(r.stderr).toMatch(/^\d+ files? checked: 1 error, 0 warnings\n$/);
    expectNoStack(r);
  });

  it('--format text is the default; --quiet drops the summary', async () => {
    const r = await runCli(['validate', '--format', 'text', '--quiet', `${SEVERAL}.yaml`], INVALID);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(golden(SEVERAL));
    expect(r.stderr).toBe('');
  });

  it('exits 0 with no findings on valid workflows', async () => {
    const r = await runCli(['validate', '.'], VALID);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/checked: 0 errors, 0 warnings/);
    expectNoStack(r);
  });

  it('validates ./workflows by default', async () => {
    const r = await runCli(['validate'], ROOT);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^\d+ files checked: 0 errors, 0 warnings\n$/);
  });

  it('exits 1 for every kind of unreadable-as-workflow input, without a stack trace', async () => {
    for (const name of ['file-empty', 'file-encoding', 'yaml-syntax', 'yaml-alias-bomb', 'yaml-multi-document', 'proto-key', 'version-2']) {
      const r = await runCli(['validate', `${name}.yaml`], INVALID);
      expect(r.code, name).toBe(1);
      expect(r.stdout, name).toBe(golden(name));
      expectNoStack(r);
    }
  });
});

describe('skein validate --format json', () => {
  it('prints an array of diagnostic objects', async () => {
    const r = await runCli(['validate', '--format', 'json', `${SEVERAL}.yaml`], INVALID);
    expect(r.code).toBe(1);
    const list = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
    expect(Array.isArray(list)).toBe(true);
    expect(list.length).toBe(golden(SEVERAL).trim().split('\n').length);
    for (const d of list) {
      expect(d).toEqual(
        expect.objectContaining({
          file: `${SEVERAL}.yaml`,
          line: expect.any(Number),
          col: expect.any(Number),
          code: expect.any(String),
          severity: 'error',
          message: expect.any(String),
        }),
      );
      expect(Object.keys(CODES)).toContain(d.code);
      expect(d.message).not.toContain('\n');
    }
    // The same findings, in the same order, as the text format.
    const text = list.map((d) => `${d.file}:${d.line}:${d.col}: ${d.severity} ${d.message} [${d.code}]`).join('\n') + '\n';
    expect(text).toBe(golden(SEVERAL));
    expectNoStack(r);
  });

  it('prints [] and exits 0 when everything is valid', async () => {
    const r = await runCli(['validate', '--format', 'json', '.'], VALID);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([]);
  });
});

describe('skein validate --format github', () => {
  it('prints one ::error workflow command per finding', async () => {
    const r = await runCli(['validate', '--format', 'github', `${SEVERAL}.yaml`], INVALID);
    expect(r.code).toBe(1);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines.length).toBe(golden(SEVERAL).trim().split('\n').length);
    for (const line of lines) {
      expect(line).toMatch(new RegExp(`^::error file=${SEVERAL}\\.yaml,line=\\d+,col=\\d+(,[^:]*)?::.+ \\[[a-z-]+\\]$`));
    }
    expectNoStack(r);
  });

  it('prints nothing and exits 0 when everything is valid', async () => {
    const r = await runCli(['validate', '--format', 'github', '.'], VALID);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
  });
});

describe('skein validate --format sarif', () => {
  it('prints a SARIF 2.1.0 log with a result per finding', async () => {
    const r = await runCli(['validate', '--format', 'sarif', `${SEVERAL}.yaml`], INVALID);
    expect(r.code).toBe(1);
    const log = JSON.parse(r.stdout) as {
      version: string;
      runs: Array<{
        tool: { driver: { name: string; rules: Array<{ id: string }> } };
        results: Array<{ ruleId: string; level: string; message: { text: string }; locations: Array<{ physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number; startColumn: number } } }> }>;
      }>;
    };
    expect(log.version).toBe('2.1.0');
    expect(log.runs).toHaveLength(1);
    const run = log.runs[0]!;
    expect(run.tool.driver.name).toBe('skein');
    expect(run.results.length).toBe(golden(SEVERAL).trim().split('\n').length);
    const ruleIds = run.tool.driver.rules.map((x) => x.id);
    for (const res of run.results) {
      expect(Object.keys(CODES)).toContain(res.ruleId);
      expect(ruleIds).toContain(res.ruleId);
      expect(res.level).toBe('error');
      const loc = res.locations[0]!.physicalLocation;
      expect(loc.artifactLocation.uri).toBe(`${SEVERAL}.yaml`);
      expect(loc.region.startLine).toBeGreaterThan(0);
      expect(loc.region.startColumn).toBeGreaterThan(0);
    }
    expectNoStack(r);
  });

  it('percent-encodes artifact URIs (a path with a space is not a URI reference)', () => {
    const log = JSON.parse(formatSarif([{ code: 'unknown-field', severity: 'error', message: 'm', file: 'my dir/bad#1.yaml', line: 2, col: 3 } as Diagnostic], '0.0.0')) as {
      runs: Array<{ results: Array<{ locations: Array<{ physicalLocation: { artifactLocation: { uri: string } } }> }> }>;
    };
    expect(log.runs[0]!.results[0]!.locations[0]!.physicalLocation.artifactLocation.uri).toBe('my%20dir/bad%231.yaml');
  });

  it('prints a log without results and exits 0 when everything is valid', async () => {
    const r = await runCli(['validate', '--format', 'sarif', '.'], VALID);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { runs: Array<{ results: unknown[] }> }).runs[0]!.results).toEqual([]);
  });
});

describe('skein validate usage', () => {
  it('--help prints the usage and exits 0', async () => {
    const r = await runCli(['validate', '--help'], INVALID);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: skein validate');
    expect(r.stdout).toContain('--format');
  });

  it.each([
    ['an unknown flag', ['validate', '--bogus', `${ONE}.yaml`], /bogus/],
    ['an unknown format', ['validate', '--format', 'xml', `${ONE}.yaml`], /unknown format "xml"; formats: text, json, github, sarif/],
    ['a path that does not exist', ['validate', 'no-such-file.yaml'], /no-such-file\.yaml: no such file or directory/],
  ])('exits 2 for %s, with a one-line message and no stack trace', async (_what, argv, message) => {
    const r = await runCli(argv, INVALID);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expectNoStack(r);
  });

  it('shows a stack trace only with --debug', async () => {
    const plain = await runCli(['validate', 'no-such-file.yaml'], INVALID);
    expect(plain.stderr).not.toMatch(STACK);
    const debug = await runCli(['validate', 'no-such-file.yaml', '--debug'], INVALID);
    expect(debug.code).toBe(2);
    expect(debug.stderr).toMatch(STACK);
  });
});

describe('bin/skein.js validate (child process)', () => {
  it('prints the golden lines on stdout, exits 1, and prints no stack trace', () => {
    const bin = `${ROOT}bin/skein.js`;
    expect(existsSync(`${ROOT}dist/cli/main.js`), 'dist/ is missing: run `npx tsc -p tsconfig.json` (npm test builds first)').toBe(true);
    const r = spawnSync(process.execPath, [bin, 'validate', `${ONE}.yaml`], { cwd: INVALID, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 20_000 });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe(golden(ONE));
    expect(r.stderr).toMatch(/checked: 1 error, 0 warnings/);
    expect(r.stderr).not.toMatch(/^ {4}at /m);
  });
});
