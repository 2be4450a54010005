// API accounts (the credentials the sandbox accepts), subscriptions, and the §11 permission matrix.
import { SkeinError } from '../errors.js';
import type { LimitsConfig } from './limits.js';
import { API_ACCOUNT_ROLES, UNASSIGNED_BU, type ApiAccountRole, type SandboxUser, type UserRole } from './model.js';

/** One API account, as written in options or in an `--accounts` file. */
export interface ApiAccountConfig {
  username: string;
  password: string;
  role: ApiAccountRole;
  /** Default `Unassigned`; a unit_manager needs a custom business unit (created if missing). */
  business_unit?: string;
  /** Subscription id; default `quays`. Accounts of one subscription share users and limits. */
  subscription?: string;
  first_name?: string;
  last_name?: string;
  email?: string;
}

/** Per-subscription settings; a subscription named by an account but not listed here gets the defaults. */
export interface SubscriptionConfig {
  id: string;
  /** Prefix of generated logins (`<prefix><initials><n>`); default the id. */
  login_prefix?: string;
  /** `COMPANY` in user_list.php; default `Quays Sandbox, Inc.`. */
  company?: string;
  /**
   * Asset groups `asset_groups` may name: a title (a subscription-level group, in Unassigned) or
   * `{ title, business_unit }`. Default a small fixed list of subscription-level groups.
   */
  asset_groups?: Array<string | AssetGroupConfig>;
  /** Custom business units that exist from the start (besides `Unassigned` and the accounts' units). */
  business_units?: string[];
  /** Unit Managers see nothing of users outside their unit (default false: partial details). */
  restrict_unit_manager_view?: boolean;
  /** Limits for this subscription; overrides the sandbox-wide limits field by field. */
  limits?: LimitsConfig;
}

export interface AssetGroupConfig {
  title: string;
  /** The unit the group belongs to; default Unassigned (the subscription level). */
  business_unit?: string;
}

export interface AssetGroup {
  title: string;
  business_unit: string;
}

export interface ApiAccount extends Required<Omit<ApiAccountConfig, 'first_name' | 'last_name' | 'email'>> {
  first_name?: string | undefined;
  last_name?: string | undefined;
  email?: string | undefined;
}

export interface ResolvedSubscription {
  id: string;
  login_prefix: string;
  company: string;
  asset_groups: AssetGroup[];
  business_units: string[];
  restrict_unit_manager_view: boolean;
  limits?: LimitsConfig | undefined;
}

export const DEFAULT_SUBSCRIPTION = 'quays';
export const DEFAULT_ASSET_GROUPS = ['All', 'New York', 'Hong Kong', 'London', 'Web Servers', 'Workstations', 'AG 24'];

/** The accounts a sandbox accepts when none are configured. Fake, sandbox-only credentials. */
export const DEFAULT_ACCOUNTS: readonly ApiAccountConfig[] = [
  { username: 'sandbox_mgr', password: 'sandbox-password', role: 'manager', first_name: 'Sandbox', last_name: 'Manager' },
  { username: 'sandbox_admin', password: 'sandbox-password', role: 'administrator', first_name: 'Sandbox', last_name: 'Administrator' },
  {
    username: 'sandbox_unit',
    password: 'sandbox-password',
    role: 'unit_manager',
    business_unit: 'Engineering',
    first_name: 'Sandbox',
    last_name: 'Unit Manager',
  },
];

/** Raised for an unusable accounts/subscriptions configuration; lists every problem found. */
export class SandboxConfigError extends SkeinError {
  constructor(readonly problems: readonly string[]) {
    super('sandbox-config', `invalid sandbox configuration: ${problems.join('; ')}`);
  }
}

