// Executes one step for one record: build the request (nothing is sent when params are bad),
// call through the shared HTTP client, read the answer as the preset says, and return what the
// journal and the response mappings need. Never throws for per-record failures.
import type { Step } from '../generated/workflow.js';
import type { Request } from '../generated/preset.js';
import { redactUrl } from '../url-redact.js';
import { SkeinError } from '../errors.js';
import type { Preset } from '../presets/registry.js';
import type { HttpClient } from '../http/index.js';
import { HttpError } from '../http/index.js';
import { buildInlineRequest, buildPresetRequest, renderParams, type BuiltRequest, type ShownRequest } from './request.js';
import { readResponse, REDACTED, type ParsedResponse } from './response.js';
import { parseDuration, STEP_DEFAULTS } from './durations.js';
import { maskText, sensitiveValues } from './context.js';
import { replaceForms } from '../secret-names.js';
import type { ResolvedCredential } from './credentials.js';

export type StepOutcome = 'succeeded' | 'failed' | 'unknown';

export interface StepExecution {
  outcome: StepOutcome;
  request?: ShownRequest;
  status?: number;
  headers: Record<string, string>;
  response?: ParsedResponse;
  attempts: number;
  durationMs: number;
  /** One line, secrets-free. */
  error?: string;
  errorCode?: string;
}

export interface StepEnv {
  http: HttpClient;
  vars: Record<string, unknown>;
  credential?: ResolvedCredential;
  signal?: AbortSignal;
}

/** The request definition a step uses (preset or inline). */
export function stepRequestDef(step: Step, preset: Preset | undefined): Request {
  return preset ? preset.request : step.request!;
}

/**
 * Renders and builds the request of a step for a record context (shared with `plan`). The shown
 * copy masks the record's sensitive values wherever a template put them; errors do too.
 */
export function buildStepRequest(step: Step, preset: Preset | undefined, context: Record<string, unknown>, vars: Record<string, unknown>): BuiltRequest {
  const secrets = sensitiveValues(context);
  let built: BuiltRequest;
  try {
    built = preset ? buildPresetRequest(preset, renderParams(step.params, context), vars) : buildInlineRequest(step, context);
  } catch (err) {
    if (secrets.length && err instanceof SkeinError) throw new SkeinError(err.code, maskText(err.message, secrets));
    throw err;
  }
  if (!secrets.length) return built;
  const m = (t: string) => maskText(t, secrets);
  const sh = built.shown;
  const mapValues = (o: Record<string, string>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, m(v)]));
  built.shown = { method: sh.method, url: m(sh.url), params: mapValues(sh.params), headers: mapValues(sh.headers), ...(sh.body === undefined ? {} : { body: m(sh.body) }) };
  return built;
}

export async function executeStep(step: Step, preset: Preset | undefined, context: Record<string, unknown>, env: StepEnv): Promise<StepExecution> {
  const exec = await execute(step, preset, context, env);
  // Transport errors name the URL, which may carry a sensitive value in its query.
  const secrets = sensitiveValues(context);
  if (exec.error && secrets.length) exec.error = maskText(exec.error, secrets);
  return exec;
}

