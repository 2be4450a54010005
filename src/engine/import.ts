// Import workflows (the "extended integration"): list users with a list preset, then create or
// update one record per listed item, matched by ordered sync keys; records whose vendor user
// vanished are flagged, never deleted. All writes land in one transaction.
import type { WorkflowFile } from '../generated/workflow.js';
import { SkeinError } from '../errors.js';
import { getPreset } from '../presets/registry.js';
import type { FieldPatch, StoredRecord } from '../store/types.js';
import { render } from '../template/render.js';
import { analyzeTemplate } from '../template/analyze.js';
import { readItems } from './response.js';
import { executeStep } from './step.js';
import { objectOf, resolveStepCredentials, varsOf, type EngineDeps, type RunSummary, type RunTarget } from './run.js';
import { isoNow } from '../clock.js';

export async function runImport(deps: EngineDeps, wf: WorkflowFile, target: RunTarget): Promise<RunSummary> {
  const imp = wf.import!;
  const preset = getPreset(imp.preset);
  if (!preset?.request.items) throw new SkeinError('import-shape', `workflow ${wf.name}: preset ${imp.preset} does not list items`);
  const creds = resolveStepCredentials(deps, [imp.credentials]);
  const obj = objectOf(deps, wf);
  const vars = varsOf(deps);
  const runId = await deps.store.createRun({ workflow: wf.name, trigger: target.trigger, trigger_data: target.triggerData ?? {}, runner: deps.runner?.id });
  const stepId = 'list';
  const summary: RunSummary = {
    runId, workflow: wf.name, status: 'succeeded', considered: 0, matched: 0, succeeded: 0, failed: 0,
    steps: { [stepId]: { succeeded: 0, failed: 0, skipped: 0, unknown: 0 } }, failures: [],
    import: { listed: 0, created: 0, updated: 0, unchanged: 0, vanished: 0, rejected: 0 },
  };
  const startedAt = isoNow();
  await deps.store.startRunRecord(runId, wf.object, '*');
  await deps.store.recordStep(runId, '*', { step_id: stepId, status: 'running', started_at: startedAt });
  deps.onStepStart?.({ workflow: wf.name, run: runId, record: '*', step: stepId });
  const exec = await executeStep(
    { id: stepId, preset: imp.preset, credentials: imp.credentials, params: imp.params },
    preset,
    { vars },
    { http: deps.http, vars, credential: imp.credentials ? creds.get(imp.credentials) : undefined, signal: deps.signal },
  );
  const stepRow = { step_id: stepId, request: exec.request, http_status: exec.status ?? null, qualys_code: exec.response?.code ?? null, qualys_message: exec.response?.message ?? null, attempts: exec.attempts, duration_ms: exec.durationMs, started_at: startedAt, finished_at: isoNow() };
  if (exec.outcome !== 'succeeded') {
    const code = exec.errorCode ?? null;
    await deps.store.recordStep(runId, '*', { ...stepRow, status: 'failed', response: exec.response?.text ?? null, error: exec.error ?? 'failed', error_code: code });
    await deps.store.finishRunRecord(runId, '*', 'failed', exec.error ?? null);
    summary.steps[stepId]!.failed++;
    summary.failed++;
    summary.status = 'failed';
    summary.failures.push({ key: '*', step: stepId, error: `${exec.error ?? 'failed'}${code ? ` [${code}]` : ''}` });
    await deps.store.finishRun(runId, 'failed', summary);
    return summary;
  }
  summary.steps[stepId]!.succeeded++;
  const items = readItems(preset.request.items, exec.response!.tree);
  summary.import!.listed = items.length;
  summary.considered = items.length;

  const existing = await deps.store.listRecords(wf.object);
  const first = imp.match[0]!;
  // Every item's fields, rendered before anything is matched: which vendor users are listed
  // (their first sync key) decides which records are taken (see Matcher).
  const sources = itemSources(imp.fields);
  const rendered = items.map((item, n): { n: number; patch?: FieldPatch; error?: string; link?: string } => {
    const ctx = { item, vars };
    let link: string | undefined;
    try {
      link = render(imp.fields[first]!, ctx);
      const patch: FieldPatch = {};
      for (const [f, tpl] of Object.entries(imp.fields)) {
        // An element the list leaves out (a Unit Manager's view has no USER_LOGIN, an
        // Administrator's no LAST_LOGIN_DATE) says nothing about the value: it is kept, not
        // cleared. An element that is there but empty clears it.
        const from = sources.get(f)!;
        if (from.length && from.every((name) => !(name in item))) continue;
        patch[f] = f === first ? link : render(tpl, ctx);
      }
      return { n, patch, link };
    } catch (err) {
      return { n, error: (err as Error).message, link };
    }
  });
  const matcher = new Matcher(imp.match, existing, rendered.map((r) => r.link));
  const source = `workflow:${wf.name}`;
  await deps.store.transaction(async (tx) => {
    for (const { n, patch, error } of rendered) {
      if (!patch) {
        summary.import!.rejected++;
        summary.failures.push({ key: `item ${n + 1}`, step: 'map', error: error! });
        continue;
      }
      let target: StoredRecord | undefined;
      try {
        target = matcher.match(patch);
        if (target) {
          matcher.claim(target.key, patch);
          const { [obj.key]: _ignored, ...rest } = patch;
          const ev = await tx.setFields(wf.object, target.key, rest, { source });
          if (ev) summary.import!.updated++;
          else summary.import!.unchanged++;
        } else if (imp.create !== false) {
          const key = String(patch[obj.key] ?? '');
          if (!key) throw new SkeinError('import-key', `item has no value for the key field ${obj.key}`);
          matcher.checkNewKey(key, patch);
          const ev = await tx.setFields(wf.object, key, patch, { source, createIfMissing: true });
          matcher.claim(key, patch);
          if (ev?.kind === 'created') summary.import!.created++;
          else if (ev) summary.import!.updated++;
          else summary.import!.unchanged++;
        }
      } catch (err) {
        summary.import!.rejected++;
        // Named by the record it would have changed, else its rendered key, else its place.
        summary.failures.push({ key: target?.key ?? (String(patch[obj.key] ?? '') || `item ${n + 1}`), step: 'map', error: (err as Error).message });
      }
    }
    if (imp.vanished) {
      for (const r of matcher.vanished()) {
        if (String(r.fields[imp.vanished.field] ?? '') === imp.vanished.value) continue;
        await tx.setFields(wf.object, r.key, { [imp.vanished.field]: imp.vanished.value }, { source });
        summary.import!.vanished++;
      }
    }
    await tx.recordStep(runId, '*', { ...stepRow, status: 'succeeded', response: exec.response!.text, outputs: summary.import });
  });
  summary.matched = summary.import!.created + summary.import!.updated + summary.import!.unchanged;
  summary.succeeded = summary.matched;
  summary.failed = summary.import!.rejected;
  summary.status = summary.failed ? 'partial' : 'succeeded';
  await deps.store.finishRunRecord(runId, '*', summary.failed ? 'failed' : 'succeeded', summary.failed ? `${summary.failed} listed item(s) rejected` : null);
  await deps.store.finishRun(runId, summary.status, summary);
  return summary;
}

