// A small JSON control API under /__sandbox/ (not part of Qualys) so tests and users can inspect
// and steer a sandbox running in another process: health, stats, users, state, reset, faults, limits.
import { SkeinError } from '../errors.js';
import { parseRateLimit, type LimitsConfig, type ToWaitHeaderMode } from './limits.js';

/** The parts of QualysSandbox the control API uses. */
export interface ControlTarget {
  users(): unknown;
  stats(): unknown;
  toJSON(): unknown;
  reset(): void;
  setFaults(spec: string): void;
  setLimits(limits: LimitsConfig): void;
}

export interface ControlReply {
  status: number;
  body: string;
}

const json = (status: number, value: unknown): ControlReply => ({ status, body: JSON.stringify(value) + '\n' });

export function handleControl(target: ControlTarget, method: string, path: string, body: string): ControlReply {
  try {
    const route = `${method} ${path}`;
    switch (route) {
      case 'GET /__sandbox/health':
        return json(200, { ok: true });
      case 'GET /__sandbox/stats':
        return json(200, target.stats());
      case 'GET /__sandbox/users':
        return json(200, target.users());
      case 'GET /__sandbox/state':
        return json(200, target.toJSON());
      case 'POST /__sandbox/reset':
        target.reset();
        return json(200, { ok: true });
      case 'POST /__sandbox/faults':
        target.setFaults(body.trim());
        return json(200, { ok: true });
      case 'POST /__sandbox/limits':
        target.setLimits(parseLimitsJson(body));
        return json(200, { ok: true });
      default:
        return json(404, { error: `no control route ${route}` });
    }
  } catch (err) {
    if (err instanceof SkeinError) return json(400, { error: err.message, code: err.code });
    throw err;
  }
}

/** `{"rate": "300/3600" | null, "concurrency": 2 | null, "toWaitHeader": "always"}`. */
function parseLimitsJson(body: string): LimitsConfig {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(body || '{}') as Record<string, unknown>;
  } catch {
    throw new SkeinError('sandbox-limits', 'limits body must be JSON');
  }
  const out: LimitsConfig = {};
  if (typeof v.rate === 'string') {
    const rate = parseRateLimit(v.rate);
    if (!rate) throw new SkeinError('sandbox-limits', 'rate must be "CALLS/SECONDS"');
    out.rate = rate;
  } else if (v.rate !== undefined && v.rate !== null) {
    throw new SkeinError('sandbox-limits', 'rate must be "CALLS/SECONDS" or null');
  }
  if (v.concurrency !== undefined && v.concurrency !== null) {
    if (!Number.isInteger(v.concurrency) || (v.concurrency as number) < 1) throw new SkeinError('sandbox-limits', 'concurrency must be an integer >= 1 or null');
    out.concurrency = v.concurrency as number;
  }
  if (v.toWaitHeader !== undefined) {
    const modes: ToWaitHeaderMode[] = ['always', 'omit-on-block', 'omit-on-first-block'];
    if (!modes.includes(v.toWaitHeader as ToWaitHeaderMode)) throw new SkeinError('sandbox-limits', `toWaitHeader must be one of ${modes.join(', ')}`);
    out.toWaitHeader = v.toWaitHeader as ToWaitHeaderMode;
  }
  return out;
}
