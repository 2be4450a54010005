// The runner daemon: loads the workflow directory (valid workflows run, invalid ones are reported),
// fires schedules, consumes record events written by any process, serves the HTTP API, and shuts
// down gracefully. Resources are released in reverse order of acquisition.
import { knownVariables } from '../workflow/variables.js';
import { readdirSync, statSync, watch, type FSWatcher } from 'node:fs';
import type { Server } from 'node:http';
import { join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import { sortDiagnostics, type Diagnostic } from '../diagnostics.js';
import { SkeinError } from '../errors.js';
import type { WorkflowFile } from '../generated/workflow.js';
import { HttpClient } from '../http/index.js';
import { limiterFor } from '../http/shared-limiter.js';
import { runPending } from '../engine/pending.js';
import { deadLocalRunners, Presence } from '../engine/presence.js';
import { runWorkflow, type EngineDeps, type RunSummary } from '../engine/run.js';
import { openStore } from '../store/index.js';
import type { Fields, RunRow, Store } from '../store/types.js';
import { collectProjects, loadProject, overrideValue, projectDiagnostics, type LoadedProject } from '../workflow/project.js';
import { applySuppressions } from '../workflow/suppress.js';
import type { ObjectDef } from '../workflow/objects.js';
import { createApi } from './api.js';
import type { Logger } from './logger.js';
import { DaemonMetrics } from './metrics.js';
import { Scheduler, type Tick } from './scheduler.js';

export interface DaemonOptions {
  dir: string;
  cwd: string;
  state: string;
  host: string;
  port: number;
  env: NodeJS.ProcessEnv;
  log: Logger;
  /** Variable overrides (e.g. qualys_api_url of an in-process sandbox). */
  vars?: Record<string, string>;
  /** How often the outbox is polled for changes made by other processes (default 250 ms). */
  pollMs?: number;
  concurrency?: number;
  apiToken?: string;
  /** A runner silent this long is taken for dead: its event leases lapse and its runs are adopted (default 30 s). */
  leaseTtlMs?: number;
  /** Events leased per claim (default 16 per unit of concurrency). */
  claimBatch?: number;
}

/** How often the daemon checks that it still watches the workflow directory in place. */
const REWATCH_MS = 2000;

/**
 * Name, inode, size and mtime of every file under `dir`. fs.watch on Linux follows inodes: a file
 * replaced by rename (git pull, sed -i, editors' atomic saves) drops out of the watch, and later
 * edits or deletes go unseen. Comparing this every REWATCH_MS catches whatever the watcher missed.
 */
function treeFingerprint(dir: string): string {
  const parts: string[] = [];
  const walk = (d: string, depth: number): void => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.name.startsWith('.') || e.name === 'node_modules') continue;
      const p = join(d, e.name);
      if (e.isDirectory()) {
        if (depth < 8) walk(p, depth + 1);
        continue;
      }
      const st = statSync(p, { throwIfNoEntry: false });
      if (st) parts.push(`${p}\0${st.ino}\0${st.size}\0${st.mtimeMs}`);
    }
  };
  walk(dir, 0);
  return parts.sort().join('\n');
}

export class Daemon {
  readonly log: Logger;
  store!: Store;
  private project!: LoadedProject;
  private diagnostics: Diagnostic[] = [];
  private http!: HttpClient;
  private scheduler!: Scheduler;
  private server?: Server;
  private poller?: NodeJS.Timeout;
  private watcher?: FSWatcher;
  private watchedIno?: number;
  private watchStale = false;
  /** The workflow directory as it was when last loaded (treeFingerprint). */
  private loadedTree = '';
  /**
   * The objects the store checks records against. One map, refilled in place on reload, so a
   * field added to skein.yaml is writable by the workflows that validate against it.
   */
  private readonly objects = new Map<string, ObjectDef>();
  /** The findings last logged per workflow file. */
  private readonly loggedFindings = new Map<string, string>();
  private rewatcher?: NodeJS.Timeout;
  metrics!: DaemonMetrics;
  private polling?: Promise<void>;
  private lastSeenEvent = 0;
  private readonly stopping = new AbortController();
  private readonly inFlight = new Set<Promise<unknown>>();
  presence!: Presence;
  private adopter?: NodeJS.Timeout;
  private adopting = false;
  private limits?: Awaited<ReturnType<typeof limiterFor>>;

  constructor(private readonly opts: DaemonOptions) {
    this.log = opts.log;
  }

