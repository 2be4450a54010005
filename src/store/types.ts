// The store contract: records with an outbox of change events, run history and a small key-value
// table. SQLite implements it today (store/sqlite/); PostgreSQL will implement the same interface,
// so every method is async and nothing here mentions SQL. Several runners may share one store.
import type { ObjectDef } from '../workflow/objects.js';

/** A stored field value. Dates are ISO 8601 strings; a cleared field is absent, never null. */
export type FieldValue = string | number | boolean;

/** The fields of one record, flat, including its key field (users: `username`). */
export type Fields = Record<string, FieldValue>;

/**
 * Input to a write: raw values to check and coerce per field type (see store/values.ts).
 * `null`, `undefined` and `""` clear the field.
 */
export type FieldPatch = Record<string, unknown>;

export interface StoredRecord {
  object: string;
  key: string;
  fields: Fields;
  /** 1 on create, +1 on every change. */
  version: number;
  created_at: string;
  updated_at: string;
}

export type EventKind = 'created' | 'updated' | 'deleted';

/** One outbox row, written in the same transaction as the change it describes. */
export interface RecordEvent {
  /** Monotonic across the store; never reused. */
  id: number;
  object: string;
  key: string;
  kind: EventKind;
  /** Fields before the change; null for `created`. */
  before: Fields | null;
  /** Fields after the change; null for `deleted`. */
  after: Fields | null;
  /** Names of the fields that differ between before and after, sorted. */
  changed: string[];
  /** Who made the change (e.g. `import`, `cli`, `workflow:offboard`); null when not given. */
  source: string | null;
  at: string;
}

export interface WriteOptions {
  /** Recorded on the event so consumers can tell their own writes apart. */
  source?: string;
}

export interface SetFieldsOptions extends WriteOptions {
  /** Create the record when the key does not exist (default false: throw `record-not-found`). */
  createIfMissing?: boolean;
}

export interface ListOptions {
  /** Field name -> value; a record matches when every field's string form equals the value (absent = ""). */
  where?: Record<string, string>;
  /** Most records to return; default all. */
  limit?: number;
  /** Only records whose key sorts after this one (keyset paging). Records come sorted by key. */
  afterKey?: string;
}

export type UpsertOutcome =
  | { key: string; outcome: 'created' | 'updated'; event: RecordEvent }
  | { key: string; outcome: 'unchanged' }
  | { key: string | undefined; outcome: 'rejected'; reason: string };

export interface ReadEventsOptions {
  /** Only events with a larger id; default 0. */
  afterId?: number;
  /** Default 100. */
  limit?: number;
  /** Only events of this object. */
  object?: string;
}

export const RUN_STATUSES = ['running', 'succeeded', 'failed', 'partial', 'cancelled'] as const;
/** The most runs one listing returns (a larger limit is bad usage, not a database error). */
export const MAX_RUNS_LIMIT = 100_000;
export type RunStatus = (typeof RUN_STATUSES)[number];
export type RunRecordStatus = 'running' | 'succeeded' | 'failed' | 'skipped';
export type StepStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped' | 'unknown';

export interface NewRun {
  workflow: string;
  /** What started the run: `manual`, `schedule`, `event`, ... */
  trigger: string;
  /** JSON-serializable details of the trigger (event id, schedule time, CLI args). */
  trigger_data?: unknown;
  /** The runner that owns the run while it runs (see registerRunner); another runner adopts it when this one dies. */
  runner?: string;
}

export interface RunRow {
  /** `r_<time>_<random>`: sorts by creation time. */
  id: string;
  workflow: string;
  trigger: string;
  trigger_data: unknown;
  status: RunStatus;
  summary: unknown;
  started_at: string;
  finished_at: string | null;
  /** Owner while running; null for runs started without a registered runner. */
  runner: string | null;
}

export interface RunRecordRow {
  object: string;
  key: string;
  status: RunRecordStatus;
  error: string | null;
  started_at: string;
  finished_at: string | null;
}

/**
 * One step of one record in a run. Text columns (request, response, outputs, error,
 * qualys_message) are cut at TEXT_CAP_BYTES with TRUNCATION_MARKER appended; a truncated JSON
 * column reads back as that string instead of the parsed value.
 */
export interface StepRow {
  step_id: string;
  status: StepStatus;
  /** The request as sent, already redacted by the caller (JSON-serializable). */
  request?: unknown;
  /** The response body (text). */
  response?: string | null;
  http_status?: number | null;
  qualys_code?: string | null;
  qualys_message?: string | null;
  /** Values the step produced (JSON-serializable). */
  outputs?: unknown;
  error?: string | null;
  /** The stable code of `error` (vendor-failed, http-timeout, response-mapping, ...). */
  error_code?: string | null;
  attempts?: number;
  duration_ms?: number | null;
  started_at?: string | null;
  finished_at?: string | null;
}