async function execute(step: Step, preset: Preset | undefined, context: Record<string, unknown>, env: StepEnv): Promise<StepExecution> {
  const started = Date.now();
  let built: BuiltRequest;
  try {
    built = buildStepRequest(step, preset, context, env.vars);
  } catch (err) {
    const e = err as SkeinError;
    return { outcome: 'failed', headers: {}, attempts: 0, durationMs: Date.now() - started, error: e.message, errorCode: e.code ?? 'internal' };
  }
  // Object.assign, not spread: V8 adds properties to a spread copy through its slow path (~1 us).
  const headers: Record<string, string> = Object.assign({}, built.headers);
  if (env.credential) headers[env.credential.header] = env.credential.value;
  const def = stepRequestDef(step, preset);
  // A server that echoes the request (a debugging endpoint, a proxy's error page) hands the
  // credential back: it is cut out before the answer is read, so no output, mapping or history
  // row can hold it.
  const forms = env.credential?.secretForms ?? [];
  const scrub = (text: string) => (forms.length ? replaceForms(text, forms, REDACTED) : text);
  const scrubHeaders = (h: Record<string, string>) => {
    if (!forms.length) return h;
    // Copied only when a value holds a secret: this runs for every answer.
    let out: Record<string, string> | undefined;
    for (const k in h) {
      const v = scrub(h[k]!);
      if (v !== h[k]) (out ??= { ...h })[k] = v;
    }
    return out ?? h;
  };
  try {
    const res = await env.http.send(
      { method: built.method, url: built.url, headers, body: built.body },
      {
        idempotent: built.idempotent,
        limiterKey: `${env.credential?.name ?? 'anonymous'}:${built.script}`,
        timeoutMs: parseDuration(step.timeout, STEP_DEFAULTS.timeoutMs),
        maxBodyBytes: def.max_response_bytes,
        retry: {
          attempts: step.retry?.attempts ?? STEP_DEFAULTS.attempts,
          backoffMs: parseDuration(step.retry?.backoff, STEP_DEFAULTS.backoffMs),
          maxBackoffMs: parseDuration(step.retry?.max_backoff, STEP_DEFAULTS.maxBackoffMs),
        },
        signal: env.signal,
      },
    );
    const parsed = readResponse(def, res.status, scrub(res.body));
    const base = { request: built.shown, status: res.status, headers: scrubHeaders(res.headers), response: parsed, attempts: res.attempts, durationMs: Date.now() - started };
    if (res.status >= 300 && res.status < 400) {
      // Redirects are not followed (a POST must not be re-sent elsewhere); where it pointed is
      // what a person needs to fix the base URL.
      const to = res.headers.location ? ` to ${redactUrl(res.headers.location)}` : '';
      const where = (def.script ?? '').endsWith('.php') ? ' (vars.qualys_api_url)' : '';
      return { outcome: 'failed', ...base, error: `${vendorName(def)} answered HTTP ${res.status} (a redirect${to}); redirects are not followed: check the base URL${where}`, errorCode: 'http-redirect' };
    }
    if (parsed.ok) return { outcome: 'succeeded', ...base };
    if (!built.idempotent && (parsed.code === STILL_PROCESSING || res.status === 202)) {
      // "Your request is being processed" (a duplicate of a call still running): it may yet
      // take effect, so sending it again next run could apply it twice. Reconciled, not failed.
      return { outcome: 'unknown', ...base, error: inDoubt(built, `${vendorName(def)} answered that an identical request is still being processed (HTTP ${res.status}${parsed.code ? `, code ${parsed.code}` : ''})`), errorCode: 'vendor-processing' };
    }
    if (parsed.parseError && !built.idempotent) {
      // Accepted at the HTTP level but unreadable: it may well have taken effect (and an answer
      // with a generated password is lost), so it is in doubt, not failed, and never re-sent blindly.
      return { outcome: 'unknown', ...base, error: inDoubt(built, `the answer (HTTP ${res.status}) could not be read: ${parsed.parseError}`), errorCode: 'response-unreadable' };
    }
    const why = parsed.parseError
      ? `unreadable answer (HTTP ${res.status}): ${parsed.parseError}`
      : `${vendorName(def)} answered ${res.status >= 200 && res.status < 300 ? 'FAILED' : `HTTP ${res.status}`}${parsed.code ? ` ${parsed.code}` : ''}${parsed.message ? `: ${oneLine(parsed.message)}` : ''}`;
    return { outcome: 'failed', ...base, error: why, errorCode: parsed.parseError ? 'response-unreadable' : 'vendor-failed' };
  } catch (err) {
    const durationMs = Date.now() - started;
    if (err instanceof HttpError) {
      const parsed = err.body !== undefined && err.status !== undefined ? readResponse(def, err.status, scrub(err.body)) : undefined;
      const detail = parsed?.code || parsed?.message ? ` (${vendorName(def)}${parsed.code ? ` ${parsed.code}` : ''}${parsed.message ? `: ${oneLine(parsed.message)}` : ''})` : '';
      // A server error does not say the call did nothing (Qualys may fail after applying it).
      const serverError = err.kind === 'status' && ((err.status ?? 0) >= 500 || parsed?.code === STILL_PROCESSING) && !built.idempotent;
      // The transport's own code (a timeout, a reset) is kept: it tells a slow vendor from a proxy.
      const t = err.transport;
      const sent = `after the request was sent${t ? ` (${t.code})` : ''}`;
      // An accepted call whose answer was too large to read may well have run (and its login or
      // password is in the part not read), as with an unreadable one.
      const unread = err.kind === 'body-too-large' && (err.status ?? 0) < 400 && !built.idempotent;
      const doubt =
        err.kind === 'maybe-sent'
          ? `${t?.timeout ? 'the call timed out' : 'the connection failed'} ${sent}`
          : serverError
            ? `${vendorName(def)} answered HTTP ${err.status}${detail}`
            : unread
              ? `${err.message}, so the answer was not read`
              : undefined;
      return {
        outcome: doubt ? 'unknown' : 'failed',
        request: built.shown,
        status: err.status,
        headers: scrubHeaders(err.headers ?? {}),
        response: parsed,
        attempts: err.attempts,
        durationMs,
        error: doubt ? inDoubt(built, doubt) : scrub(`${err.message}${detail}`),
        errorCode: err.code,
      };
    }
    const e = err as SkeinError;
    return { outcome: 'failed', request: built.shown, headers: {}, attempts: 1, durationMs, error: scrub(String(e.message).split('\n')[0]!), errorCode: e.code ?? 'internal' };
  }
}

/** Qualys 1981, "Your request is being processed. Please try this same request again later". */
const STILL_PROCESSING = '1981';

/** The error of a call that may have taken effect and is not safe to send again. */
const inDoubt = (built: BuiltRequest, why: string) =>
  `outcome unknown: ${why}, and ${built.method} ${built.script} is not safe to repeat; check the vendor before retrying`;

const vendorName = (def: Request) => ((def.script ?? '').endsWith('.php') ? 'Qualys' : 'the server');
const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim().slice(0, 300);

/** Outputs as stored in run history: sensitive values replaced. */
export function shownOutputs(res: ParsedResponse | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(res?.outputs ?? {})) out[k] = res!.sensitiveOutputs.has(k) ? REDACTED : v;
  return out;
}
