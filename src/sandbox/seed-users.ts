// Deterministic, realistic seed data: the users behind the API accounts, and N generated users
// with mixed roles, statuses, business units, countries and external ids.
import type { ApiAccount } from './accounts.js';
import { STATES_BY_COUNTRY } from './countries.js';
import { UNASSIGNED_BU, isoSeconds, type UserRole, type UserStatus } from './model.js';
import type { Random } from './random.js';
import type { SubscriptionDirectory, UserDirectory } from './users.js';

const FIRST = ['Alex', 'Priya', 'Chris', 'Maria', 'Kenji', 'Fatima', 'Liam', 'Sofia', 'Noah', 'Aisha', 'Lucas', 'Emma', 'Mateo', 'Olivia', 'Ravi', 'Chloe', 'Daniel', 'Hana', 'Omar', 'Grace', 'Ivan', 'Zoe', 'Samuel', 'Leila', 'Ethan', 'Mei', 'Jonas', 'Nora', 'Tomas', 'Amara'];
const LAST = ['Kim', 'Washington', 'Patel', 'Garcia', 'Tanaka', 'Okafor', 'Murphy', 'Rossi', 'Schmidt', 'Haddad', 'Silva', 'Nguyen', 'Johansson', 'Dubois', 'Kowalski', 'Chen', 'Holden', 'Ibrahim', 'Novak', 'Fischer', 'Costa', 'Singh', 'Brown', 'Lopez', 'Yilmaz', 'Andersen', 'Moreau', 'Sato', 'Walsh', 'Mensah'];
const TITLES = ['Security Analyst', 'Security Consultant', 'IT Administrator', 'Vulnerability Engineer', 'SOC Analyst', 'Compliance Officer', 'Network Engineer', 'DevOps Engineer', 'Auditor', 'CISO'];
const PLACES: ReadonlyArray<readonly [country: string, city: string, state: string]> = [
  ['United States of America', 'New York', 'New York'],
  ['United States of America', 'San Francisco', 'California'],
  ['United States of America', 'Austin', 'Texas'],
  ['United States of America', 'Seattle', 'Washington'],
  ['United States of America', 'Boston', 'Massachusetts'],
  ['United Kingdom', 'London', ''],
  ['Germany', 'Berlin', ''],
  ['France', 'Paris', ''],
  ['India', 'Pune', 'Maharashtra'],
  ['Canada', 'Toronto', 'Ontario'],
  ['Australia', 'Sydney', 'New South Wales'],
  ['Japan', 'Tokyo', ''],
];

function weighted<T>(rng: Random, table: ReadonlyArray<readonly [T, number]>): T {
  const total = table.reduce((n, [, w]) => n + w, 0);
  let r = rng.next() * total;
  for (const [value, w] of table) {
    r -= w;
    if (r < 0) return value;
  }
  return (table[table.length - 1] as readonly [T, number])[0];
}

const ROLE_WEIGHTS: ReadonlyArray<readonly [UserRole, number]> = [
  ['scanner', 40],
  ['reader', 25],
  ['unit_manager', 10],
  ['contact', 10],
  ['administrator', 8],
  ['manager', 7],
];
const STATUS_WEIGHTS: ReadonlyArray<readonly [UserStatus, number]> = [
  ['Active', 60],
  ['Pending Activation', 25],
  ['Inactive', 15],
];
/** Seed dates are fixed, not "now", so two runs with one seed produce identical data. */
const EPOCH = Date.UTC(2024, 0, 1);
const DAY = 86_400_000;

/** Creates the user record behind each configured API account (Active, pinned password). */
export function seedAccountUsers(directory: UserDirectory, accounts: readonly ApiAccount[], rng: Random): void {
  for (const a of accounts) {
    if (directory.byLogin(a.username)) continue;
    const [first, ...rest] = a.username.split(/[_.-]/);
    directory.create(
      directory.subscription(a.subscription),
      {
        login: a.username,
        password: a.password,
        role: a.role,
        business_unit: a.business_unit,
        first_name: a.first_name ?? capitalize(first ?? a.username),
        last_name: a.last_name ?? (capitalize(rest.join(' ')) || 'Account'),
        title: 'API Account',
        phone: '+1 555 0100',
        email: a.email ?? `${a.username}@example.com`,
        address1: '1 Sandbox Way',
        city: 'San Francisco',
        country: 'United States of America',
        state: 'California',
        zip_code: '94111',
        status: 'Active',
        created_at: isoSeconds(EPOCH - 400 * DAY),
        api_account: true,
      },
      rng,
      EPOCH,
    );
  }
}

function capitalize(s: string): string {
  return s === '' ? s : s[0]!.toUpperCase() + s.slice(1);
}

/** Adds `count` generated users to `sub`. */
export function seedUsers(directory: UserDirectory, sub: SubscriptionDirectory, count: number, rng: Random): void {
  const customUnits = [...sub.businessUnits.keys()].filter((b) => b !== UNASSIGNED_BU);
  const groups = [...sub.assetGroups.keys()];
  const emails = new Set(sub.users.map((u) => u.email));
  for (let i = 0; i < count; i++) {
    const first = rng.pick(FIRST);
    const last = rng.pick(LAST);
    let role = weighted(rng, ROLE_WEIGHTS);
    if (role === 'unit_manager' && customUnits.length === 0) role = 'scanner';
    const bu = role === 'manager' ? UNASSIGNED_BU : role === 'unit_manager' ? rng.pick(customUnits) : rng.next() < 0.5 ? UNASSIGNED_BU : rng.pick(customUnits.length > 0 ? customUnits : [UNASSIGNED_BU]);
    const status = weighted(rng, STATUS_WEIGHTS);
    const [country, city, state] = rng.pick(PLACES);
    let email = `${first}.${last}@example.com`.toLowerCase();
    for (let n = 2; emails.has(email); n++) email = `${first}.${last}${n}@example.com`.toLowerCase();
    emails.add(email);
    const created = EPOCH - (30 + rng.int(700)) * DAY - rng.int(DAY);
    const lastLogin = status === 'Pending Activation' ? null : created + rng.int(25) * DAY + rng.int(DAY);
    const assetGroups = role === 'scanner' || role === 'reader' ? groups.filter(() => rng.next() < 0.25).filter((g) => sub.mayAssign(bu, g)).slice(0, 3) : [];
    directory.create(
      sub,
      {
        role,
        business_unit: bu,
        first_name: first,
        last_name: last,
        title: rng.pick(TITLES),
        phone: `+1 555 ${String(1000 + rng.int(9000))}`,
        email,
        address1: `${1 + rng.int(999)} Market Street`,
        city,
        country,
        state: STATES_BY_COUNTRY.has(country) ? state : '',
        zip_code: String(10000 + rng.int(89999)),
        external_id: rng.next() < 0.5 ? `EMP${100000 + i}` : '',
        time_zone_code: 'Auto',
        asset_groups: assetGroups,
        status: role === 'contact' ? 'Pending Activation' : status,
        created_at: isoSeconds(created),
        last_login_at: role === 'contact' || lastLogin === null ? null : isoSeconds(lastLogin),
      },
      rng,
      EPOCH,
    );
  }
}
