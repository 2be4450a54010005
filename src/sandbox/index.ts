// Public API of the Qualys sandbox: a local simulator of the Qualys V1 user-management API
// (/msp/user.php, user_list.php, password_change.php, acceptEULA.php) for trying workflows
// without a Qualys account, and the test double the engine tests talk to over real HTTP.
import { SkeinError } from '../errors.js';
import {
  DEFAULT_ACCOUNTS,
  resolveAccounts,
  type ApiAccount,
  type ApiAccountConfig,
  type ResolvedSubscription,
  type SubscriptionConfig,
} from './accounts.js';
import { FaultInjector, parseFaultSpec, type FaultSpec } from './faults.js';
import { LimitTracker, type LimitsConfig } from './limits.js';
import { USER_ROLES, USER_STATUSES, snapshotUser, type SandboxUser, type UserRecord } from './model.js';
import { deriveSeed, randomSeed, seededRandom, type Random } from './random.js';
import { seedAccountUsers, seedUsers } from './seed-users.js';
import { SandboxHttpServer, type SandboxRuntime } from './server.js';
import { RequestStats, type SandboxStats } from './stats.js';
import { StateFileWriter, checkState, exportState, readStateFile, type SandboxState } from './state-file.js';
import { UserDirectory, type NewUserFields } from './users.js';
import { DEFAULT_DTD_BASE } from './xml.js';

export type { ApiAccount, ApiAccountConfig, SubscriptionConfig } from './accounts.js';
export { DEFAULT_ACCOUNTS } from './accounts.js';
export { loadAccountsFile, type AccountsFile } from './accounts-file.js';
export { parseFaultSpec, FaultSpecError, type FaultRule, type FaultSpec, type FaultKind } from './faults.js';
export { parseRateLimit, UNLIMITED, type LimitsConfig, type RateLimit, type ToWaitHeaderMode } from './limits.js';
export type { SandboxUser, UserRole, UserStatus } from './model.js';
export type { SandboxStats, ScriptStats } from './stats.js';
export type { SandboxState } from './state-file.js';
export type { NewUserFields } from './users.js';

export interface SandboxOptions {
  /** API accounts accepted by Basic auth. Default DEFAULT_ACCOUNTS (sandbox_mgr, sandbox_admin, sandbox_unit). */
  accounts?: ApiAccountConfig[];
  /** Per-subscription settings (login prefix, company, asset groups, limits). */
  subscriptions?: SubscriptionConfig[];
  /** Number of generated users per subscription (deterministic for a seed). Default 0. */
  users?: number;
  /** Seed for generated logins, passwords, seed users and probabilistic faults. Default random. */
  seed?: number;
  /** Limits for every (subscription, script). Default: no rate limit, unlimited concurrency. */
  limits?: LimitsConfig;
  /** Fault spec string (see parseFaultSpec) or parsed spec. Default none. */
  faults?: string | FaultSpec;
  /** Latency added to every /msp/ call, in ms. Default 0. */
  latencyMs?: number;
  /** Clock (ms since epoch). Default Date.now. Drives `at=` stamps, dates and the rate window. */
  now?: () => number;
  /** JSON file to load state from on construction and to save to after every change. */
  stateFile?: string;
  /** A background save of the state file failed (it is retried on the next change). Default: one line on stderr. */
  onStateError?: (err: SkeinError) => void;
  /** Base URL in DOCTYPE lines. Default `https://qualysapi.qualys.com`. */
  dtdBase?: string;
  /** Serve the /__sandbox/ JSON control API. Default true. */
  controlApi?: boolean;
}

export class QualysSandbox {
  /** The configured API accounts (their passwords are sandbox-only fakes). */
  readonly accounts: readonly ApiAccount[];
  private readonly accountMap: ReadonlyMap<string, ApiAccount>;
  private readonly subscriptionConfigs: readonly ResolvedSubscription[];
  private readonly seed: number;
  private readonly seedUserCount: number;
  private readonly clock: () => number;
  private readonly limitTracker: LimitTracker;
  private readonly faultInjector: FaultInjector;
  private readonly requestStats = new RequestStats();
  private readonly writer: StateFileWriter | null;
  private readonly controlApi: boolean;
  private readonly dtdBase: string;
  private directory: UserDirectory;
  private rng: Random;
  private latency: number;
  private http: SandboxHttpServer | null = null;
  private baseUrl: string | null = null;

