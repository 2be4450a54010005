// Credentials are read at run time from the environment or files; what is missing or empty is
// named before any request goes out.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveCredential } from '../../src/engine/credentials.js';
import type { ConfigFile } from '../../src/generated/config.js';

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

const config = (password: { env?: string; file?: string }): ConfigFile =>
  ({ version: 1, credentials: { q: { type: 'basic', username: { env: 'Q_USER' }, password } } }) as unknown as ConfigFile;

describe('credentials', () => {
  it('reads a password file (one trailing newline dropped) relative to skein.yaml', () => {
    dir = mkdtempSync(join(tmpdir(), 'skein-cred-'));
    writeFileSync(join(dir, 'pw'), 's3cret\r\n');
    const c = resolveCredential(config({ file: 'pw' }), 'q', { Q_USER: 'u' }, dir);
    expect(c).toMatchObject({ header: 'authorization', value: 'Basic ' + Buffer.from('u:s3cret').toString('base64') });
  });

  it('an empty password file, an empty or unset variable, and a missing file are credential-missing', () => {
    dir = mkdtempSync(join(tmpdir(), 'skein-cred-'));
    writeFileSync(join(dir, 'empty'), '\n');
    const fail = (cfg: ConfigFile, env: NodeJS.ProcessEnv) => {
      try {
        resolveCredential(cfg, 'q', env, dir!);
      } catch (err) {
        return err as { code: string; message: string };
      }
      throw new Error('resolved');
    };
    expect(fail(config({ file: 'empty' }), { Q_USER: 'u' })).toMatchObject({ code: 'credential-missing', message: expect.stringMatching(/password file .*empty is empty/) });
    expect(fail(config({ file: 'nope' }), { Q_USER: 'u' })).toMatchObject({ code: 'credential-missing', message: expect.stringMatching(/ENOENT/) });
    expect(fail(config({ env: 'Q_PW' }), { Q_USER: 'u', Q_PW: '' })).toMatchObject({ code: 'credential-missing', message: expect.stringMatching(/Q_PW/) });
    expect(fail(config({ env: 'Q_PW' }), { Q_PW: 'x' })).toMatchObject({ code: 'credential-missing', message: expect.stringMatching(/Q_USER/) });
  });
});
