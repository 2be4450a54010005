// Builds the exact HTTP request of a step: renders params over the record, checks them against the
// preset before anything is sent, encodes values (booleans as 1/0, everything URL-encoded), and
// keeps a redacted copy for plans and run history.
import type { Input, Request } from '../generated/preset.js';
import type { Step } from '../generated/workflow.js';
import { SkeinError } from '../errors.js';
import { checkParams, toBoolean, type ParamValue } from '../presets/params.js';
import type { Preset } from '../presets/registry.js';
import { render } from '../template/render.js';
import { isTemplate } from '../template/analyze.js';
import { redact, REDACTED } from './response.js';
import { redactUrl } from '../url-redact.js';
import { isSecretName } from '../secret-names.js';

export interface BuiltRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
  /** Rate-limit bucket: the preset's script or the URL path. */
  script: string;
  idempotent: boolean;
  /** What plans and run history show: secrets replaced, no Authorization header. */
  shown: ShownRequest;
}

export interface ShownRequest {
  method: string;
  url: string;
  params: Record<string, string>;
  headers: Record<string, string>;
  body?: string;
}

/** Renders a step's params. An empty rendering of a template means "not given". */
export function renderParams(params: Record<string, string | number | boolean> | undefined, context: object): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const [name, v] of Object.entries(params ?? {})) {
    if (typeof v !== 'string' || !isTemplate(v)) {
      out[name] = v;
      continue;
    }
    const r = render(v, context);
    if (r !== '') out[name] = r;
  }
  return out;
}

function wireValue(input: Input | undefined, v: string | number | boolean): string {
  if (input?.type === 'boolean') {
    const b = toBoolean(v);
    return b ? (input.wire_true ?? '1') : (input.wire_false ?? '0');
  }
  return String(v);
}

/** Maps (a preset's query, form or headers) that hold no template: rendered once, then copied. */
const constantMaps = new WeakMap<object, Record<string, string> | null>();

function renderMap(map: Record<string, string | number | boolean> | undefined, ctx: object, dropEmpty = false): Record<string, string> {
  if (map === undefined) return {};
  let constant = constantMaps.get(map);
  if (constant === undefined) {
    constant = Object.values(map).some((v) => typeof v === 'string' && isTemplate(v)) ? null : renderEach(map, ctx, false);
    constantMaps.set(map, constant);
  }
  // A copy: callers add the inputs to it.
  return constant ? Object.assign({}, constant) : renderEach(map, ctx, dropEmpty);
}

/** `dropEmpty`: a template that renders "" means "not given", as in params (a literal "" is sent). */
function renderEach(map: Record<string, string | number | boolean>, ctx: object, dropEmpty: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(map)) {
    const r = typeof v === 'string' ? render(v, ctx) : String(v);
    if (dropEmpty && r === '' && typeof v === 'string' && isTemplate(v)) continue;
    out[k] = r;
  }
  return out;
}

/** Builds a preset call from rendered params. Throws SkeinError('param-value') before any I/O. */
export function buildPresetRequest(preset: Preset, params: Record<string, string | number | boolean>, vars: Record<string, unknown>): BuiltRequest {
  const problems = checkParams(preset, params as Record<string, ParamValue>);
  if (problems.length) {
    throw new SkeinError(problems[0]!.code, `${preset.id}: ${problems.map((p) => p.message).join('; ')}`);
  }
  const inputs = preset.inputs as Record<string, Input>;
  const wire: Record<string, string> = {};
  const shownParams: Record<string, string> = {};
  for (const [name, v] of Object.entries(params)) {
    const input = inputs[name];
    // An empty value means "not given" unless the input may be cleared with an empty string.
    if (v === '' && !input?.allow_empty) continue;
    const key = input?.wire ?? name;
    wire[key] = wireValue(input, v);
    shownParams[key] = input?.sensitive ? REDACTED : wire[key]!;
  }
  return buildHttp(preset.request, { vars, inputs: params }, wire, shownParams);
}

/** Builds an inline `request:` step over the record context. */
export function buildInlineRequest(step: Step, context: object): BuiltRequest {
  return buildHttp(step.request!, context, {}, {});
}

interface BuiltUrl {
  url: string;
  shownUrl: string;
  pathname: string;
}

/**
 * URLs built from a base and query values, by their parts: the same call for
 * many records (e.g. user.php?action=deactivate, the login in the form) parses its URL once.
 */
const urlCache = new Map<string, BuiltUrl>();
/** Base URLs known to parse, each with its path's doubled slashes folded. */
const goodBases = new Map<string, string>();

/**
 * `https://host/` + `/msp/user.php` from a variable with a trailing slash gives `//msp/...`,
 * which strict servers answer 404: repeated slashes in the path (not the query) become one.
 */
