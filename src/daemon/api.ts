// The daemon's HTTP API (node:http, JSON). Loopback by default; with SKEIN_API_TOKEN set every
// route but /healthz and /readyz needs `Authorization: Bearer`. Bodies are size-limited and ajv-validated;
// errors are JSON with a stable code and never carry a stack trace.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { SkeinError } from '../errors.js';
import type { Daemon } from './daemon.js';
import { MAX_RUNS_LIMIT, RUN_STATUSES } from '../store/types.js';

const MAX_BODY = 1024 * 1024;
const ajv = new Ajv2020({ allErrors: false, strict: true, allowUnionTypes: true });
const validateRunBody = ajv.compile({
  type: 'object',
  additionalProperties: false,
  properties: { records: { type: 'array', items: { type: 'string', minLength: 1 }, maxItems: 10000 } },
});
const validateFields = ajv.compile({
  type: 'object',
  propertyNames: { pattern: '^[a-z][a-z0-9_]*$' },
  additionalProperties: { type: ['string', 'number', 'boolean', 'null'] },
});

class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * Bodies must be declared JSON. A browser sends text/plain or form bodies across sites without
 * asking first (no CORS preflight), so a page the operator visits could otherwise start runs or
 * change records on a loopback daemon without a token.
 */
function requireJson(req: IncomingMessage): void {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  // No type at all is a tool (browsers always label a body); any other type is refused.
  if (type !== '' && type !== 'application/json') throw new ApiError(415, 'unsupported-media-type', `send the body as Content-Type: application/json, not ${type}`);
}

/** Refuses requests a browser made for a page of another origin (the Origin header says so). */
function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

/** A path segment, percent-decoded; a malformed escape is the client's mistake (400). */
function segment(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new ApiError(400, 'invalid-path', `"${raw}" is not a valid URL path segment`);
  }
}

async function readJson(req: IncomingMessage, opts: { required?: boolean } = {}): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new ApiError(413, 'body-too-large', `request body is larger than ${MAX_BODY} bytes`);
    chunks.push(chunk as Buffer);
  }
  if (!size) {
    if (opts.required) throw new ApiError(400, 'invalid-body', 'the request body is empty; send a JSON object');
    return {};
  }
  requireJson(req);
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new ApiError(400, 'invalid-json', 'request body is not valid JSON');
  }
}

function authorized(req: IncomingMessage, token: string | undefined): boolean {
  if (!token) return true;
  const got = Buffer.from(req.headers.authorization ?? '');
  const want = Buffer.from(`Bearer ${token}`);
  return got.length === want.length && timingSafeEqual(got, want);
}

export function createApi(daemon: Daemon, token: string | undefined): Server {
  return createServer((req, res) => {
    handle(daemon, token, req, res).catch((err: unknown) => {
      if (err instanceof ApiError) return send(res, err.status, { error: { code: err.code, message: err.message } });
      if (err instanceof SkeinError) {
        const status = /not-found|unknown-run|unknown-workflow/.test(err.code) ? 404 : err.code === 'workflow-disabled' ? 409 : 400;
        return send(res, status, { error: { code: err.code, message: err.message } });
      }
      daemon.log.error({ err: (err as Error).message, path: req.url }, 'API request failed');
      send(res, 500, { error: { code: 'internal', message: 'internal error; see the daemon log' } });
    });
  });
}