export interface RunDetail extends RunRow {
  records: Array<RunRecordRow & { steps: StepRow[] }>;
}

export interface ListRunsOptions {
  workflow?: string;
  status?: RunStatus;
  /** Default 50; newest first. */
  limit?: number;
}

/** A process that runs workflows: a daemon, or a CLI command while it runs. */
export interface RunnerInfo {
  /** Unique per process start, e.g. `daemon:host:1234:ab12`. */
  id: string;
  role: string;
  host: string;
  pid: number;
  /** JSON-serializable details shown by the cluster API (version, workflows, API address). */
  info?: unknown;
}

/** A step row left running or unknown, with the run it belongs to and that run's state. */
export type StepInDoubt = StepRow & {
  run_id: string;
  /** The run's status: `running` while some runner may still be working on it. */
  run_status: RunStatus;
  /** The runner that owns the run, if it registered one. */
  runner: string | null;
};

export interface RunnerRow extends RunnerInfo {
  started_at: string;
  heartbeat_at: string;
  /** Heartbeat within the lease time given to listRunners. */
  alive: boolean;
  /** Events it holds leases on (per workflow) and the runs it owns that are still running. */
  leases: { events: Record<string, number>; runs: string[] };
}

export interface ClaimEventsOptions {
  object: string;
  /** Most events to claim at once. */
  limit: number;
  /** Lease time: the claim lapses this long after the runner's last heartbeat. */
  ttlMs: number;
}

/**
 * Numbered slots shared by every runner on the store, held by one runner at a time: the shared
 * call limiter takes slot 0..limit-1 of a key for each call, so runners together stay within a
 * vendor's concurrency limit. A runner that dies loses its slots at once.
 */
export interface SlotLocks {
  /**
   * Takes the lowest free slot below `limit` that this runner does not hold in `held` (slot null
   * when all are taken, or while the key is paused); `pausedUntil` is the key's shared pause
   * (epoch ms, 0 when none).
   */
  take(key: string, limit: number, held: number[]): Promise<{ slot: number | null; pausedUntil: number }>;
  give(key: string, slot: number): Promise<void>;
  /** Pauses the key for every runner until `untilMs` (epoch ms), e.g. after the vendor blocked a call; never shortens a pause. */
  pause(key: string, untilMs: number): Promise<void>;
  close(): Promise<void>;
}

/** Size at which text columns of run history are cut (64 KiB, counted in UTF-8 bytes). */
export const TEXT_CAP_BYTES = 64 * 1024;
/** Appended to a cut text column, followed by the original size and `]`. */
export const TRUNCATION_MARKER = '\n...[truncated by skein; original bytes: ';

/**
 * Operations available inside `Store.transaction`: they commit or roll back together, e.g. a
 * response mapping applied to a record plus the step that produced it plus the handled mark.
 */
export interface StoreTx {
  getRecord(object: string, key: string): Promise<StoredRecord | null>;
  /**
   * Checks and applies a patch (merge: absent fields are untouched, null/"" clear). Returns the
   * event written, or null when nothing changed. Throws `record-not-found` unless createIfMissing,
   * `invalid-field` (all problems in the message) and `unknown-object`.
   */
  setFields(object: string, key: string, patch: FieldPatch, opts?: SetFieldsOptions): Promise<RecordEvent | null>;
  /** Deletes and returns the event, or null when no such record. */
  deleteRecord(object: string, key: string, opts?: WriteOptions): Promise<RecordEvent | null>;
  /**
   * Upserts rows keyed by the object's key field (merge semantics as setFields). Invalid rows are
   * reported `rejected` and not written; the others are written whole. One transaction.
   */
  upsertMany(object: string, rows: FieldPatch[], opts?: WriteOptions): Promise<UpsertOutcome[]>;
  /** True the first time for this (event, workflow) pair, false ever after. */
  markEventHandled(eventId: number, workflow: string): Promise<boolean>;
  /**
   * Inserts the step, or updates the row with the same (run, record, step_id): fields left
   * undefined keep their stored value. Needs startRunRecord first (`run-record-not-found`).
   */
  recordStep(runId: string, recordKey: string, step: StepRow): Promise<void>;
  getKv(key: string): Promise<string | null>;
  setKv(key: string, value: string): Promise<void>;
}

export interface CommitOptions {
  /**
   * Nobody waits on this commit to act (a record's last outcome): the store may hold it a few
   * milliseconds so that it shares one database commit with others.
   */
  lazy?: boolean;
}

/** One write of an atomic `Store.commit` batch. */
export type WriteOp =
  | { op: 'setFields'; object: string; key: string; patch: FieldPatch; opts?: SetFieldsOptions }
  | { op: 'recordStep'; runId: string; recordKey: string; step: StepRow }
  /** `startedAt`: when the record's work began (default: the commit's time). */
  | { op: 'startRunRecord'; runId: string; object: string; key: string; startedAt?: string }
  | { op: 'finishRunRecord'; runId: string; key: string; status: RunRecordStatus; error?: string | null }
  | { op: 'markEventHandled'; eventId: number; workflow: string };