  /** Starts everything; resolves with the API's URL. */
  async start(): Promise<string> {
    this.loadWorkflows();
    this.store = await openStore(this.opts.state, this.objects);
    this.presence = await Presence.start(this.store, {
      role: 'daemon',
      ttlMs: this.opts.leaseTtlMs,
      onError: (err) => this.log.error({ err: (err as Error).message }, 'runner heartbeat failed; retrying'),
    });
    // On a shared store every runner's calls count against one concurrency budget per key.
    this.limits = await limiterFor(this.store, { onError: (err) => this.log.warn({ err: (err as Error).message }, 'returning a shared call slot failed') });
    this.http = new HttpClient({ connections: this.opts.concurrency ?? 16, limiter: this.limits.limiter });
    this.metrics = new DaemonMetrics(this.http.limiter);
    this.scheduler = new Scheduler({ store: this.store, log: this.log, runner: this.presence.id, fire: (t) => this.track(this.fireTick(t)) });
    await this.scheduler.plan(this.runnable());
    this.metrics.workflows.set({ state: 'loaded' }, this.runnable().length);
    this.metrics.workflows.set({ state: 'invalid' }, this.project.workflows.filter((w) => !w.valid).length);
    await this.adoptOrphans();
    this.adopter = setInterval(() => void this.adoptOrphans(), Math.max(100, Math.floor(this.presence.ttlMs / 3)));
    this.server = createApi(this, this.opts.apiToken);
    try {
      await new Promise<void>((resolve, reject) => {
        this.server!.once('error', reject);
        this.server!.listen(this.opts.port, this.opts.host, () => resolve());
      });
    } catch (err) {
      // Nothing may stay behind (heartbeat, timers, store): the process must be able to exit 1.
      await this.stop(0);
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new SkeinError('daemon-listen', `cannot listen on ${this.opts.host}:${this.opts.port} (${code}); choose another --listen`, { cause: err });
    }
    const { port } = this.server.address() as AddressInfo;
    const url = `http://${this.opts.host.includes(':') ? `[${this.opts.host}]` : this.opts.host}:${port}`;
    await this.presence.setInfo({ api: url, workflows: this.runnable().length });
    this.schedulePoll();
    this.watch();
    this.log.info({ url, workflows: this.runnable().length, invalid: this.project.workflows.filter((w) => !w.valid).length }, 'daemon started');
    return url;
  }

  /**
   * Loads (or reloads) the workflow directory. A file that validates takes effect as a whole; a
   * file that no longer validates keeps its last good version running; a new broken file is not
   * loaded; a deleted file stops its workflow. A broken skein.yaml keeps everything as it was
   * (on first load it stops the start). Runs in progress keep the definition they started with.
   */
  private loadWorkflows(): void {
    // Taken before reading, so a change made while loading shows on the next look.
    this.loadedTree = treeFingerprint(resolve(this.opts.cwd, this.opts.dir));
    const [group] = collectProjects([this.opts.dir], { cwd: this.opts.cwd });
    const project = loadProject(group!, { cwd: this.opts.cwd });
    const diags = applySuppressions(projectDiagnostics(project), this.opts.cwd);
    const configErrors = diags.filter((d) => d.severity === 'error' && project.configDiagnostics.some((c) => c.file === d.file));
    if (configErrors.length) {
      for (const d of configErrors) this.log.error({ file: d.file, line: d.line, col: d.col, code: d.code }, `skein.yaml not loaded: ${d.message}`);
      if (!this.project) throw new SkeinError('invalid-config', `skein.yaml has errors; run skein validate ${this.opts.dir}`);
      // The workflows keep running as loaded, so their findings stay as they were: what the broken
      // skein.yaml would make of them (unknown fields, credentials) is not theirs to show.
      const configFiles = new Set(configErrors.map((d) => d.file));
      this.diagnostics = sortDiagnostics([...this.diagnostics.filter((d) => !configFiles.has(d.file)), ...configErrors]);
      return;
    }
    const previous = new Map((this.project?.workflows ?? []).filter((w) => w.valid).map((w) => [w.path, w]));
    project.workflows = project.workflows.map((w) => {
      const errors = diags.filter((x) => x.file === w.file && x.severity === 'error');
      w.valid = w.def !== undefined && errors.length === 0;
      if (w.valid) {
        // A file that validates again is forgotten, so breaking it again is logged again.
        this.loggedFindings.delete(w.file);
        return w;
      }
      const lastGood = previous.get(w.path);
      // Logged when a file's findings change, not again on every reload of other files.
      const said = errors.map((d) => `${d.line}:${d.col}:${d.code}:${d.message}`).join('\n');
      if (this.loggedFindings.get(w.file) !== said) {
        for (const d of errors) {
          this.log.warn({ file: d.file, line: d.line, col: d.col, code: d.code, kept_last_good: Boolean(lastGood) }, `${lastGood ? 'change not loaded, last good version keeps running' : 'workflow not loaded'}: ${d.message}`);
        }
      }
      this.loggedFindings.set(w.file, said);
      return lastGood ?? w;
    });
    if (this.opts.vars && Object.keys(this.opts.vars).length) {
      const known = knownVariables(project);
      for (const name of Object.keys(this.opts.vars)) {
        if (!known.has(name)) this.log.warn({ variable: name }, `--var ${name}: no such variable in skein.yaml, the workflows or the presets; it has no effect`);
      }
      const variables = { ...project.config.variables };
      for (const [name, text] of Object.entries(this.opts.vars ?? {})) variables[name] = overrideValue(variables[name], text);
      project.config = { ...project.config, variables };
    }
    this.project = project;
    this.objects.clear();
    for (const [name, def] of project.scope.objects) this.objects.set(name, def);
    this.diagnostics = sortDiagnostics(diags);
    this.metrics?.workflows.set({ state: 'loaded' }, project.workflows.filter((w) => w.valid).length);
    this.metrics?.workflows.set({ state: 'invalid' }, project.workflows.filter((w) => this.diagnostics.some((d) => d.file === w.file && d.severity === 'error')).length);
  }