async function handle(daemon: Daemon, token: string | undefined, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const path = url.pathname.replace(/\/+$/, '') || '/';
  const method = req.method ?? 'GET';
  if (path === '/healthz' && method === 'GET') return send(res, 200, { status: 'ok' });
  // Probes (a Kubernetes readinessProbe) cannot well carry a secret header; readiness tells
  // nothing a token should guard.
  if (path === '/readyz' && method === 'GET') {
    const r = await daemon.readiness();
    return send(res, r.ready ? 200 : 503, r);
  }
  if (!authorized(req, token)) throw new ApiError(401, 'unauthorized', 'missing or wrong bearer token');
  // Without a token a page of any site could drive a loopback daemon through the operator's
  // browser. With one, a browser must send the Authorization header, which it does not do across
  // origins without a CORS preflight the API never grants; a proxy in front may rewrite Host.
  if (!token && !sameOrigin(req)) throw new ApiError(403, 'cross-origin', 'requests from another web origin are refused');
  if (path === '/metrics' && method === 'GET') {
    const text = await daemon.metrics.registry.metrics();
    res.writeHead(200, { 'content-type': daemon.metrics.registry.contentType });
    res.end(text);
    return;
  }
  if (path === '/api/workflows' && method === 'GET') return send(res, 200, daemon.workflowsInfo());
  if (path === '/api/cluster' && method === 'GET') return send(res, 200, await daemon.cluster());
  if (path === '/api/runs' && method === 'GET') {
    const status = url.searchParams.get('status') ?? undefined;
    const limitText = url.searchParams.get('limit') ?? '50';
    if (!/^\d+$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > MAX_RUNS_LIMIT) throw new ApiError(400, 'invalid-query', `limit must be a whole number from 1 to ${MAX_RUNS_LIMIT}, not "${limitText}"`);
    if (status !== undefined && !(RUN_STATUSES as readonly string[]).includes(status)) throw new ApiError(400, 'invalid-query', `unknown status "${status}"; statuses: ${RUN_STATUSES.join(', ')}`);
    const runs = await daemon.store.listRuns({ workflow: url.searchParams.get('workflow') ?? undefined, status: status as never, limit: Number(limitText) });
    return send(res, 200, runs);
  }
  let m = /^\/api\/runs\/([^/]+)$/.exec(path);
  if (m && method === 'GET') {
    const run = await daemon.store.getRun(segment(m[1]!));
    if (!run) throw new ApiError(404, 'unknown-run', `no run with id "${m[1]}"`);
    return send(res, 200, run);
  }
  m = /^\/api\/workflows\/([^/]+)\/run$/.exec(path);
  if (m && method === 'POST') {
    const body = await readJson(req);
    if (!validateRunBody(body)) throw new ApiError(400, 'invalid-body', 'body must be {"records": ["key", ...]} (records optional)');
    const summary = await daemon.runManual(segment(m[1]!), (body as { records?: string[] }).records);
    return send(res, 200, summary);
  }
  m = /^\/api\/records\/([^/]+)\/([^/]+)$/.exec(path);
  if (m) {
    const [object, key] = [segment(m[1]!), segment(m[2]!)];
    if (!daemon.store.objects.has(object)) throw new ApiError(404, 'unknown-object', `no object "${object}"`);
    if (method === 'GET') {
      const rec = await daemon.store.getRecord(object, key);
      if (!rec) throw new ApiError(404, 'record-not-found', `no ${object} record "${key}"`);
      return send(res, 200, daemon.maskRecord(object, rec.fields));
    }
    if (method === 'DELETE') {
      const ev = await daemon.store.deleteRecord(object, key, { source: 'api' });
      if (!ev) throw new ApiError(404, 'record-not-found', `no ${object} record "${key}"`);
      return send(res, 200, { deleted: key });
    }
    if (method === 'PUT' || method === 'PATCH') {
      // An empty PUT would clear every field of the record.
      const body = await readJson(req, { required: true });
      if (!validateFields(body)) throw new ApiError(400, 'invalid-body', 'body must be an object of field: value (string, number, boolean or null)');
      let patch = body as Record<string, unknown>;
      if (method === 'PUT') {
        // PUT replaces: fields not given are cleared (the key stays).
        const current = await daemon.store.getRecord(object, key);
        const def = daemon.store.objects.get(object)!;
        patch = { ...Object.fromEntries(Object.keys(current?.fields ?? {}).filter((f) => f !== def.key).map((f) => [f, null])), ...patch };
      }
      const ev = await daemon.store.setFields(object, key, patch, { createIfMissing: true, source: 'api' });
      const rec = await daemon.store.getRecord(object, key);
      return send(res, ev?.kind === 'created' ? 201 : 200, daemon.maskRecord(object, rec?.fields ?? {}));
    }
  }
  throw new ApiError(404, 'not-found', `no route ${method} ${path}`);
}