function foldSlashes(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/[^/?#]*)([^?#]*)(.*)$/is.exec(url);
  return m ? m[1]! + m[2]!.replace(/\/{2,}/g, '/') + m[3]! : url;
}

function buildUrl(base: string, query: Record<string, string>, shownInputs: Record<string, string>): BuiltUrl {
  // Calls with a sensitive input are not cached (the shown URL redacts by input).
  let key: string | undefined = `${base.length}:${base}`;
  for (const k in shownInputs) if (shownInputs[k] === REDACTED) key = undefined;
  if (key !== undefined) {
    for (const k in query) {
      const v = query[k]!;
      key += `|${k.length}:${k}${v.length}:${v}`; // length-prefixed: no two queries share a key
    }
  }
  const hit = key === undefined ? undefined : urlCache.get(key);
  if (hit) return hit;
  const url = new URL(base); // checked by the caller
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  const shownUrl = new URL(url);
  for (const k of [...shownUrl.searchParams.keys()]) if (shownInputs[k] === REDACTED) shownUrl.searchParams.set(k, REDACTED);
  // A password in the base URL's user info (sent as Basic auth) is a secret like any other.
  if (shownUrl.password) shownUrl.password = '***';
  else if (shownUrl.username) shownUrl.username = '***'; // a user name alone is often a token
  const built = { url: url.toString(), shownUrl: shownUrl.toString(), pathname: url.pathname };
  if (key !== undefined) {
    if (urlCache.size >= 1000) urlCache.clear();
    urlCache.set(key, built);
  }
  return built;
}

/** JSON keys whose values an inline request body shows masked, when it is not JSON. */
const SECRET_BODY_KEYS = ['password', 'passwd', 'secret', 'client_secret', 'token', 'access_token', 'refresh_token', 'api_key', 'apikey', 'authorization'];

/** The keys of a JSON body (at any depth) whose names say they hold a secret (new_password, user_token). */
function bodySecretKeys(body: string): string[] {
  let tree: unknown;
  try {
    tree = JSON.parse(body);
  } catch {
    return SECRET_BODY_KEYS;
  }
  const keys = new Set<string>();
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (isSecretName(k)) keys.add(k);
        else walk(x);
      }
    }
  };
  walk(tree);
  return [...keys];
}

function buildHttp(req: Request, ctx: object, inputWire: Record<string, string>, shownInputs: Record<string, string>): BuiltRequest {
  const method = req.method;
  const rendered = render(req.url, ctx);
  let base = goodBases.get(rendered);
  if (base === undefined) {
    try {
      new URL(rendered);
    } catch {
      const uses = [...new Set(req.url.match(/vars\.[A-Za-z_][A-Za-z0-9_]*/g) ?? [])];
      const hint = uses.length ? `check ${uses.join(', ')} in skein.yaml (or --var)` : 'the url must start with http:// or https://';
      throw new SkeinError('request-url', `request URL ${JSON.stringify(redactUrl(rendered))} is not an absolute URL; ${hint}`);
    }
    base = foldSlashes(rendered);
    if (goodBases.size >= 1000) goodBases.clear();
    goodBases.set(rendered, base);
  }
  const query = renderMap(req.query, ctx, true);
  const form = renderMap(req.form, ctx, true);
  const inputsIn = req.inputs_in ?? (method === 'GET' ? 'query' : 'form');
  Object.assign(inputsIn === 'query' ? query : form, inputWire);
  // A value is shown masked when its input is sensitive, or when its name says it is a secret
  // (an inline request's `token=` or `X-Api-Key`): plans and run history never carry it.
  for (const k in query) if (isSecretName(k) && !(k in shownInputs)) (shownInputs = { ...shownInputs })[k] = REDACTED;
  const url = buildUrl(base, query, shownInputs);
  const headers: Record<string, string> = { 'x-requested-with': 'skein' };
  const given = renderMap(req.headers, ctx);
  for (const k in given) {
    // A line break would end the header (undici refuses it as a network error after the fact).
    if (/[\r\n]/.test(given[k]!)) throw new SkeinError('param-value', `header ${JSON.stringify(k)} would carry a line break; a header value is one line`);
    headers[k.toLowerCase()] = given[k]!;
  }
  let body: string | undefined;
  if (Object.keys(form).length && method !== 'GET') {
    body = new URLSearchParams(form).toString();
    headers['content-type'] = 'application/x-www-form-urlencoded';
  } else if (req.body !== undefined) {
    body = render(req.body, ctx);
    headers['content-type'] ??= 'application/json';
  }
  const shownParams: Record<string, string> = {};
  // A GET sends no body, so its form values never leave: the plan shows only what is sent.
  for (const [k, v] of Object.entries(method === 'GET' ? query : { ...query, ...form })) shownParams[k] = k in shownInputs ? shownInputs[k]! : isSecretName(k) ? REDACTED : v;
  const shownHeaders: Record<string, string> = {};
  for (const k in headers) shownHeaders[k] = isSecretName(k) ? REDACTED : headers[k]!;
  const shownBody = body === undefined || Object.keys(form).length ? undefined : req.body !== undefined ? redact(body, null, bodySecretKeys(body)).text : body;
  return {
    method,
    url: url.url,
    headers,
    body,
    script: req.script ?? url.pathname.split('/').pop() ?? url.pathname,
    idempotent: req.idempotent ?? method === 'GET',
    shown: { method, url: url.shownUrl, params: shownParams, headers: shownHeaders, body: shownBody },
  };
}

