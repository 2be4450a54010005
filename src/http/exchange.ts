// One request/response exchange over an undici dispatcher, without retries. Uses the low-level
// dispatch handler so we know whether the request was handed to a connected socket (the line
// between "never sent" and "may have reached the server") and can cap the body while it streams.
import type { Dispatcher } from 'undici';
import { brotliDecompressSync, gunzipSync, inflateRawSync, inflateSync } from 'node:zlib';
import { abortReason } from './delay.js';

export interface ExchangeRequest {
  method: string;
  /** Path plus query string. */
  path: string;
  headers: Record<string, string>;
  body?: string;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  /** Time limit for the whole exchange (0 = none). */
  timeoutMs: number;
  maxBodyBytes: number;
  signal?: AbortSignal;
}

export type ExchangeOutcome =
  | { type: 'response'; status: number; headers: Record<string, string>; body: string }
  | { type: 'transport'; error: unknown; dispatched: boolean }
  | { type: 'too-large'; status: number; headers: Record<string, string>; limit: number }
  | { type: 'aborted'; reason: Error; dispatched: boolean };

class BodyTooLarge extends Error {}

/** Thrown into undici when our per-attempt time limit fires. */
export class AttemptTimeoutError extends Error {
  readonly code = 'SKEIN_ATTEMPT_TIMEOUT';
  constructor(ms: number) {
    super(`attempt took longer than ${ms} ms`);
  }
}

function flatHeaders(raw: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (v === undefined) continue;
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

/** One decoder per charset label (decode() without `stream` keeps no state between calls). */
const decoders = new Map<string, TextDecoder>();

/**
 * Undoes a Content-Encoding. Skein asks for none, but proxies in front of a vendor compress
 * anyway, and an answer read as gzip bytes would lose a generated password. The output is capped
 * like the body (a small compressed answer can expand hugely). An unknown or corrupt encoding
 * leaves the bytes as they came: the answer then cannot be read, and says so.
 */
function decompress(bytes: Buffer, encoding: string | undefined, maxBytes: number): Buffer | 'too-large' {
  const e = encoding?.trim().toLowerCase();
  if (!e || e === 'identity') return bytes;
  const opts = { maxOutputLength: maxBytes };
  try {
    if (e === 'gzip' || e === 'x-gzip') return gunzipSync(bytes, opts);
    if (e === 'br') return brotliDecompressSync(bytes, opts);
    if (e === 'deflate') {
      // "deflate" is zlib-wrapped by the standard and raw by some servers.
      try {
        return inflateSync(bytes, opts);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw err;
        return inflateRawSync(bytes, opts);
      }
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) return 'too-large';
  }
  return bytes;
}

function decode(chunks: Buffer[], contentType: string | undefined, encoding: string | undefined, maxBytes: number): string | 'too-large' {
  const charset = (contentType === undefined ? undefined : /charset\s*=\s*"?([\w-]+)/i.exec(contentType)?.[1]) ?? 'utf-8';
  const raw = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  const bytes = decompress(raw, encoding, maxBytes);
  if (bytes === 'too-large') return bytes;
  let decoder = decoders.get(charset);
  try {
    if (!decoder) {
      decoder = new TextDecoder(charset);
      if (decoders.size < 32) decoders.set(charset, decoder);
    }
  } catch {
    return bytes.toString('utf8');
  }
  return decoder.decode(bytes);
}

/** Never rejects: every ending is an `ExchangeOutcome`. */
export function exchange(dispatcher: Dispatcher, req: ExchangeRequest): Promise<ExchangeOutcome> {
  return new Promise<ExchangeOutcome>((resolve) => {
    let settled = false;
    let dispatched = false;
    let controller: Dispatcher.DispatchController | undefined;
    let status = 0;
    let headers: Record<string, string> = {};
    let size = 0;
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;

    const finish = (o: ExchangeOutcome): void => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      req.signal?.removeEventListener('abort', onAbort);
      resolve(o);
    };
    const stop = (reason: Error): void => {
      // Before dispatch there is no controller yet; onRequestStart aborts it when it comes.
      if (controller && !controller.aborted) controller.abort(reason);
    };
    // finish() before stop(): aborting makes undici report the error to the handler at once.
    const onAbort = (): void => {
      const reason = abortReason(req.signal!);
      finish({ type: 'aborted', reason, dispatched });
      stop(reason);
    };

    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(ctrl) {
        controller = ctrl;
        if (settled) {
          ctrl.abort(new Error('exchange already settled'));
          return;
        }
        dispatched = true;
      },
      onResponseStart(ctrl, statusCode, rawHeaders) {
        if (statusCode < 200) return; // 1xx informational
        status = statusCode;
        headers = flatHeaders(rawHeaders);
        const declared = Number(headers['content-length']);
        if (Number.isFinite(declared) && declared > req.maxBodyBytes) {
          finish({ type: 'too-large', status, headers, limit: req.maxBodyBytes });
          ctrl.abort(new BodyTooLarge());
        }
      },
      onResponseData(ctrl, chunk) {
        size += chunk.length;
        if (size > req.maxBodyBytes) {
          // Aborting destroys the socket, so the rest of the body is never read.
          finish({ type: 'too-large', status, headers, limit: req.maxBodyBytes });
          ctrl.abort(new BodyTooLarge());
          return;
        }
        chunks.push(chunk);
      },
      onResponseEnd() {
        const body = decode(chunks, headers['content-type'], headers['content-encoding'], req.maxBodyBytes);
        if (body === 'too-large') finish({ type: 'too-large', status, headers, limit: req.maxBodyBytes });
        else finish({ type: 'response', status, headers, body });
      },
      onResponseError(_ctrl, error) {
        finish({ type: 'transport', error, dispatched });
      },
    };

    if (req.signal?.aborted) {
      finish({ type: 'aborted', reason: abortReason(req.signal), dispatched: false });
      return;
    }
    req.signal?.addEventListener('abort', onAbort, { once: true });
    if (req.timeoutMs > 0) {
      timer = setTimeout(() => {
        const error = new AttemptTimeoutError(req.timeoutMs);
        finish({ type: 'transport', error, dispatched });
        stop(error);
      }, req.timeoutMs);
    }
    try {
      dispatcher.dispatch(
        {
          method: req.method,
          path: req.path,
          headers: req.headers,
          body: req.body ?? null,
          headersTimeout: req.headersTimeoutMs,
          bodyTimeout: req.bodyTimeoutMs,
        },
        handler,
      );
    } catch (error) {
      finish({ type: 'transport', error, dispatched: false });
    }
  });
}
