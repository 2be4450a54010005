// Reads an `--accounts` file (JSON or YAML): either a list of API accounts, or an object
// `{ accounts: [...], subscriptions: [...] }`. Format documented in docs/sandbox.md.
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { SkeinError } from '../errors.js';
import { SandboxConfigError, resolveAccounts, type ApiAccountConfig, type SubscriptionConfig } from './accounts.js';
import { parseRateLimit, type LimitsConfig } from './limits.js';
import { fsReason } from '../fs-util.js';

export interface AccountsFile {
  accounts: ApiAccountConfig[];
  subscriptions: SubscriptionConfig[];
}

const ACCOUNT_KEYS = new Set(['username', 'password', 'role', 'business_unit', 'subscription', 'first_name', 'last_name', 'email']);
const SUBSCRIPTION_KEYS = new Set(['id', 'login_prefix', 'company', 'asset_groups', 'business_units', 'restrict_unit_manager_view', 'limits']);

export async function loadAccountsFile(path: string): Promise<AccountsFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new SkeinError('unreadable-path', `cannot read accounts file ${path}: ${fsReason(err)}`, { cause: err });
  }
  let doc: unknown;
  try {
    doc = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new SkeinError('sandbox-config', `${path}: cannot parse: ${(err as Error).message}`, { cause: err });
  }
  try {
    const file = parseAccountsDocument(doc);
    resolveAccounts(file.accounts, file.subscriptions); // fail early, with every problem listed
    return file;
  } catch (err) {
    if (err instanceof SandboxConfigError) throw new SkeinError('sandbox-config', `${path}: ${err.message}`, { cause: err });
    throw err;
  }
}

/** Shape checks for the parsed document (values are checked by resolveAccounts). */
export function parseAccountsDocument(doc: unknown): AccountsFile {
  const problems: string[] = [];
  const root = Array.isArray(doc) ? { accounts: doc } : doc;
  if (typeof root !== 'object' || root === null) throw new SandboxConfigError(['expected a list of accounts or an object with "accounts"']);
  const { accounts, subscriptions = [], ...extra } = root as Record<string, unknown>;
  for (const k of Object.keys(extra)) problems.push(`unknown key "${k}" (allowed: accounts, subscriptions)`);
  if (!Array.isArray(accounts)) problems.push('"accounts" must be a list');
  if (!Array.isArray(subscriptions)) problems.push('"subscriptions" must be a list');
  const unknownKeys = (list: unknown, allowed: Set<string>, label: string): void => {
    if (!Array.isArray(list)) return;
    list.forEach((item, i) => {
      if (typeof item !== 'object' || item === null) problems.push(`${label}[${i}] must be a mapping`);
      else for (const k of Object.keys(item)) if (!allowed.has(k)) problems.push(`${label}[${i}]: unknown key "${k}" (allowed: ${[...allowed].sort().join(', ')})`);
    });
  };
  unknownKeys(accounts, ACCOUNT_KEYS, 'accounts');
  unknownKeys(subscriptions, SUBSCRIPTION_KEYS, 'subscriptions');
  const subs = Array.isArray(subscriptions) ? (subscriptions as Array<Record<string, unknown>>) : [];
  const resolvedSubs: SubscriptionConfig[] = subs.map((s, i) => {
    const limits = s?.limits;
    if (limits === undefined) return s as unknown as SubscriptionConfig;
    return { ...(s as unknown as SubscriptionConfig), limits: parseLimitsObject(limits, `subscriptions[${i}].limits`, problems) };
  });
  if (problems.length > 0) {
    // Values are checked too when the shape allows, so unknown keys do not hide a bad role.
    const items = (list: unknown) => Array.isArray(list) && list.every((x) => typeof x === 'object' && x !== null);
    if (items(accounts) && items(subscriptions)) {
      try {
        resolveAccounts(accounts as ApiAccountConfig[], resolvedSubs);
      } catch (err) {
        if (!(err instanceof SandboxConfigError)) throw err;
        problems.push(...err.problems);
      }
    }
    throw new SandboxConfigError(problems);
  }
  return { accounts: accounts as ApiAccountConfig[], subscriptions: resolvedSubs };
}

/** `{ rate: "300/3600", concurrency: 2 }` in a file -> LimitsConfig. */
function parseLimitsObject(value: unknown, where: string, problems: string[]): LimitsConfig {
  if (typeof value !== 'object' || value === null) {
    problems.push(`${where} must be a mapping with rate and/or concurrency`);
    return {};
  }
  const v = value as Record<string, unknown>;
  const out: LimitsConfig = {};
  if (v.rate !== undefined && v.rate !== null) {
    const rate = typeof v.rate === 'string' ? parseRateLimit(v.rate) : null;
    if (rate) out.rate = rate;
    else problems.push(`${where}.rate must be "CALLS/SECONDS", e.g. "300/3600"`);
  }
  if (v.concurrency !== undefined && v.concurrency !== null) {
    if (Number.isInteger(v.concurrency) && (v.concurrency as number) >= 1) out.concurrency = v.concurrency as number;
    else problems.push(`${where}.concurrency must be an integer >= 1`);
  }
  for (const k of Object.keys(v)) if (k !== 'rate' && k !== 'concurrency') problems.push(`${where}: unknown key "${k}" (allowed: concurrency, rate)`);
  return out;
}
