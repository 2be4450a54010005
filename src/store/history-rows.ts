// Run-history rows as both back ends store them: the text cap, JSON columns that read back as the
// stored string once truncated, run ids, and the mapping from database rows to the Store types.
// Shared so SQLite and PostgreSQL cannot drift apart; only the SQL stays in each back end.
import { randomBytes } from 'node:crypto';
import { TEXT_CAP_BYTES, TRUNCATION_MARKER, type RunRecordStatus, type RunRow, type RunStatus, type StepRow, type StepStatus } from './types.js';

/** Cuts `s` to TEXT_CAP_BYTES of UTF-8 and appends the marker with the original size. */
export function capText(s: string, cap = TEXT_CAP_BYTES): string {
  // A UTF-16 unit is at most 3 bytes of UTF-8: short texts (most of them) need no count.
  if (s.length * 3 <= cap) return s;
  const bytes = Buffer.byteLength(s, 'utf8');
  if (bytes <= cap) return s;
  // Decoding a cut in the middle of a character yields U+FFFD; drop it.
  const head = Buffer.from(s, 'utf8').subarray(0, cap).toString('utf8').replace(/\uFFFD+$/, '');
  return `${head}${TRUNCATION_MARKER}${bytes}]`;
}

function isTruncated(s: string): boolean {
  return s.endsWith(']') && s.includes(TRUNCATION_MARKER);
}

export function writeJson(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  return capText(JSON.stringify(v));
}

/** Parsed JSON, or the stored string itself when it was truncated (no longer valid JSON). */
export function readJson(s: string | null): unknown {
  if (s === null) return null;
  return isTruncated(s) ? s : JSON.parse(s);
}

export function writeText(v: string | null | undefined): string | null {
  return v === undefined || v === null ? null : capText(v);
}

let lastRunMs = 0;

/** `r_<ms since epoch, base36>_<random>`: sorts by creation time, monotonic within a process. */
export function newRunId(): string {
  lastRunMs = Math.max(Date.now(), lastRunMs + 1);
  return `r_${lastRunMs.toString(36).padStart(9, '0')}_${randomBytes(4).toString('hex')}`;
}

export interface RunDbRow {
  id: string;
  workflow: string;
  trigger: string;
  trigger_data: string | null;
  status: RunStatus;
  summary: string | null;
  started_at: string;
  finished_at: string | null;
  runner: string | null;
}

export interface RunRecordDbRow {
  record_key: string;
  object: string;
  status: RunRecordStatus;
  error: string | null;
  started_at: string;
  finished_at: string | null;
}

export interface StepDbRow {
  record_key: string;
  step_id: string;
  status: StepStatus;
  request: string | null;
  response: string | null;
  http_status: number | null;
  qualys_code: string | null;
  qualys_message: string | null;
  outputs: string | null;
  error: string | null;
  /** NULL for steps written before the column existed. */
  error_code: string | null;
  attempts: number;
  /** A number on SQLite; PostgreSQL's driver returns BIGINT as a string. */
  duration_ms: number | string | null;
  started_at: string | null;
  finished_at: string | null;
}

/** Step columns besides (run_id, record_key, step_id), in table order. */
export const STEP_COLUMNS = [
  'status', 'request', 'response', 'http_status', 'qualys_code', 'qualys_message',
  'outputs', 'error', 'attempts', 'duration_ms', 'started_at', 'finished_at', 'error_code',
] as const;

export function toRun(r: RunDbRow): RunRow {
  return { ...r, runner: r.runner ?? null, trigger_data: readJson(r.trigger_data), summary: readJson(r.summary) };
}

export function toStep(r: StepDbRow): StepRow {
  return {
    step_id: r.step_id,
    status: r.status,
    request: readJson(r.request),
    response: r.response,
    http_status: r.http_status,
    qualys_code: r.qualys_code,
    qualys_message: r.qualys_message,
    outputs: readJson(r.outputs),
    error: r.error,
    error_code: r.error_code ?? null,
    attempts: r.attempts,
    duration_ms: r.duration_ms === null ? null : Number(r.duration_ms),
    started_at: r.started_at,
    finished_at: r.finished_at,
  };
}
