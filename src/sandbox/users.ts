// User state: one directory per subscription (users, business units, login counters), plus a
// global login index for authentication. Logins are generated the way Qualys appears to do it.
import type { ResolvedSubscription } from './accounts.js';
import { UNASSIGNED_BU, isoSeconds, type UserRecord, type UserRole, type UserStatus } from './model.js';
import { generatePassword, type Random } from './random.js';

export interface BusinessUnit {
  title: string;
  /** Login of the primary contact (a Unit Manager), if any. */
  poc: string | null;
}

/** Everything one subscription owns. */
export class SubscriptionDirectory {
  readonly config: ResolvedSubscription;
  /** Ordered by user_id (users are never deleted: V1 has no delete). */
  readonly users: UserRecord[] = [];
  readonly byLogin = new Map<string, UserRecord>();
  readonly businessUnits = new Map<string, BusinessUnit>();
  /** Asset group title -> the business unit it belongs to. */
  readonly assetGroups: ReadonlyMap<string, string>;
  nextUserId = 1001;

  constructor(config: ResolvedSubscription) {
    this.config = config;
    this.assetGroups = new Map(config.asset_groups.map((g) => [g.title, g.business_unit]));
    this.businessUnits.set(UNASSIGNED_BU, { title: UNASSIGNED_BU, poc: null });
    for (const bu of config.business_units) this.ensureBusinessUnit(bu);
    for (const g of config.asset_groups) this.ensureBusinessUnit(g.business_unit);
  }

  /**
   * Groups a user of `businessUnit` may be given (reference §11): those of its unit, or any
   * group of the subscription for a user in Unassigned.
   */
  mayAssign(businessUnit: string, title: string): boolean {
    const unit = this.assetGroups.get(title);
    return unit !== undefined && (businessUnit === UNASSIGNED_BU || unit === businessUnit);
  }

  ensureBusinessUnit(title: string): BusinessUnit {
    let bu = this.businessUnits.get(title);
    if (!bu) {
      bu = { title, poc: null };
      this.businessUnits.set(title, bu);
    }
    return bu;
  }
}

/** Fields a new user needs; the rest gets defaults. */
export interface NewUserFields {
  role: UserRole;
  business_unit?: string;
  first_name: string;
  last_name: string;
  title?: string;
  phone?: string;
  fax?: string;
  email: string;
  address1?: string;
  address2?: string;
  city?: string;
  country?: string;
  state?: string;
  zip_code?: string;
  external_id?: string;
  time_zone_code?: string;
  asset_groups?: string[];
  /** Default `Pending Activation`. */
  status?: UserStatus;
  /** Default: generated. */
  login?: string;
  /** Default: generated (null for Contacts). */
  password?: string | null;
  /** ISO date; default now. */
  created_at?: string;
  last_login_at?: string | null;
  api_account?: boolean;
}

/** All subscriptions of a sandbox and the global login index used by authentication. */
export class UserDirectory {
  readonly subscriptions = new Map<string, SubscriptionDirectory>();
  private readonly logins = new Map<string, UserRecord>();
  private readonly nextSuffix = new Map<string, number>();

  constructor(configs: readonly ResolvedSubscription[]) {
    for (const c of configs) this.subscriptions.set(c.id, new SubscriptionDirectory(c));
  }

  subscription(id: string): SubscriptionDirectory {
    const sub = this.subscriptions.get(id);
    if (!sub) throw new Error(`unknown sandbox subscription "${id}"`);
    return sub;
  }

  /** Looks a login up across subscriptions (logins are globally unique, as on a Qualys platform). */
  byLogin(login: string): UserRecord | undefined {
    return this.logins.get(login);
  }

  /**
   * `<prefix><first initial><last initial><n>`, lower case, n counting from 1 (observed:
   * `quays_cw4`, `quays6qt84`, `acme_ab1`). The exact algorithm is UNCONFIRMED.
   */
  generateLogin(sub: SubscriptionDirectory, firstName: string, lastName: string): string {
    const initial = (s: string): string => (/[a-z]/.exec(s.toLowerCase())?.[0] ?? 'x');
    const base = sub.config.login_prefix + initial(firstName) + initial(lastName);
    // Remember where each base got to, so 10,000 "ab" users cost O(n), not O(n^2).
    for (let n = this.nextSuffix.get(base) ?? 1; ; n++) {
      const login = base + n;
      if (!this.logins.has(login)) {
        this.nextSuffix.set(base, n + 1);
        return login;
      }
    }
  }

  /** Adds a user record; fills defaults, generates login and password when not given. */
  create(sub: SubscriptionDirectory, fields: NewUserFields, rng: Random, nowMs: number): UserRecord {
    const login = fields.login ?? this.generateLogin(sub, fields.first_name, fields.last_name);
    if (this.logins.has(login)) throw new Error(`login "${login}" already exists`);
    const businessUnit = fields.business_unit ?? UNASSIGNED_BU;
    const bu = sub.ensureBusinessUnit(businessUnit);
    const rec: UserRecord = {
      subscription: sub.config.id,
      login,
      user_id: sub.nextUserId++,
      status: fields.status ?? 'Pending Activation',
      role: fields.role,
      business_unit: businessUnit,
      first_name: fields.first_name,
      last_name: fields.last_name,
      title: fields.title ?? '',
      phone: fields.phone ?? '',
      fax: fields.fax ?? '',
      email: fields.email,
      address1: fields.address1 ?? '',
      address2: fields.address2 ?? '',
      city: fields.city ?? '',
      country: fields.country ?? 'United States of America',
      state: fields.state ?? '',
      zip_code: fields.zip_code ?? '',
      external_id: fields.external_id ?? '',
      time_zone_code: fields.time_zone_code ?? 'Auto',
      asset_groups: fields.asset_groups ?? [],
      created_at: fields.created_at ?? isoSeconds(nowMs),
      last_login_at: fields.last_login_at ?? null,
      password: fields.password !== undefined ? fields.password : fields.role === 'contact' ? null : generatePassword(rng),
      unit_manager_poc: false,
      manager_poc: false,
      api_account: fields.api_account ?? false,
    };
    if (rec.role === 'unit_manager' && businessUnit !== UNASSIGNED_BU && bu.poc === null) {
      bu.poc = login;
      rec.unit_manager_poc = true;
    }
    if (rec.role === 'manager' && !sub.users.some((u) => u.manager_poc)) rec.manager_poc = true;
    this.insert(sub, rec);
    return rec;
  }

  /** Inserts a record as is (used when loading saved state). */
  insert(sub: SubscriptionDirectory, rec: UserRecord): void {
    sub.users.push(rec);
    sub.byLogin.set(rec.login, rec);
    this.logins.set(rec.login, rec);
    if (rec.user_id >= sub.nextUserId) sub.nextUserId = rec.user_id + 1;
    if (rec.unit_manager_poc) sub.ensureBusinessUnit(rec.business_unit).poc = rec.login;
    else sub.ensureBusinessUnit(rec.business_unit);
  }

  /** Every user of every subscription, in subscription then user-id order. */
  *all(): Iterable<UserRecord> {
    for (const sub of this.subscriptions.values()) yield* sub.users;
  }
}

/** Marks a record changed so its cached XML is rebuilt on the next list. */
export function touch(rec: UserRecord): void {
  rec.xml = undefined;
}
