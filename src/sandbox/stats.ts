// Request counters for tests and benchmarks: totals, per-script peaks of concurrency, 409s, faults.

export interface ScriptStats {
  /** Requests that reached this script (including auth failures and blocked calls). */
  requests: number;
  /** Highest number of calls running at once for one (subscription, script). */
  maxConcurrentSeen: number;
  /** Calls blocked by a concurrency or rate limit. */
  blocked409: number;
  /** Requests that got an injected fault (latency excluded). */
  faults: number;
}

export interface SandboxStats {
  /** Every request to a /msp/ path. */
  requests: number;
  byScript: Record<string, ScriptStats>;
}

export class RequestStats {
  private total = 0;
  private readonly scripts = new Map<string, ScriptStats>();

  private entry(script: string): ScriptStats {
    let s = this.scripts.get(script);
    if (!s) {
      s = { requests: 0, maxConcurrentSeen: 0, blocked409: 0, faults: 0 };
      this.scripts.set(script, s);
    }
    return s;
  }

  /** Counts a request; `script` is undefined for unknown /msp/ paths. */
  request(script: string | undefined): void {
    this.total++;
    if (script !== undefined) this.entry(script).requests++;
  }

  admitted(script: string, running: number): void {
    const s = this.entry(script);
    if (running > s.maxConcurrentSeen) s.maxConcurrentSeen = running;
  }

  blocked(script: string): void {
    this.entry(script).blocked409++;
  }

  fault(script: string): void {
    this.entry(script).faults++;
  }

  snapshot(): SandboxStats {
    const byScript: Record<string, ScriptStats> = {};
    for (const [k, v] of this.scripts) byScript[k] = { ...v };
    return { requests: this.total, byScript };
  }

  reset(): void {
    this.total = 0;
    this.scripts.clear();
  }
}
