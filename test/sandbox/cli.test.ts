import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runSandbox } from '../../src/cli/commands/sandbox.js';
import type { Io } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { basic, call } from './helpers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function memoryIo(): Io & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  const sink = (append: (s: string) => void): Writable =>
    new Writable({
      write(chunk, _enc, cb) {
        append(String(chunk));
        cb();
      },
    });
  return {
    stdout: sink((s) => (out += s)),
    stderr: sink((s) => (err += s)),
    env: {},
    cwd: ROOT,
    out: () => out,
    err: () => err,
  };
}

async function waitFor(check: () => string | undefined, what: string, ms = 10_000): Promise<string> {
  const until = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('skein sandbox (in-process)', () => {
  it.each([
    [['sandbox'], /expected exactly one simulator name, "qualys"; got none/],
    [['sandbox', 'aws'], /got "aws"/],
    [['sandbox', 'qualys', '--port', 'abc'], /--port must be an integer from 0 to 65535/],
    [['sandbox', 'qualys', '--bogus'], /^skein sandbox: unknown option --bogus \(see skein sandbox --help\) \[usage\]$/m],
    [['sandbox', 'qualys', '--latncy', '5'], /unknown option --latncy; did you mean "--latency"\?/],
    [['sandbox', 'qualys', '--port'], /^skein sandbox: --port needs a value \(see/m],
    [['sandbox', 'qualys', '--rate-limit', '5'], /--rate-limit must be CALLS\/SECONDS/],
    [['sandbox', 'qualys', '--concurrency', '0'], /--concurrency must be an integer from 1/],
    [['sandbox', 'qualys', '--faults', 'boom'], /--faults: unknown fault "boom"/],
    [['sandbox', 'qualys', '--to-wait-header', 'never'], /--to-wait-header must be one of/],
    [['sandbox', 'qualys', '--accounts', 'no/such/file.yaml'], /cannot read accounts file/],
  ])('exits 2 for %j', async (argv, message) => {
    const io = memoryIo();
    expect(await main(argv, io)).toBe(2);
    expect(io.err()).toMatch(message);
  });

  it('prints the URL and credentials, serves, and stops on the signal with exit code 0', async () => {
    const io = memoryIo();
    const stop = new AbortController();
    const done = runSandbox(['qualys', '--port', '0', '--users', '2', '--rate-limit', '100/60', '--concurrency', '4'], io, stop.signal);
    const url = await waitFor(() => /listening on (http:\/\/\S+)/.exec(io.out())?.[1], 'the URL');
    expect(io.out()).toContain('sandbox_mgr    sandbox-password  (manager, business unit Unassigned, subscription quays)');
    expect(io.out()).toContain('rate 100 calls per 60 s, concurrency 4');
    const r = await call(url, 'user_list.php');
    expect(r.status).toBe(200);
    expect(r.headers.get('x-ratelimit-limit')).toBe('100');
    stop.abort();
    expect(await done).toBe(0);
    expect(io.out()).toContain('Qualys sandbox stopped.');
    await expect(fetch(`${url}/__sandbox/health`)).rejects.toThrow();
  });
});

describe('skein sandbox (child process)', () => {
  it('runs `node bin/skein.js sandbox qualys --port 0`, answers, and exits 0 on SIGTERM', async () => {
    if (!existsSync(join(ROOT, 'dist/cli/commands/sandbox.js'))) {
      throw new Error('dist/ is missing the sandbox command: run `npm run build` (npm test does) before this test');
    }
    const child = spawn(process.execPath, ['bin/skein.js', 'sandbox', 'qualys', '--port', '0', '--users', '3'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += String(d)));
    child.stderr.on('data', (d) => (err += String(d)));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const url = await waitFor(() => {
        if (child.exitCode !== null) throw new Error(`sandbox exited early (${child.exitCode}): ${err}`);
        return /listening on (http:\/\/\S+)/.exec(out)?.[1];
      }, 'the sandbox URL');
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const res = await fetch(`${url}/msp/user_list.php`, { headers: { authorization: basic('sandbox_mgr', 'sandbox-password') } });
      expect(res.status).toBe(200);
      const body = await res.text();
      expect(body.match(/<USER>/g)).toHaveLength(6);
      const stats = (await (await fetch(`${url}/__sandbox/stats`)).json()) as { requests: number };
      expect(stats.requests).toBe(1);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(out).toContain('Qualys sandbox stopped.');
    expect(err).toBe('');
  });

  it('exits 1 at once, with one line, when its --state file cannot be written', () => {
    const r = spawnSync(process.execPath, ['bin/skein.js', 'sandbox', 'qualys', '--port', '0', '--state', join(tmpdir(), 'skein-no-such-dir', 'x', 'state.json')], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^skein sandbox: cannot write sandbox state file .*state\.json \(ENOENT\); check that its folder exists and is writable \[sandbox-state\]\n$/);
  });
});