  /** Reloads the directory and re-plans schedules (file changes and SIGHUP). */
  async reload(reason: string): Promise<void> {
    if (this.stopping.signal.aborted) return;
    try {
      this.loadWorkflows();
      await this.scheduler.plan(this.runnable());
      this.log.info({ reason, workflows: this.runnable().length }, 'workflows reloaded');
    } catch (err) {
      this.log.error({ reason, err: (err as Error).message }, 'reload failed; the previous workflows keep running');
    }
  }

  /** Watches the workflow directory; bursts of changes reload once. */
  private watch(): void {
    let timer: NodeJS.Timeout | undefined;
    const dir = resolve(this.opts.cwd, this.opts.dir);
    this.watcher?.close();
    this.watcher = undefined;
    try {
      this.watchedIno = statSync(dir).ino;
      this.watchStale = false;
      this.watcher = watch(dir, { recursive: true }, () => {
        // The directory itself moved away: this watcher may never report again.
        if (statSync(dir, { throwIfNoEntry: false })?.ino !== this.watchedIno) this.watchStale = true;
        clearTimeout(timer);
        timer = setTimeout(() => {
          // Watched afresh: a file the change replaced by rename is watched by its new inode.
          if (!this.stopping.signal.aborted) this.watch();
          void this.reload('file change');
        }, 200);
      });
      this.watcher.on('error', () => {
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'cannot watch the workflow directory; reload with SIGHUP');
    }
    // A deploy that moves the directory away and puts a new one in its place leaves the watcher
    // on the old one (or dead): look every few seconds, and watch and reload the new one.
    this.rewatcher ??= setInterval(() => {
      if (this.stopping.signal.aborted) return;
      const ino = statSync(dir, { throwIfNoEntry: false })?.ino;
      if (ino === undefined) return;
      if (ino !== this.watchedIno || !this.watcher || this.watchStale) {
        this.log.info({ dir: this.opts.dir }, 'the workflow directory was replaced; watching the new one');
        this.watch();
        void this.reload('workflow directory replaced');
        return;
      }
      // Files replaced by rename fall out of the watch: watch afresh, and load what changed.
      if (treeFingerprint(dir) !== this.loadedTree) {
        this.watch();
        void this.reload('file change');
      }
    }, REWATCH_MS);
    this.rewatcher.unref();
  }

  /**
   * Runs left `running` by a runner that died (its heartbeat older than the lease time, or its
   * process gone from this host) are adopted by exactly one live runner, closed as cancelled and
   * resumed: scheduled runs run again over the records they had not finished (steps in doubt are
   * reconciled, not re-sent), runs a person started are only closed (see resumeRuns); event runs
   * resume by themselves once their event leases lapse,
   * since their events were not marked handled. Runs at start and every third of the lease time.
   */
  private async adoptOrphans(): Promise<void> {
    if (this.stopping.signal.aborted || this.adopting) return;
    this.adopting = true;
    try {
      for (const id of deadLocalRunners(await this.store.listRunners(this.presence.ttlMs))) {
        this.log.info({ dead_runner: id }, 'a runner on this host is gone; releasing its leases');
        await this.store.removeRunner(id);
      }
      await this.resumeRuns(await this.store.adoptOrphanRuns(this.presence.id, this.presence.ttlMs));
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'adopting the runs of dead runners failed; retrying');
    } finally {
      this.adopting = false;
    }
  }

