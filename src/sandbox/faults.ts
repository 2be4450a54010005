// Fault injection: latency, HTTP 500, dropped connections, malformed/slow/huge bodies.
//
// Grammar (docs/sandbox.md has the long form):
//   spec   = item *("," item)
//   item   = "seed=" INT | rule
//   rule   = kind *(":" option)
//   kind   = "500" | "drop" | "malformed" | "slow-body" | "huge" | "latency"
//   option = PROBABILITY          bare number in [0,1]            (not for latency)
//          | MS | MS "-" MS       bare delay or range in ms       (latency only)
//          | "p=" PROBABILITY | "every=" N | "times=" N
//          | "script=" NAME | "action=" NAME | "phase=" ("before" | "after")
//          | "ms=" N | "bytes=" N
// A rule with neither a probability nor `every` fires on every matching request.
import { SkeinError } from '../errors.js';
import { deriveSeed, randomSeed, seededRandom, type Random } from './random.js';

export const FAULT_KINDS = ['500', 'drop', 'malformed', 'slow-body', 'huge', 'latency'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultRule {
  kind: FaultKind;
  /** Fire with this probability (0..1). */
  probability?: number;
  /** Fire on every Nth matching request (N, 2N, ...). */
  every?: number;
  /** Stop after firing this many times. */
  times?: number;
  /** Only for this script, e.g. `user.php` (the `.php` may be left out). */
  script?: string;
  /** Only for this `action` parameter value, e.g. `add`. */
  action?: string;
  /**
   * `before`: the request is not applied. `after`: the request is applied, then the fault hits the
   * response (an after-drop is the "created but the client never heard" case).
   * Default `before` for 500/drop/malformed; slow-body and huge are always `after`.
   */
  phase?: 'before' | 'after';
  /** latency: delay (or minimum of a range); slow-body: total time to send the body. */
  ms?: number;
  /** latency: maximum of a range. */
  maxMs?: number;
  /** huge: body size in bytes (default 5 MiB). */
  bytes?: number;
}

export interface FaultSpec {
  rules: FaultRule[];
  seed?: number;
}

export class FaultSpecError extends SkeinError {
  constructor(message: string) {
    super('sandbox-fault-spec', message);
  }
}

const PROB = /^(?:0(?:\.\d+)?|1(?:\.0+)?|\.\d+)$/;
const INT = /^\d+$/;

function int(text: string, what: string, min = 1): number {
  if (!INT.test(text) || Number(text) < min) throw new FaultSpecError(`${what} must be an integer >= ${min}, got "${text}"`);
  return Number(text);
}

/** Parses a fault spec such as `500:0.1,drop:every=7,malformed:0.05,seed=42`. Throws FaultSpecError. */
export function parseFaultSpec(spec: string): FaultSpec {
  const out: FaultSpec = { rules: [] };
  for (const raw of spec.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    if (item.startsWith('seed=')) {
      out.seed = int(item.slice(5), 'seed', 0);
      continue;
    }
    const [kindText, ...opts] = item.split(':');
    if (!(FAULT_KINDS as readonly string[]).includes(kindText as string)) {
      throw new FaultSpecError(`unknown fault "${kindText}" in "${item}"; allowed: ${[...FAULT_KINDS].sort().join(', ')}, seed=N`);
    }
    const rule: FaultRule = { kind: kindText as FaultKind };
    for (const opt of opts) applyOption(rule, opt.trim(), item);
    checkRule(rule, item);
    out.rules.push(rule);
  }
  return out;
}

function applyOption(rule: FaultRule, opt: string, item: string): void {
  const eq = opt.indexOf('=');
  if (eq < 0) {
    const range = /^(\d+)(?:-(\d+))?$/.exec(opt);
    if (rule.kind === 'latency' && range) {
      rule.ms = Number(range[1]);
      if (range[2] !== undefined) rule.maxMs = Number(range[2]);
    } else if (rule.kind !== 'latency' && PROB.test(opt)) {
      rule.probability = Number(opt);
    } else {
      throw new FaultSpecError(`bad option "${opt}" in "${item}": expected ${rule.kind === 'latency' ? 'MS or MS-MS' : 'a probability 0..1'} or key=value`);
    }
    return;
  }
  const key = opt.slice(0, eq);
  const value = opt.slice(eq + 1);
  switch (key) {
    case 'p':
      if (!PROB.test(value)) throw new FaultSpecError(`p must be a probability 0..1 in "${item}"`);
      rule.probability = Number(value);
      return;
    case 'every':
      rule.every = int(value, 'every');
      return;
    case 'times':
      rule.times = int(value, 'times');
      return;
    case 'script':
      rule.script = normalizeScript(value);
      return;
    case 'action':
      rule.action = value;
      return;
    case 'phase':
      if (value !== 'before' && value !== 'after') throw new FaultSpecError(`phase must be before or after in "${item}"`);
      rule.phase = value;
      return;
    case 'ms':
      rule.ms = int(value, 'ms', 0);
      return;
    case 'bytes':
      rule.bytes = int(value, 'bytes');
      return;
    default:
      throw new FaultSpecError(`unknown option "${key}" in "${item}"; allowed: action, bytes, every, ms, p, phase, script, times`);
  }
}

function checkRule(rule: FaultRule, item: string): void {
  if (rule.kind === 'latency' && rule.ms === undefined) throw new FaultSpecError(`latency needs a delay, e.g. latency:50 (in "${item}")`);
  if (rule.maxMs !== undefined && rule.maxMs < (rule.ms ?? 0)) throw new FaultSpecError(`latency range is reversed in "${item}"`);
  if ((rule.kind === 'slow-body' || rule.kind === 'huge') && rule.phase === 'before') {
    throw new FaultSpecError(`${rule.kind} always applies the request; phase=before is not allowed (in "${item}")`);
  }
  if (rule.kind === 'latency' && rule.phase !== undefined) throw new FaultSpecError(`latency has no phase (in "${item}")`);
}

/** `user` -> `user.php`; leaves `user.php` alone. */
export function normalizeScript(name: string): string {
  return name.endsWith('.php') ? name : `${name}.php`;
}

/** What to do to one request. */
export interface FaultDecision {
  /** Extra delay before handling (ms). */
  delayMs: number;
  /** The response fault, if any (the first firing non-latency rule). */
  fault: FaultRule | null;
}

interface RuleState {
  rule: FaultRule;
  rng: Random;
  seen: number;
  fired: number;
}

const NO_FAULT: FaultDecision = { delayMs: 0, fault: null };

/** Decides faults per request. Deterministic for a given seed and request order. */
export class FaultInjector {
  private states: RuleState[] = [];
  private seed: number;

  constructor(spec: FaultSpec = { rules: [] }, seed?: number) {
    this.seed = spec.seed ?? seed ?? randomSeed();
    this.set(spec);
  }

  /** Replaces the rules (counters restart). */
  set(spec: FaultSpec): void {
    if (spec.seed !== undefined) this.seed = spec.seed;
    this.states = spec.rules.map((rule, i) => ({ rule, rng: seededRandom(deriveSeed(this.seed, i)), seen: 0, fired: 0 }));
  }

  get rules(): FaultRule[] {
    return this.states.map((s) => s.rule);
  }

  decide(script: string, action: string | undefined): FaultDecision {
    if (this.states.length === 0) return NO_FAULT;
    let delayMs = 0;
    let fault: FaultRule | null = null;
    for (const st of this.states) {
      const r = st.rule;
      if (r.script !== undefined && r.script !== script) continue;
      if (r.action !== undefined && r.action !== action) continue;
      if (r.times !== undefined && st.fired >= r.times) continue;
      st.seen++;
      let fires = true;
      if (r.every !== undefined) fires = st.seen % r.every === 0;
      if (fires && r.probability !== undefined) fires = st.rng.next() < r.probability;
      // A second response fault on the same request is skipped without using up its `times`.
      if (!fires || (r.kind !== 'latency' && fault !== null)) continue;
      st.fired++;
      if (r.kind === 'latency') {
        const min = r.ms ?? 0;
        delayMs += r.maxMs === undefined ? min : min + st.rng.int(r.maxMs - min + 1);
      } else {
        fault = r;
      }
    }
    return delayMs === 0 && fault === null ? NO_FAULT : { delayMs, fault };
  }
}

/** The effective phase of a response fault. */
export function faultPhase(rule: FaultRule): 'before' | 'after' {
  if (rule.kind === 'slow-body' || rule.kind === 'huge') return 'after';
  return rule.phase ?? 'before';
}
