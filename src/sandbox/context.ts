// What a script handler gets for one authenticated, admitted request, and what it returns.
import type { Params } from './params.js';
import type { Random } from './random.js';
import type { SubscriptionDirectory, UserDirectory } from './users.js';
import type { UserRecord } from './model.js';
import type { ApiStamp } from './xml.js';

export interface RequestContext {
  /** The authenticated user making the call. */
  caller: UserRecord;
  sub: SubscriptionDirectory;
  directory: UserDirectory;
  params: Params;
  nowMs: number;
  /** `API` element values (script, caller login, timestamp, DTD base). */
  stamp: ApiStamp;
  rng: Random;
  /** Report a state change (persisted to the state file, if any). */
  changed(): void;
}

export interface Reply {
  status: number;
  body: string;
}

export type ScriptHandler = (ctx: RequestContext) => Reply;