  /**
   * Scheduled runs are the daemon's own: resumed over the records they had not finished. A run a
   * person started (manual, retry) is only closed: re-running it later, perhaps after they ran it
   * again themselves, would repeat calls such as password resets; the log says so.
   */
  private async resumeRuns(runs: RunRow[]): Promise<void> {
    for (const run of runs) {
      const own = run.trigger === 'schedule';
      await this.store.finishRun(run.id, 'cancelled', { interrupted: true, note: own ? 'the runner stopped during this run; its unfinished records were resumed by another runner or the next start' : run.trigger === 'event' ? 'the runner stopped during this run; its events run again' : 'the runner stopped during this run; started by a person, it is not resumed: run it again (calls in doubt are reconciled)' });
      const wf = this.runnable().find((w) => w.name === run.workflow);
      if (!wf || run.trigger === 'event') continue;
      if (!own) {
        this.log.warn({ workflow: wf.name, run: run.id, trigger: run.trigger }, 'a run started by a person was interrupted and is not resumed; run it again (calls in doubt are reconciled)');
        continue;
      }
      const detail = await this.store.getRun(run.id);
      const finished = new Set((detail?.records ?? []).filter((r) => r.status === 'succeeded' || r.status === 'failed').map((r) => r.key));
      const wanted = (run.trigger_data as { keys?: string[] } | null)?.keys ?? (await this.store.listRecords(wf.object)).map((r) => r.key);
      const keys = wanted.filter((k) => !finished.has(k));
      this.log.info({ workflow: wf.name, run: run.id, records: keys.length }, 'resuming an interrupted run over its unfinished records');
      if (!keys.length) continue;
      void this.track(runWorkflow(this.deps(), wf, { keys, trigger: 'retry', triggerData: { resumes: run.id, keys } })).catch((err: unknown) =>
        this.log.error({ workflow: wf.name, err: (err as Error).message }, 'resuming an interrupted run failed'),
      );
    }
  }

  private runnable(): WorkflowFile[] {
    return this.project.workflows.filter((w) => w.valid && w.def).map((w) => w.def!);
  }