export interface Store extends StoreTx {
  /** Where the data lives, for messages (a file path or a redacted URL). */
  readonly location: string;
  /** The object definitions writes are checked against (given when the store was opened). */
  readonly objects: ReadonlyMap<string, ObjectDef>;

  /** The records with these keys (those that exist), by key: one query for many (e.g. a batch of events). */
  getRecords(object: string, keys: string[]): Promise<Map<string, StoredRecord>>;
  listRecords(object: string, opts?: ListOptions): Promise<StoredRecord[]>;
  countRecords(object: string): Promise<number>;

  /** Events in id order. */
  readEvents(opts?: ReadEventsOptions): Promise<RecordEvent[]>;
  /** Events after `afterId` not yet marked handled by `workflow`, in id order. */
  pendingEventsFor(workflow: string, opts?: ReadEventsOptions): Promise<RecordEvent[]>;
  /** Id of the newest event, 0 when none (a starting cursor for a new consumer). */
  lastEventId(): Promise<number>;

  createRun(run: NewRun): Promise<string>;
  /** Adds a record to a run with status `running`; a second call for the same key is a no-op. */
  startRunRecord(runId: string, object: string, key: string): Promise<void>;
  finishRunRecord(runId: string, key: string, status: RunRecordStatus, error?: string | null): Promise<void>;
  finishRun(runId: string, status: RunStatus, summary?: unknown): Promise<void>;
  listRuns(opts?: ListRunsOptions): Promise<RunRow[]>;
  /**
   * Steps of `workflow` for one record left `running` (the process died mid-call) or `unknown`,
   * oldest first: a non-idempotent step must reconcile these before it may send again.
   */
  stepsInDoubt(workflow: string, recordKey: string, stepId: string): Promise<StepInDoubt[]>;
  getRun(runId: string): Promise<RunDetail | null>;

  /**
   * Runs `fn` in one transaction; it commits when the promise resolves, rolls back when it
   * rejects. Use only `tx` inside (the store itself throws `store-tx-misuse` there) and do no
   * slow I/O inside: the transaction holds the write lock.
   */
  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>;
  /**
   * Claims one schedule tick of a workflow: true for exactly one caller across every runner that
   * shares this store, false for all others (and for a tick claimed before).
   */
  claimTick(workflow: string, tick: string, runner: string): Promise<boolean>;
  /**
   * Applies the writes atomically (all or none) and resolves with each one's result (setFields:
   * the event or null; markEventHandled: boolean). Concurrent commits share one database commit
   * (group commit), which is what keeps the engine's per-step journal cheap.
   */
  commit(ops: WriteOp[], opts?: CommitOptions): Promise<unknown[]>;
  /** Commits lazy writes still waiting for company, now (someone is waiting on them after all). */
  flush(): Promise<void>;

  /** Registers (or re-registers) a live runner; its heartbeat starts now. */
  registerRunner(r: RunnerInfo): Promise<void>;
  /**
   * Keeps a runner alive: stamps its heartbeat and extends every event lease it holds by `ttlMs`.
   * False when the runner is not registered (it was removed): it should register again.
   */
  heartbeat(runner: string, ttlMs: number): Promise<boolean>;
  /** A runner stopping cleanly: its event leases are released at once and its row removed. */
  removeRunner(runner: string): Promise<void>;
  /** Every registered runner, alive when its heartbeat is within `ttlMs`, with its leases. */
  listRunners(ttlMs: number): Promise<RunnerRow[]>;
  /**
   * Leases up to `limit` events of `workflow`'s object that are neither handled by it nor leased
   * by a live runner, in id order, and returns every event the runner now holds for it. An event
   * whose record has an earlier event leased by another runner is left alone, so one record's
   * events are still handled in order. Each event is leased by exactly one runner at a time;
   * markEventHandled ends the lease.
   */
  claimEvents(workflow: string, runner: string, opts: ClaimEventsOptions): Promise<RecordEvent[]>;
  /**
   * Takes over runs left `running` by runners whose heartbeat is older than `ttlMs` (or by no
   * registered runner): each such run becomes `runner`'s, for exactly one caller, and is returned.
   * Runners dead for longer than ten lease times are forgotten.
   */
  adoptOrphanRuns(runner: string, ttlMs: number): Promise<RunRow[]>;
  /**
   * Slots shared across runners, on stores that several machines can share (PostgreSQL); absent
   * on SQLite, where one process's limiter already sees every call.
   */
  openSlotLocks?(): Promise<SlotLocks>;
  close(): Promise<void>;
}