  constructor(opts: SandboxOptions = {}) {
    const resolved = resolveAccounts(opts.accounts ?? DEFAULT_ACCOUNTS, opts.subscriptions ?? []);
    this.accounts = resolved.accounts;
    this.accountMap = new Map(resolved.accounts.map((a) => [a.username, a]));
    this.subscriptionConfigs = resolved.subscriptions;
    this.seed = opts.seed ?? randomSeed();
    this.seedUserCount = opts.users ?? 0;
    if (!Number.isInteger(this.seedUserCount) || this.seedUserCount < 0) throw new SkeinError('sandbox-config', 'users must be an integer >= 0');
    this.clock = opts.now ?? Date.now;
    this.latency = opts.latencyMs ?? 0;
    this.dtdBase = opts.dtdBase ?? DEFAULT_DTD_BASE;
    this.controlApi = opts.controlApi ?? true;
    const perSubscription = new Map<string, LimitsConfig>();
    for (const s of resolved.subscriptions) if (s.limits) perSubscription.set(s.id, s.limits);
    this.limitTracker = new LimitTracker(opts.limits ?? {}, perSubscription, this.clock);
    const faults = typeof opts.faults === 'string' ? parseFaultSpec(opts.faults) : (opts.faults ?? { rules: [] });
    this.faultInjector = new FaultInjector(faults, deriveSeed(this.seed, 7));
    this.rng = seededRandom(this.seed);
    this.directory = this.freshDirectory();
    const onStateError = opts.onStateError ?? ((err: SkeinError) => void process.stderr.write(`skein sandbox: ${err.message} [${err.code}]\n`));
    this.writer = opts.stateFile ? new StateFileWriter(opts.stateFile, () => this.toJSON(), onStateError) : null;
    if (opts.stateFile) {
      const saved = readStateFile(opts.stateFile);
      if (saved) this.load(saved);
    }
  }

  /** The base URL once started (e.g. `http://127.0.0.1:8765`), else null. */
  get url(): string | null {
    return this.baseUrl;
  }

  /** Listens on `host:port` (default 127.0.0.1, port 0 = any free port). */
  async start(opts: { port?: number; host?: string } = {}): Promise<{ url: string; port: number }> {
    if (this.http) throw new SkeinError('sandbox-started', 'the sandbox is already started');
    // The state file is written once before serving: a path that cannot be written fails here,
    // not after a client was told its change succeeded.
    if (this.writer) {
      this.writer.schedule();
      await this.writer.flush();
    }
    const http = new SandboxHttpServer(this.runtime());
    const result = await http.listen(opts.port ?? 0, opts.host ?? '127.0.0.1');
    this.http = http;
    this.baseUrl = result.url;
    return result;
  }

  /** Closes the server and all connections, and writes pending state. Safe to call twice. */
  async stop(): Promise<void> {
    const http = this.http;
    this.http = null;
    this.baseUrl = null;
    if (http) await http.close();
    await this.flush();
  }

  /** Writes pending state to the state file now (no-op without one). */
  async flush(): Promise<void> {
    await this.writer?.flush();
  }

  /** A snapshot of every user of every subscription, API-account users included. */
  users(): SandboxUser[] {
    return [...this.directory.all()].map(snapshotUser);
  }

  findUser(login: string): SandboxUser | undefined {
    const rec = this.directory.byLogin(login);
    return rec ? snapshotUser(rec) : undefined;
  }

  /** The first user with this email (case-insensitive); duplicates are possible, as on Qualys. */
  findUserByEmail(email: string): SandboxUser | undefined {
    const want = email.toLowerCase();
    for (const rec of this.directory.all()) if (rec.email.toLowerCase() === want) return snapshotUser(rec);
    return undefined;
  }

