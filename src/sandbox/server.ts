// The node:http front of the sandbox. Per request: route -> read params -> Basic auth -> limits
// (concurrency, then rate) -> latency -> faults "before" -> script handler -> faults "after".
// Every response carries the six limit headers. Keep-alive stays on; nothing heavy per request.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { handleAcceptEula } from './accept-eula.js';
import type { ApiAccount } from './accounts.js';
import { authenticate } from './auth.js';
import { CODE } from './codes.js';
import type { Reply, RequestContext, ScriptHandler } from './context.js';
import { handleControl, type ControlTarget } from './control.js';
import { faultPhase, type FaultInjector, type FaultRule } from './faults.js';
import type { LimitHeaders, LimitTracker } from './limits.js';
import { isoSeconds } from './model.js';
import { isFormBody, parseParams } from './params.js';
import { handlePasswordChange } from './password-change.js';
import type { Random } from './random.js';
import type { RequestStats } from './stats.js';
import { handleUserList } from './user-list.js';
import { handleUserPhp } from './user-php.js';
import type { UserDirectory } from './users.js';
import { USER_LIST_PROLOGUE, genericReturn, type ApiStamp } from './xml.js';

/** What the server needs from the sandbox that owns it. */
export interface SandboxRuntime {
  now(): number;
  readonly dtdBase: string;
  readonly accounts: ReadonlyMap<string, ApiAccount>;
  /** The current directory (replaced by reset/load). */
  directory(): UserDirectory;
  readonly rng: Random;
  readonly limits: LimitTracker;
  readonly faults: FaultInjector;
  /** Base latency added to every /msp/ call. */
  latencyMs(): number;
  readonly stats: RequestStats;
  /** Called after a handler changed state. */
  changed(): void;
  /** The /__sandbox/ control API; null disables it. */
  readonly control: ControlTarget | null;
}

interface Script {
  name: string;
  handler: ScriptHandler;
}

const SCRIPTS: ReadonlyMap<string, Script> = new Map([
  ['/msp/user.php', { name: 'user.php', handler: handleUserPhp }],
  ['/msp/user_list.php', { name: 'user_list.php', handler: handleUserList }],
  ['/msp/password_change.php', { name: 'password_change.php', handler: handlePasswordChange }],
  ['/msp/acceptEULA.php', { name: 'acceptEULA.php', handler: handleAcceptEula }],
]);

const MAX_BODY = 1024 * 1024;
const DEFAULT_SLOW_BODY_MS = 2000;
const DEFAULT_HUGE_BYTES = 5 * 1024 * 1024;

export class SandboxHttpServer {
  private server: Server | null = null;
  private readonly timers = new Set<NodeJS.Timeout>();
  private isoSecond = -1;
  private isoText = '';
  private padding = { bytes: 0, text: '' };

  constructor(private readonly rt: SandboxRuntime) {}

