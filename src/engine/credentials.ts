// Resolves named credentials at run time from environment variables or files. Secret values are
// never read from YAML; a missing one is an error naming the variable or file, raised before
// any request is sent.
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { ConfigFile } from '../generated/config.js';
import { SkeinError } from '../errors.js';
import { MIN_SECRET_LENGTH, secretForms } from '../secret-names.js';

export interface ResolvedCredential {
  name: string;
  /** The header it adds to a request (lower case: `authorization`, `x-api-key`); never logged or stored. */
  header: string;
  value: string;
  /**
   * Every spelling of its secret parts (the header value, the token or password, Basic's base64)
   * that must be cut out of a vendor's answer before it is read: a server that echoes the request
   * would otherwise put the credential into run history.
   */
  secretForms: readonly string[];
}

type Source = string | { env?: string; file?: string };

function readSource(cred: string, part: string, src: Source, env: NodeJS.ProcessEnv, baseDir: string): string {
  if (typeof src === 'string') return src;
  if (src.env !== undefined) {
    const v = env[src.env];
    if (v === undefined || v === '') throw new SkeinError('credential-missing', `credential "${cred}": environment variable ${src.env} (its ${part}) is not set`);
    return v;
  }
  const path = isAbsolute(src.file!) ? src.file! : resolve(baseDir, src.file!);
  let v: string;
  try {
    v = readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    throw new SkeinError('credential-missing', `credential "${cred}": cannot read its ${part} from ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  // As with an empty variable: an empty file is a secret not yet written, not an empty password.
  if (v === '') throw new SkeinError('credential-missing', `credential "${cred}": its ${part} file ${path} is empty`);
  return v;
}

function withForms(name: string, header: string, value: string, secrets: string[]): ResolvedCredential {
  const forms = [...new Set(secrets.filter((s) => s.length >= MIN_SECRET_LENGTH).flatMap(secretForms))];
  // A spelling that holds another is covered by cutting out the shorter one ("Basic xyz" leaves
  // "Basic [REDACTED]"): every answer is searched for each one kept, so fewer is cheaper.
  const minimal = forms.filter((f) => !forms.some((g) => g !== f && f.includes(g)));
  return { name, header, value, secretForms: minimal };
}

/** Resolves one credential; `baseDir` anchors relative file paths (the skein.yaml folder). */
export function resolveCredential(config: ConfigFile, name: string, env: NodeJS.ProcessEnv, baseDir: string): ResolvedCredential {
  const c = config.credentials?.[name];
  if (!c) throw new SkeinError('unknown-credential', `credential "${name}" is not declared in skein.yaml`);
  const read = (part: string, src: unknown) => readSource(name, part, src as Source, env, baseDir);
  switch (c.type) {
    case 'bearer': {
      const token = read('token', c.token);
      return withForms(name, 'authorization', `Bearer ${token}`, [token]);
    }
    case 'header': {
      const value = read('value', c.value);
      return withForms(name, c.header!.toLowerCase(), value, [value]);
    }
    default: {
      const username = read('username', c.username);
      const password = read('password', c.password);
      const basic = Buffer.from(`${username}:${password}`).toString('base64');
      // Unpadded, it is found however the "=" padding was escaped (%3D, %3d, \u003d).
      return withForms(name, 'authorization', `Basic ${basic}`, [basic.replace(/=+$/, ''), password]);
    }
  }
}
