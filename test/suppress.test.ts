// Inline suppression through `skein validate`: honoured with a reason, refused without one,
// reported when it suppresses nothing.
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'skein-suppress-'));
  cpSync(join(import.meta.dirname, '..', 'workflows', 'skein.yaml'), join(dir, 'workflows', 'skein.yaml'), { recursive: true });
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const wf = (scheduleComment: string) => `version: 1
name: feb30
object: users
trigger:
  on: [schedule]
${scheduleComment}  schedule: "0 0 30 2 *"
steps:
  - id: s
    preset: qualys.activate_user
    credentials: qualys
    params: { login: "{{qualys_login}}" }
`;

describe('# skein-ignore', () => {
  it('without a directive the finding is an error', async () => {
    writeFileSync(join(dir, 'workflows', 'a.yaml'), wf(''));
    const r = await runCli(['validate', '--format', 'json'], dir);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).map((d: { code: string }) => d.code)).toEqual(['cron-never']);
  });

  it('a directive with a code and a reason suppresses the finding on the next line', async () => {
    writeFileSync(join(dir, 'workflows', 'a.yaml'), wf('  # skein-ignore: cron-never kept on purpose until the audit in March\n'));
    const r = await runCli(['validate', '--format', 'json'], dir);
    expect(JSON.parse(r.stdout)).toEqual([]);
    expect(r.code).toBe(0);
  });

  it('a directive without a reason is an error and suppresses nothing', async () => {
    writeFileSync(join(dir, 'workflows', 'a.yaml'), wf('  # skein-ignore: cron-never\n'));
    const r = await runCli(['validate', '--format', 'json'], dir);
    const codes = JSON.parse(r.stdout).map((d: { code: string; line: number }) => `${d.code}@${d.line}`);
    expect(codes).toEqual(['suppression-invalid@6', 'cron-never@7']);
    expect(r.code).toBe(1);
  });

  it('a directive for another code suppresses nothing and is reported as unused', async () => {
    writeFileSync(join(dir, 'workflows', 'a.yaml'), wf('  # skein-ignore: cron-invalid wrong code\n'));
    const r = await runCli(['validate', '--format', 'json'], dir);
    const codes = JSON.parse(r.stdout).map((d: { code: string; severity: string }) => `${d.code}:${d.severity}`);
    expect(codes).toEqual(['suppression-unused:warning', 'cron-never:error']);
  });

  it('a directive naming no diagnostic code is an error with a suggestion', async () => {
    writeFileSync(join(dir, 'workflows', 'a.yaml'), wf('  # skein-ignore: cron-nevr typo in the code\n'));
    const r = await runCli(['validate', '--format', 'json'], dir);
    const found = JSON.parse(r.stdout) as Array<{ code: string; message: string }>;
    expect(found.map((d) => d.code)).toEqual(['suppression-invalid', 'cron-never']);
    expect(found[0]!.message).toMatch(/names "cron-nevr", which is no diagnostic code.*did you mean "cron-never"\?/);
    expect(r.code).toBe(1);
  });
});
