// Shared helpers for the sandbox tests: start a sandbox on 127.0.0.1:0, call it over real HTTP,
// parse the XML answers.
import { XMLParser } from 'fast-xml-parser';
import { afterEach } from 'vitest';
import { QualysSandbox, type SandboxOptions } from '../../src/sandbox/index.js';

export const PASSWORD = 'sandbox-password';
export const MGR = 'sandbox_mgr';
export const ADMIN = 'sandbox_admin';
export const UNIT = 'sandbox_unit';

/** Parses with CDATA kept apart (`#cdata`) so tests can check which fields are CDATA. */
export const cdataParser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@_', cdataPropName: '#cdata', parseTagValue: false, parseAttributeValue: false });
/** Parses with CDATA merged into text: convenient for reading values. */
export const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@_', parseTagValue: false, parseAttributeValue: false, trimValues: true });

const running: QualysSandbox[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop()));
});

/** Starts a sandbox (stopped automatically after each test). Seed 1 unless given. */
export async function startSandbox(opts: SandboxOptions = {}): Promise<{ sandbox: QualysSandbox; url: string }> {
  const sandbox = new QualysSandbox({ seed: 1, ...opts });
  running.push(sandbox);
  const { url } = await sandbox.start({ port: 0, host: '127.0.0.1' });
  return { sandbox, url };
}

export interface CallResult {
  status: number;
  headers: Headers;
  body: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  xml: any;
}

export interface CallOptions {
  user?: string;
  password?: string;
  /** false: no Authorization header. */
  auth?: boolean;
  method?: 'GET' | 'POST';
  /** For POST: send these in the form body instead of the query string. */
  body?: Record<string, string> | string;
  headers?: Record<string, string>;
}

export function basic(user: string, password: string): string {
  return 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');
}

/** Calls `script` (e.g. `user.php`) with query parameters. */
export async function call(url: string, script: string, query: Record<string, string> | string = {}, opts: CallOptions = {}): Promise<CallResult> {
  const qs = typeof query === 'string' ? query : new URLSearchParams(query).toString();
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.auth !== false) headers.authorization = basic(opts.user ?? MGR, opts.password ?? PASSWORD);
  let body: string | undefined;
  if (opts.body !== undefined) {
    body = typeof opts.body === 'string' ? opts.body : new URLSearchParams(opts.body).toString();
    headers['content-type'] = 'application/x-www-form-urlencoded';
  }
  const res = await fetch(`${url}/msp/${script}${qs ? `?${qs}` : ''}`, { method: opts.method ?? (body !== undefined ? 'POST' : 'GET'), headers, body });
  const text = await res.text();
  let xml: unknown = undefined;
  if (text.startsWith('<?xml')) {
    try {
      xml = parser.parse(text);
    } catch {
      xml = undefined; // malformed-body faults
    }
  }
  return { status: res.status, headers: res.headers, body: text, xml };
}

/** The fields of a valid add request (a scanner in Unassigned, New York). */
export function addParams(overrides: Record<string, string | undefined> = {}): Record<string, string> {
  const base: Record<string, string | undefined> = {
    action: 'add',
    user_role: 'scanner',
    business_unit: 'Unassigned',
    first_name: 'Chris',
    last_name: 'Washington',
    title: 'Security Consultant',
    phone: '2126667777',
    email: 'chris.washington@example.com',
    address1: '500 Charles Avenue',
    city: 'New York',
    country: 'United States of America',
    state: 'New York',
    ...overrides,
  };
  return Object.fromEntries(Object.entries(base).filter(([, v]) => v !== undefined)) as Record<string, string>;
}

/** RETURN of a USER_OUTPUT / PASSWORD_CHANGE_OUTPUT answer. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function ret(r: CallResult, root = 'USER_OUTPUT'): { status: string; number?: string; message: string; [k: string]: any } {
  const node = r.xml?.[root]?.RETURN;
  if (!node) throw new Error(`no ${root}/RETURN in:\n${r.body}`);
  return { ...node, status: node['@_status'], number: node['@_number'], message: String(node.MESSAGE ?? '') };
}

/** Adds a user as the manager and returns its login and password (send_email=0). */
export async function addUser(url: string, overrides: Record<string, string | undefined> = {}, opts: CallOptions = {}): Promise<{ login: string; password: string }> {
  const r = await call(url, 'user.php', addParams({ send_email: '0', ...overrides }), opts);
  if (ret(r).status !== 'SUCCESS') throw new Error(`add failed:\n${r.body}`);
  return { login: r.xml.USER_OUTPUT.USER.USER_LOGIN, password: r.xml.USER_OUTPUT.USER.PASSWORD };
}

export const LIMIT_HEADERS = [
  'x-ratelimit-limit',
  'x-ratelimit-window-sec',
  'x-ratelimit-remaining',
  'x-ratelimit-towait-sec',
  'x-concurrency-limit-limit',
  'x-concurrency-limit-running',
];
