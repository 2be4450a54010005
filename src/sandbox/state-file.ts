// Optional persistence: the users and business units of every subscription as one JSON document.
// Writes are coalesced (a burst of adds becomes one write) and atomic (temp file + rename).
import { readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { SkeinError } from '../errors.js';
import { USER_ROLES, USER_STATUSES, isoSeconds, snapshotUser, type SandboxUser } from './model.js';
import type { BusinessUnit, UserDirectory } from './users.js';
import { fsReason } from '../fs-util.js';

export const STATE_VERSION = 1;

export interface SandboxState {
  version: typeof STATE_VERSION;
  saved_at: string;
  subscriptions: Array<{
    id: string;
    next_user_id: number;
    business_units: BusinessUnit[];
    users: SandboxUser[];
  }>;
}

export function exportState(directory: UserDirectory, nowMs: number): SandboxState {
  return {
    version: STATE_VERSION,
    saved_at: isoSeconds(nowMs),
    subscriptions: [...directory.subscriptions.values()].map((sub) => ({
      id: sub.config.id,
      next_user_id: sub.nextUserId,
      business_units: [...sub.businessUnits.values()].map((b) => ({ ...b })),
      users: sub.users.map(snapshotUser),
    })),
  };
}

/** Checks the parts of a state document the sandbox relies on; throws SkeinError `sandbox-state`. */
export function checkState(value: unknown, where: string): SandboxState {
  const fail = (msg: string): never => {
    throw new SkeinError('sandbox-state', `${where}: ${msg}`);
  };
  const doc = value as Partial<SandboxState> | null;
  if (typeof doc !== 'object' || doc === null) return fail('not a JSON object');
  if (doc.version !== STATE_VERSION) return fail(`unsupported version ${String(doc.version)} (expected ${STATE_VERSION})`);
  if (!Array.isArray(doc.subscriptions)) return fail('"subscriptions" must be an array');
  for (const [i, s] of doc.subscriptions.entries()) {
    if (typeof s?.id !== 'string' || !Array.isArray(s.users) || !Array.isArray(s.business_units)) {
      fail(`subscriptions[${i}] needs id, users and business_units`);
    }
    for (const [j, u] of s.users.entries()) {
      const ok =
        typeof u?.login === 'string' &&
        typeof u.user_id === 'number' &&
        (USER_ROLES as readonly string[]).includes(u.role) &&
        (USER_STATUSES as readonly string[]).includes(u.status);
      if (!ok) fail(`subscriptions[${i}].users[${j}] is not a valid user`);
    }
  }
  return doc as SandboxState;
}

/** Reads a state file; null when it does not exist yet. */
export function readStateFile(path: string): SandboxState | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new SkeinError('unreadable-path', `cannot read sandbox state file ${path}: ${fsReason(err)}`, { cause: err });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new SkeinError('sandbox-state', `${path}: not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  return checkState(parsed, path);
}

/** Saves state some milliseconds after the last change; `flush()` writes pending changes now. */
export class StateFileWriter {
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> = Promise.resolve();
  private dirty = false;

  constructor(
    private readonly path: string,
    private readonly snapshot: () => SandboxState,
    /** A write started by the timer failed (nobody awaits it); the change stays pending. */
    private readonly onError: (err: SkeinError) => void,
    private readonly delayMs = 100,
  ) {}

  schedule(): void {
    this.dirty = true;
    if (this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flush().catch(this.onError);
    }, this.delayMs);
    this.timer.unref();
  }

  /** Writes now if anything changed; resolves when the file is on disk. */
  async flush(): Promise<void> {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const run = async (): Promise<void> => {
      if (!this.dirty) return;
      this.dirty = false;
      const tmp = `${this.path}.${process.pid}.tmp`;
      try {
        await writeFile(tmp, JSON.stringify(this.snapshot(), null, 2) + '\n');
        await rename(tmp, this.path);
      } catch (err) {
        // Kept pending: the next change or flush tries again, and the users stay in memory.
        this.dirty = true;
        const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        throw new SkeinError('sandbox-state', `cannot write sandbox state file ${this.path} (${reason}); check that its folder exists and is writable`, { cause: err });
      }
    };
    this.writing = this.writing.then(run, run);
    return this.writing;
  }
}