/** Per mapped field, the item fields its template reads ({{item.login}} -> ['login']). */
function itemSources(fields: Record<string, string>): Map<string, string[]> {
  return new Map(
    Object.entries(fields).map(([f, tpl]) => [f, analyzeTemplate(String(tpl)).references.filter((r) => r.parts[0] === 'item' && r.parts[1] !== undefined).map((r) => r.parts[1]!)]),
  );
}

const norm = (v: unknown): string => (v === undefined || v === null ? '' : String(v).toLowerCase());

/**
 * Finds the record of each listed item by the ordered sync keys, against the records as they were
 * before the run. The first sync key is the link to a vendor user:
 * - a record is matched by at most one item per run (two listed users never share, or swap, one
 *   record);
 * - a record linked to a user who is listed is that user's: a later key (an email that another
 *   user now has) cannot take it;
 * - a value that fits several such records is ambiguous: the item is rejected, not given to one
 *   of them by chance.
 * A record linked to a user who is not listed any more may be matched by a later key (the
 * account was recreated under a new login, say); if none does, it has vanished.
 */
class Matcher {
  private readonly index: Map<string, Map<string, StoredRecord[]>>;
  private readonly byKey = new Map<string, StoredRecord>();
  private readonly listed: Set<string>;
  /** Record key -> the (rendered) first sync key of the item that matched or created it. */
  private readonly claimed = new Map<string, string>();