/** Checks and fills defaults. Collects all problems before throwing. */
export function resolveAccounts(
  accounts: readonly ApiAccountConfig[],
  subscriptions: readonly SubscriptionConfig[] = [],
): { accounts: ApiAccount[]; subscriptions: ResolvedSubscription[] } {
  const problems: string[] = [];
  if (accounts.length === 0) problems.push('at least one API account is required');
  const subs = new Map<string, ResolvedSubscription>();
  for (const [i, s] of subscriptions.entries()) {
    if (typeof s?.id !== 'string' || s.id === '') problems.push(`subscriptions[${i}].id must be a non-empty string`);
    else if (subs.has(s.id)) problems.push(`subscriptions[${i}]: duplicate id "${s.id}"`);
    else subs.set(s.id, resolveSubscription(s, `subscriptions[${i}]`, problems));
  }
  const seen = new Set<string>();
  const out: ApiAccount[] = [];
  for (const [i, a] of accounts.entries()) {
    const where = `accounts[${i}]`;
    // Every field is checked, whatever the username: one run of the sandbox lists all problems.
    if (typeof a?.username !== 'string' || !/^[A-Za-z0-9_.@-]+$/.test(a.username)) problems.push(`${where}.username must be letters, digits or _.@-`);
    else if (seen.has(a.username)) problems.push(`${where}: duplicate username "${a.username}"`);
    else seen.add(a.username);
    if (typeof a.password !== 'string' || a.password === '') problems.push(`${where}.password must be a non-empty string`);
    const roles = [...API_ACCOUNT_ROLES].sort().join(', ');
    if (a.role === undefined || a.role === null) problems.push(`${where}.role is missing; give one of ${roles}`);
    else if (!(API_ACCOUNT_ROLES as readonly string[]).includes(a.role)) problems.push(`${where}.role "${String(a.role)}" is not one of ${roles}`);
    const bu = a.business_unit ?? UNASSIGNED_BU;
    if (a.role === 'unit_manager' && bu === UNASSIGNED_BU) problems.push(`${where}: a unit_manager needs a business_unit other than Unassigned`);
    if (a.role === 'manager' && bu !== UNASSIGNED_BU) problems.push(`${where}: a manager belongs to business unit Unassigned`);
    const subscription = a.subscription ?? DEFAULT_SUBSCRIPTION;
    if (!subs.has(subscription)) subs.set(subscription, resolveSubscription({ id: subscription }, where, problems));
    out.push({
      username: a.username,
      password: a.password,
      role: a.role,
      business_unit: bu,
      subscription,
      first_name: a.first_name,
      last_name: a.last_name,
      email: a.email,
    });
  }
  if (problems.length > 0) throw new SandboxConfigError(problems);
  return { accounts: out, subscriptions: [...subs.values()] };
}

function resolveSubscription(s: SubscriptionConfig, where: string, problems: string[]): ResolvedSubscription {
  const groups: AssetGroup[] = [];
  for (const [j, g] of (s.asset_groups ?? DEFAULT_ASSET_GROUPS).entries()) {
    const title = typeof g === 'string' ? g : g?.title;
    const unit = typeof g === 'string' ? UNASSIGNED_BU : (g?.business_unit ?? UNASSIGNED_BU);
    if (typeof title !== 'string' || title.trim() === '' || typeof unit !== 'string' || unit === '') {
      problems.push(`${where}.asset_groups[${j}] must be a title or { title, business_unit }`);
    } else groups.push({ title, business_unit: unit });
  }
  return {
    id: s.id,
    login_prefix: (s.login_prefix ?? s.id).toLowerCase(),
    company: s.company ?? 'Quays Sandbox, Inc.',
    asset_groups: groups,
    business_units: s.business_units ?? ['Engineering', 'Finance', 'Operations'],
    restrict_unit_manager_view: s.restrict_unit_manager_view ?? false,
    limits: s.limits,
  };
}

// ---- Permission matrix (§11) -------------------------------------------------------------------

type Caller = Pick<SandboxUser, 'login' | 'role' | 'business_unit'>;
type Target = Pick<SandboxUser, 'login' | 'role' | 'business_unit'>;

/** Operations on an existing user. */
export type UserOperation = 'edit' | 'activate' | 'deactivate' | 'password_change';

/** Roles that may use user.php / password_change.php / user_list.php at all. */
export function managesUsers(role: UserRole): boolean {
  return role === 'manager' || role === 'unit_manager' || role === 'administrator';
}

const PRIVILEGED: ReadonlySet<UserRole> = new Set(['manager', 'administrator']);

/**
 * May `caller` apply `op` to `target`?
 * - Manager: everyone (password change: everyone but itself).
 * - Administrator: everyone except Managers and Administrators. For password change the sandbox
 *   follows QG-PWD (the official page): everyone except Managers and itself, so other
 *   Administrators are allowed (the sources conflict; see docs/sandbox.md).
 * - Unit Manager: users of its own business unit (password change: except itself).
 */
export function mayTarget(caller: Caller, target: Target, op: UserOperation): boolean {
  const self = caller.login === target.login;
  if (op === 'password_change' && self) return false;
  switch (caller.role) {
    case 'manager':
      return true;
    case 'administrator':
      if (op === 'password_change') return target.role !== 'manager';
      return !PRIVILEGED.has(target.role);
    case 'unit_manager':
      // Its own unit only, and never a Manager or Administrator placed there: a Unit Manager may
      // not add those, so it may not take them over either.
      return target.business_unit === caller.business_unit && !PRIVILEGED.has(target.role);
    default:
      return false;
  }
}

/** Why an add is refused, or null when it is allowed. */
export function addRefusal(caller: Caller, role: UserRole, businessUnit: string): 'user_role' | 'business_unit' | null {
  switch (caller.role) {
    case 'manager':
      return null;
    case 'administrator':
      return PRIVILEGED.has(role) ? 'user_role' : null;
    case 'unit_manager':
      if (PRIVILEGED.has(role)) return 'user_role';
      return businessUnit === caller.business_unit ? null : 'business_unit';
    default:
      return 'user_role';
  }
}