  private deps(): EngineDeps {
    return {
      project: this.project,
      store: this.store,
      http: this.http,
      env: this.opts.env,
      concurrency: this.opts.concurrency ?? 16,
      stopSignal: this.stopping.signal,
      runner: this.presence,
      onStep: (e) => {
        this.metrics.step(e);
        // Every step line carries the workflow, run, record and step ids.
        const line = { workflow: e.workflow, run: e.run, record: e.record, step: e.step, status: e.status, duration_ms: e.durationMs, attempts: e.attempts };
        if (e.status === 'succeeded') this.log.debug(line, 'step succeeded');
        else this.log.warn({ ...line, error: e.error }, `step ${e.status}`);
      },
    };
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p)).catch(() => undefined);
    return p;
  }

  private async fireTick(t: Tick): Promise<void> {
    const log = this.log.child({ workflow: t.workflow.name });
    log.info({ tick: t.at.toISOString(), lateness_ms: t.latenessMs, catch_up: t.catchUp }, 'schedule fired');
    if (!t.catchUp) this.metrics.tick(t.workflow.name, t.latenessMs);
    const s = await runWorkflow(this.deps(), t.workflow, { trigger: 'schedule', triggerData: { tick: t.at.toISOString(), catch_up: t.catchUp } });
    this.metrics.run('schedule', s);
    log.info({ run: s.runId, status: s.status, matched: s.matched, failed: s.failed }, 'scheduled run finished');
  }

  /** Polls the outbox: changes by any process (CLI, import, API) reach their workflows within a second. */
  private schedulePoll(): void {
    if (this.stopping.signal.aborted) return;
    this.poller = setTimeout(() => {
      this.polling = this.track(this.pollOnce()).finally(() => this.schedulePoll());
    }, this.opts.pollMs ?? 250);
  }

  private async pollOnce(): Promise<void> {
    try {
      const oldest = (await this.store.readEvents({ afterId: this.lastSeenEvent, limit: 1 }))[0];
      const runs = await runPending(this.deps(), { batch: this.opts.claimBatch ?? 16 * (this.opts.concurrency ?? 16) });
      this.lastSeenEvent = await this.store.lastEventId();
      this.metrics.outboxLag.set(runs.length && oldest ? Math.max(0, (Date.now() - Date.parse(oldest.at)) / 1000) : 0);
      for (const s of runs) {
        this.metrics.run('event', s);
        this.log.info({ workflow: s.workflow, run: s.runId, status: s.status, matched: s.matched, failed: s.failed }, 'event run finished');
      }
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'event processing failed; retrying on the next poll');
    }
  }

  async runManual(name: string, records?: string[]): Promise<RunSummary> {
    const wf = this.runnable().find((w) => w.name === name);
    if (!wf) throw new SkeinError('unknown-workflow', `no loaded workflow named "${name}"`);
    if (wf.enabled === false) throw new SkeinError('workflow-disabled', `workflow ${name} is disabled (enabled: false); enable it to run it`);
    const s = await this.track(runWorkflow(this.deps(), wf, { keys: records, trigger: 'manual', triggerData: { via: 'api', records } }));
    this.metrics.run('manual', s);
    return s;
  }

  workflowsInfo(): unknown[] {
    // Findings on files that are no workflow (skein.yaml) get an entry of their own.
    const workflowFiles = new Set(this.project.workflows.map((w) => w.file));
    const others = [...new Set(this.diagnostics.filter((d) => !workflowFiles.has(d.file)).map((d) => d.file))].map((file) => {
      const diagnostics = this.diagnostics.filter((d) => d.file === file);
      const broken = diagnostics.some((d) => d.severity === 'error');
      return { name: null, file, valid: !broken, enabled: null, trigger: null, next_fire: null, diagnostics, running_last_good: broken };
    });
    return [...this.workflowEntries(), ...others];
  }

  private workflowEntries(): unknown[] {
    return this.project.workflows.map((w) => ({
      name: w.def?.name ?? null,
      file: w.file,
      valid: w.valid,
      enabled: w.def ? w.def.enabled !== false : null,
      trigger: w.def?.trigger ?? null,
      next_fire: w.def ? (this.scheduler.nextFire(w.def.name)?.toISOString() ?? null) : null,
      diagnostics: this.diagnostics.filter((d) => d.file === w.file),
      running_last_good: w.valid && this.diagnostics.some((d) => d.file === w.file && d.severity === 'error'),
    }));
  }

  /** The runners sharing this store, for GET /api/cluster. */
  async cluster(): Promise<unknown> {
    return { self: this.presence.id, lease_ttl_ms: this.presence.ttlMs, runners: await this.store.listRunners(this.presence.ttlMs) };
  }

  async readiness(): Promise<{ ready: boolean; workflows: number; store: string }> {
    try {
      await this.store.countRecords(this.project.scope.objects.keys().next().value ?? 'users');
      return { ready: !this.stopping.signal.aborted, workflows: this.runnable().length, store: 'ok' };
    } catch (err) {
      return { ready: false, workflows: this.runnable().length, store: (err as Error).message };
    }
  }

  maskRecord(object: string, fields: Fields): Fields {
    const def = this.store.objects.get(object);
    const out: Fields = {};
    for (const [k, v] of Object.entries(fields)) out[k] = def?.fields[k]?.sensitive ? '********' : v;
    return out;
  }

  /**
   * Graceful stop: no new work, in-flight steps finish up to `timeoutMs`, then everything closes.
   * Resolves false when the deadline passed with work still running.
   */
  async stop(timeoutMs: number): Promise<boolean> {
    this.stopping.abort();
    this.watcher?.close();
    clearInterval(this.rewatcher);
    if (this.poller) clearTimeout(this.poller);
    clearInterval(this.adopter);
    this.server?.close();
    const drained = Promise.allSettled([this.scheduler?.stop(), this.polling, ...this.inFlight]).then(() => true);
    const deadline = new Promise<boolean>((r) => setTimeout(() => r(false), timeoutMs).unref());
    const clean = await Promise.race([drained, deadline]);
    // Past the deadline calls still waiting on the vendor are cut off (a call not safe to repeat
    // was journaled first, so it is reconciled later, never re-sent blindly).
    await (clean ? this.http?.close() : this.http?.destroy())?.catch(() => undefined);
    await this.limits?.close();
    // Only after a clean drain may the runner vanish at once; with work still in flight its leases
    // and runs must lapse and be taken over as after a crash.
    if (clean) await this.presence?.stop();
    else this.presence?.halt();
    await this.store?.close().catch(() => undefined);
    this.log.info({ clean }, clean ? 'daemon stopped' : 'daemon stopped at the shutdown deadline with work in flight');
    return clean;
  }
}