  constructor(
    private readonly keys: string[],
    private readonly existing: StoredRecord[],
    links: Array<string | undefined>,
  ) {
    this.index = new Map(keys.map((k) => [k, new Map()]));
    for (const r of existing) {
      this.byKey.set(r.key, r);
      for (const k of keys) {
        const v = norm(r.fields[k]);
        if (v === '') continue;
        const m = this.index.get(k)!;
        const list = m.get(v);
        if (list) list.push(r);
        else m.set(v, [r]);
      }
    }
    this.listed = new Set(links.map(norm).filter((v) => v !== ''));
  }

  /** The linked user's (lower-cased) first sync key when that user is listed and is not `link`. */
  private heldBy(r: StoredRecord, link: string): string | undefined {
    const own = norm(r.fields[this.keys[0]!]);
    return own !== '' && own !== link && this.listed.has(own) ? own : undefined;
  }

  /** The record of an item, undefined when none fits; throws when a value fits several. */
  match(patch: FieldPatch): StoredRecord | undefined {
    const link = norm(patch[this.keys[0]!]);
    for (const k of this.keys) {
      const v = norm(patch[k]);
      if (v === '') continue;
      const found = (this.index.get(k)!.get(v) ?? []).filter((r) => !this.claimed.has(r.key) && this.heldBy(r, link) === undefined);
      if (found.length > 1) {
        const shown = found.slice(0, 5).map((r) => JSON.stringify(r.key)).join(', ') + (found.length > 5 ? ', ...' : '');
        throw new SkeinError('import-ambiguous', `${k} ${JSON.stringify(String(patch[k]))} fits ${found.length} records (${shown}); make it unique, or link one of them by ${this.keys[0]}`);
      }
      if (found.length === 1) return found[0];
    }
    return undefined;
  }

  /** Throws when a new item's key is a record that another listed user has, or had in this run. */
  checkNewKey(key: string, patch: FieldPatch): void {
    const by = this.claimed.get(key);
    if (by !== undefined) {
      throw new SkeinError('import-key', `key ${JSON.stringify(key)} is already the record of ${this.keys[0]} ${JSON.stringify(by)} in this run`);
    }
    const r = this.byKey.get(key);
    const holder = r && this.heldBy(r, norm(patch[this.keys[0]!]));
    if (holder !== undefined) {
      throw new SkeinError('import-key', `record ${JSON.stringify(key)} is linked to ${this.keys[0]} ${JSON.stringify(String(r!.fields[this.keys[0]!]))}, which is listed too`);
    }
  }

  claim(key: string, patch: FieldPatch): void {
    this.claimed.set(key, String(patch[this.keys[0]!] ?? ''));
  }

  /** Records linked (first sync key) to a user who is not listed, and not matched in this run. */
  vanished(): StoredRecord[] {
    return this.existing.filter((r) => {
      const own = norm(r.fields[this.keys[0]!]);
      return own !== '' && !this.listed.has(own) && !this.claimed.has(r.key);
    });
  }
}