  /**
   * Seeds a user directly (no API validation beyond role/status/login checks). Login and password
   * are generated unless given; `subscription` defaults to the first account's.
   */
  addUser(fields: NewUserFields & { subscription?: string }): SandboxUser {
    const subId = fields.subscription ?? (this.accounts[0] as ApiAccount).subscription;
    const sub = this.directory.subscriptions.get(subId);
    if (!sub) throw new SkeinError('sandbox-user', `unknown subscription "${subId}"`);
    if (!(USER_ROLES as readonly string[]).includes(fields.role)) throw new SkeinError('sandbox-user', `unknown role "${fields.role}"`);
    if (fields.status !== undefined && !(USER_STATUSES as readonly string[]).includes(fields.status)) {
      throw new SkeinError('sandbox-user', `unknown status "${fields.status}"`);
    }
    if (fields.login !== undefined && this.directory.byLogin(fields.login)) throw new SkeinError('sandbox-user', `login "${fields.login}" already exists`);
    const { subscription: _s, ...rest } = fields;
    const rec = this.directory.create(sub, rest, this.rng, this.clock());
    this.changed();
    return snapshotUser(rec);
  }

  stats(): SandboxStats {
    return this.requestStats.snapshot();
  }

  /** Replaces the fault rules (a spec string such as `500:0.1,drop:every=7`); null or '' clears them. */
  setFaults(spec: string | FaultSpec | null): void {
    this.faultInjector.set(spec === null || spec === '' ? { rules: [] } : typeof spec === 'string' ? parseFaultSpec(spec) : spec);
  }

  /** Replaces the sandbox-wide limits (per-subscription overrides from the configuration stay). */
  setLimits(limits: LimitsConfig): void {
    this.limitTracker.setLimits(limits);
  }

  setLatency(ms: number): void {
    this.latency = ms;
  }

  /** Back to the initial users (accounts + seed users), zero stats, empty limit windows. Faults and limits stay. */
  reset(): void {
    this.rng = seededRandom(this.seed);
    this.directory = this.freshDirectory();
    this.requestStats.reset();
    this.limitTracker.reset();
    this.changed();
  }

  /** The persistent state (users and business units per subscription). */
  toJSON(): SandboxState {
    return exportState(this.directory, this.clock());
  }

  /** Replaces users and business units with a saved state; API-account users missing from it are re-created. */
  load(state: SandboxState): void {
    checkState(state, 'sandbox state');
    const directory = new UserDirectory(this.subscriptionConfigs);
    for (const saved of state.subscriptions) {
      const sub = directory.subscriptions.get(saved.id);
      if (!sub) continue; // a subscription no longer configured
      for (const bu of saved.business_units) sub.ensureBusinessUnit(bu.title).poc = bu.poc;
      for (const u of saved.users) directory.insert(sub, { ...u, asset_groups: [...(u.asset_groups ?? [])] } as UserRecord);
      sub.nextUserId = Math.max(sub.nextUserId, saved.next_user_id);
    }
    seedAccountUsers(directory, this.accounts, this.rng);
    this.directory = directory;
  }

  private freshDirectory(): UserDirectory {
    const directory = new UserDirectory(this.subscriptionConfigs);
    seedAccountUsers(directory, this.accounts, this.rng);
    if (this.seedUserCount > 0) {
      const seedRng = seededRandom(deriveSeed(this.seed, 1000));
      for (const sub of directory.subscriptions.values()) seedUsers(directory, sub, this.seedUserCount, seedRng);
    }
    return directory;
  }

  private changed(): void {
    this.writer?.schedule();
  }

  private runtime(): SandboxRuntime {
    const self = this;
    return {
      now: this.clock,
      dtdBase: this.dtdBase,
      accounts: this.accountMap,
      directory: () => self.directory,
      get rng() {
        return self.rng;
      },
      limits: this.limitTracker,
      faults: this.faultInjector,
      latencyMs: () => self.latency,
      stats: this.requestStats,
      changed: () => self.changed(),
      control: this.controlApi
        ? {
            users: () => self.users(),
            stats: () => self.stats(),
            toJSON: () => self.toJSON(),
            reset: () => self.reset(),
            setFaults: (spec: string) => self.setFaults(spec),
            setLimits: (limits: LimitsConfig) => self.setLimits(limits),
          }
        : null,
    };
  }
}
