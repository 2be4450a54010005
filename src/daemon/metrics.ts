// Prometheus metrics (prom-client) on GET /metrics: runs and steps by workflow and outcome, step
// latency, schedule lateness, outbox lag, rate-limit waits, loaded and invalid workflows.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CallLimiter } from '../http/limiter.js';
import type { StepEvent, RunSummary } from '../engine/run.js';

export class DaemonMetrics {
  readonly registry = new Registry();
  private readonly runs = new Counter({ name: 'skein_runs_total', help: 'Finished runs by workflow, trigger and status.', labelNames: ['workflow', 'trigger', 'status'], registers: [this.registry] });
  private readonly steps = new Counter({ name: 'skein_steps_total', help: 'Settled steps by workflow, step and outcome.', labelNames: ['workflow', 'step', 'status'], registers: [this.registry] });
  private readonly stepSeconds = new Histogram({
    name: 'skein_step_duration_seconds',
    help: 'Step latency (all attempts, including limiter waits).',
    labelNames: ['workflow', 'step'],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  private readonly lateness = new Histogram({
    name: 'skein_schedule_lateness_seconds',
    help: 'How late schedule ticks fired.',
    labelNames: ['workflow'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
    registers: [this.registry],
  });
  readonly outboxLag = new Gauge({ name: 'skein_outbox_lag_seconds', help: 'Age of the oldest record event handled in the last poll.', registers: [this.registry] });
  readonly workflows = new Gauge({ name: 'skein_workflows', help: 'Workflow files by state (loaded or invalid).', labelNames: ['state'], registers: [this.registry] });

  constructor(limiter: CallLimiter) {
    const keys = () => limiter.keys();
    const waits = new Gauge({
      name: 'skein_rate_limit_wait_seconds_total',
      help: 'Time calls waited on the shared rate / concurrency limiter, by key (credential:script).',
      labelNames: ['key'],
      registers: [this.registry],
      collect() {
        for (const k of keys()) this.set({ key: k }, limiter.stats(k).waitedMs / 1000);
      },
    });
    const blocked = new Gauge({
      name: 'skein_rate_limit_blocks_total',
      help: '409 limit blocks seen, by key.',
      labelNames: ['key'],
      registers: [this.registry],
      collect() {
        for (const k of keys()) this.set({ key: k }, limiter.stats(k).blocked409);
      },
    });
    void waits;
    void blocked;
  }

  step(e: StepEvent): void {
    this.steps.inc({ workflow: e.workflow, step: e.step, status: e.status });
    this.stepSeconds.observe({ workflow: e.workflow, step: e.step }, e.durationMs / 1000);
  }

  run(trigger: string, s: RunSummary): void {
    this.runs.inc({ workflow: s.workflow, trigger, status: s.status });
  }

  tick(workflow: string, latenessMs: number): void {
    this.lateness.observe({ workflow }, latenessMs / 1000);
  }
}