  async listen(port: number, host: string): Promise<{ url: string; port: number }> {
    if (this.server) throw new Error('sandbox server already started');
    const server = createServer({ keepAlive: true }, (req, res) => this.onRequest(req, res));
    server.keepAliveTimeout = 30_000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address() as AddressInfo;
    const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    return { url: `http://${shownHost}:${addr.port}`, port: addr.port };
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private at(nowMs: number): string {
    const second = Math.floor(nowMs / 1000);
    if (second !== this.isoSecond) {
      this.isoSecond = second;
      this.isoText = isoSeconds(nowMs);
    }
    return this.isoText;
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const query = q < 0 ? '' : url.slice(q + 1);
    const method = req.method ?? 'GET';

    if (path.startsWith('/__sandbox/') && this.rt.control) {
      const control = this.rt.control;
      readBody(req, (body) => {
        const reply = handleControl(control, method, path, body ?? '');
        sendRaw(res, reply.status, reply.body, 'application/json', this.rt.limits.idleHeaders());
      });
      return;
    }
    const script = SCRIPTS.get(path);
    if (path.startsWith('/msp/')) this.rt.stats.request(script?.name);
    if (!script) {
      sendRaw(res, 404, `Not Found: ${path}\n`, 'text/plain', this.rt.limits.idleHeaders());
      return;
    }
    if (method !== 'GET' && method !== 'POST') {
      sendRaw(res, 405, `Method ${method} not allowed; use GET or POST\n`, 'text/plain', { ...this.rt.limits.idleHeaders(), Allow: 'GET, POST' });
      return;
    }
    const form = isFormBody(req.headers['content-type']);
    readBody(req, (body) => {
      if (body === null) {
        sendRaw(res, 413, 'Request body too large\n', 'text/plain', this.rt.limits.idleHeaders());
        return;
      }
      this.dispatch(req, res, script, query, form ? body : '');
    });
  }

  private dispatch(req: IncomingMessage, res: ServerResponse, script: Script, query: string, body: string): void {
    const rt = this.rt;
    const params = parseParams(query, body);
    const directory = rt.directory();
    const auth = authenticate(req.headers.authorization, rt.accounts, directory, script.name);
    const stampFor = (username: string): ApiStamp => ({ script: script.name, username, at: this.at(rt.now()), dtdBase: rt.dtdBase });
    if (!auth.ok) {
      // A 401 carries its Basic challenge (RFC 7235), so clients that wait for one send credentials.
      const challenge: Record<string, string> = auth.httpStatus === 401 ? { 'WWW-Authenticate': 'Basic realm="Qualys API"' } : {};
      // A known login's subscription has a budget of its own: its headers, not the sandbox-wide ones.
      const known = auth.username ? directory.byLogin(auth.username) : undefined;
      const limitHeaders = known ? rt.limits.peekHeaders(known.subscription, script.name) : rt.limits.idleHeaders();
      send(res, auth.httpStatus, genericReturn(stampFor(auth.username), 'FAILED', auth.code, auth.text), { ...limitHeaders, ...challenge });
      return;
    }
    const caller = auth.user;
    const admission = rt.limits.admit(caller.subscription, script.name);
    if (!admission.ok) {
      rt.stats.blocked(script.name);
      send(res, 409, genericReturn(stampFor(caller.login), 'FAILED', admission.code, admission.message), admission.headers);
      return;
    }
    rt.stats.admitted(script.name, admission.running);
    res.once('close', admission.release);
    caller.last_login_at = this.at(rt.now());

    const decision = rt.faults.decide(script.name, params.get('action'));
    const run = (): void => {
      const fault = decision.fault;
      if (fault) rt.stats.fault(script.name);
      const stamp = stampFor(caller.login);
      if (fault && faultPhase(fault) === 'before') {
        this.deliver(req, res, fault, null, stamp, admission.headers);
        return;
      }
      // The directory may have been replaced (reset) while this call waited.
      const current = rt.directory();
      const sub = current.subscriptions.get(caller.subscription);
      let reply: Reply;
      if (!sub || current.byLogin(caller.login) !== caller) {
        reply = { status: 200, body: genericReturn(stamp, 'FAILED', CODE.BAD_LOGIN, 'Bad Login/Password') };
      } else {
        const ctx: RequestContext = { caller, sub, directory: current, params, nowMs: rt.now(), stamp, rng: rt.rng, changed: () => rt.changed() };
        try {
          reply = script.handler(ctx);
        } catch {
          reply = { status: 500, body: genericReturn(stamp, 'FAILED', CODE.INTERNAL, 'Internal Error') };
        }
      }
      if (fault) this.deliver(req, res, fault, reply, stamp, admission.headers);
      else send(res, reply.status, reply.body, admission.headers);
    };
    const delay = rt.latencyMs() + decision.delayMs;
    if (delay > 0) this.later(delay, run);
    else run();
  }

  /** Sends `reply` (null: the request was not applied) through a fault. */
  private deliver(req: IncomingMessage, res: ServerResponse, fault: FaultRule, reply: Reply | null, stamp: ApiStamp, headers: LimitHeaders): void {
    switch (fault.kind) {
      case '500':
        send(res, 500, genericReturn(stamp, 'FAILED', CODE.INTERNAL, 'Internal Error'), headers);
        return;
      case 'drop':
        req.socket.destroy();
        return;
      case 'malformed': {
        const full = reply?.body ?? skeleton(stamp);
        send(res, 200, full.slice(0, Math.max(1, Math.floor(full.length * 0.6))), headers);
        return;
      }
      case 'huge': {
        const r = reply as Reply;
        send(res, r.status, this.pad(r.body, fault.bytes ?? DEFAULT_HUGE_BYTES), headers);
        return;
      }
      case 'slow-body': {
        const r = reply as Reply;
        this.sendSlowly(res, r, headers, fault.ms ?? DEFAULT_SLOW_BODY_MS);
        return;
      }
      case 'latency':
        return; // never a response fault
    }
  }

  /** Inserts a comment of `bytes` characters after the prologue: still well-formed XML. */
  private pad(body: string, bytes: number): string {
    if (this.padding.bytes !== bytes) this.padding = { bytes, text: `<!-- ${'x'.repeat(bytes)} -->\n` };
    const afterDoctype = body.indexOf('\n', body.indexOf('<!DOCTYPE')) + 1;
    return body.slice(0, afterDoctype) + this.padding.text + body.slice(afterDoctype);
  }

  private sendSlowly(res: ServerResponse, reply: Reply, headers: LimitHeaders, totalMs: number): void {
    if (res.destroyed) return;
    const buf = Buffer.from(reply.body);
    res.writeHead(reply.status, { 'Content-Type': 'application/xml', 'Content-Length': String(buf.length), ...headers });
    const parts = Math.max(1, Math.min(10, buf.length));
    const size = Math.ceil(buf.length / parts);
    let i = 0;
    const tick = (): void => {
      if (res.destroyed) return;
      const chunk = buf.subarray(i * size, (i + 1) * size);
      i++;
      if (i >= parts) res.end(chunk);
      else {
        res.write(chunk);
        this.later(totalMs / parts, tick);
      }
    };
    tick();
  }
}

/** A plausible start of a response, for malformed faults that fire before the request is applied. */
function skeleton(stamp: ApiStamp): string {
  if (stamp.script === 'user_list.php') {
    return `${USER_LIST_PROLOGUE}<USER_LIST_OUTPUT>\n  <USER_LIST>\n    <USER>\n      <USER_LOGIN>${stamp.username}</USER_LOGIN>\n`;
  }
  return genericReturn(stamp, 'SUCCESS', undefined, 'The operation was successfully completed');
}

/** Reads a body up to MAX_BODY; `null` when it is larger. */
function readBody(req: IncomingMessage, done: (body: string | null) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size <= MAX_BODY) chunks.push(chunk);
  });
  req.on('end', () => done(size > MAX_BODY ? null : chunks.length === 0 ? '' : Buffer.concat(chunks).toString('utf8')));
  req.on('error', () => undefined);
}

function send(res: ServerResponse, status: number, body: string, headers: LimitHeaders): void {
  sendRaw(res, status, body, 'application/xml', headers);
}

function sendRaw(res: ServerResponse, status: number, body: string, contentType: string, headers: LimitHeaders): void {
  if (res.destroyed || res.headersSent) return;
  // Literal first: V8 adds properties after a spread through its slow path (~1 us a response).
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': String(Buffer.byteLength(body)), ...headers });
  res.end(body);
}
