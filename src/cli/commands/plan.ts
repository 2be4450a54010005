// `skein plan WORKFLOW`: what a workflow would do now, without sending or writing anything.
// `skein plan --base REF`: what a change to the workflow directory does, against a git ref.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { planWorkflow } from '../../engine/plan.js';
import { formatPlanJson, formatPlanMarkdown, formatPlanText } from '../../engine/plan-format.js';
import { SkeinError } from '../../errors.js';
import { checkoutBase } from '../../gitops/base.js';
import { diffProjects } from '../../gitops/diff.js';
import { buildReport, formatBasePlanJson, formatBasePlanMarkdown, formatBasePlanText } from '../../gitops/format.js';
import { computeImpact } from '../../gitops/impact.js';
import { formatFromPath, ImportParseError, importRecords, parseImport } from '../../records/import.js';
import { openStore, redactUrl } from '../../store/index.js';
import type { Store } from '../../store/types.js';
import { collectProjects, loadProject, projectDiagnostics, type LoadedProject } from '../../workflow/project.js';
import { UsageError, type Command } from '../command.js';
import { EXIT } from '../exit-codes.js';
import type { Io } from '../io.js';
import { println } from '../io.js';
import { applyVars, findWorkflow, loadCheckedProject, openWorkspace, stateLocation, WORKSPACE_HELP, WORKSPACE_OPTIONS } from '../workspace.js';
import { fsReason } from '../../fs-util.js';

const HELP = `Usage: skein plan WORKFLOW [--record KEY ... | --all] [--event created|updated|deleted]
                  [--format text|json|markdown] [--limit N]
       skein plan --base REF [--dir DIR] [--records FILE [--object NAME]]
                  [--format text|json|markdown] [--limit N]

WORKFLOW: shows which records the workflow's rules match and the exact request each step would
send (method, URL, parameters; secrets redacted). Sends nothing, writes nothing.

--base REF: compares the workflow directory at a git ref (e.g. origin/main) with the working
tree (uncommitted changes included and flagged): workflows added, removed, renamed and changed,
with a semantic diff of each (trigger, rules leaf by leaf, steps, params, response mappings,
skein.yaml), and the impact on records: matches before -> after, keys that newly match or stop
matching, and sample requests (secrets redacted). Reads the state store (or --records FILE)
without writing it. Errors in the base version are shown, not fatal.

Options:
  --record KEY      plan for these records only (repeatable)
  --all             plan over every record (default)
  --event KIND      evaluate changed* rules against each record's latest stored KIND event
  --base REF        plan the change from git ref REF to the working tree (no WORKFLOW)
  --records FILE    with --base: evaluate against a CSV/JSON/JSONL file of records instead of
                    the state store (loaded into memory; nothing is written)
  --object NAME     with --records: the object of the file's rows (default users)
  --format F        text (default), json, or markdown (for pull-request comments)
  --limit N         WORKFLOW: records shown in detail (default 50; counts cover all)
                    --base: keys listed per workflow and direction (default 10)
${WORKSPACE_HELP}

Exit codes: WORKFLOW: 0 plan shown, 1 errors (invalid workflows, unknown workflow), 2 bad usage.
--base (like terraform plan -detailed-exitcode): 0 no changes, 2 changes, 1 errors (invalid
head workflows, not a git repository, unknown ref); bad usage also exits 2 with a message on
stderr.`;

export const planCommand: Command = {
  name: 'plan',
  summary: 'show which records a workflow would act on and the exact requests (sends nothing)',
  help: HELP,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        ...WORKSPACE_OPTIONS,
        record: { type: 'string', multiple: true },
        all: { type: 'boolean', default: false },
        event: { type: 'string' },
        format: { type: 'string', default: 'text' },
        limit: { type: 'string' },
        base: { type: 'string' },
        records: { type: 'string' },
        object: { type: 'string' },
      },
    });
    if (!['text', 'json', 'markdown'].includes(values.format!)) throw new UsageError(`unknown format "${values.format}"; formats: text, json, markdown`);
    const limit = Number(values.limit ?? (values.base !== undefined ? '10' : '50'));
    if (!Number.isInteger(limit) || limit < 0) throw new UsageError('--limit takes a whole number');
    if (values.base !== undefined) {
      if (positionals.length) throw new UsageError('--base plans the whole workflow directory; drop the WORKFLOW argument');
      if (values.record || values.all || values.event) throw new UsageError('--record, --all and --event do not apply to --base');
      if (values.base === '') throw new UsageError('--base takes a git ref, e.g. origin/main');
      try {
        return await planBase({ ...values, base: values.base, format: values.format!, limit }, io);
      } catch (err) {
        // Exit 2 means "changes" here, so an unreadable input must not exit 2 as it does elsewhere.
        if (err instanceof SkeinError && err.code === 'unreadable-path') throw new SkeinError('unreadable-input', err.message, { cause: err });
        throw err;
      }
    }
    if (values.records !== undefined || values.object !== undefined) throw new UsageError('--records and --object go with --base');
    if (positionals.length !== 1) throw new UsageError('name one workflow (or use --base REF)');
    if (values.record && values.all) throw new UsageError('use either --record or --all');
    if (values.event && !['created', 'updated', 'deleted'].includes(values.event)) throw new UsageError(`--event takes created, updated or deleted, found "${values.event}"`);
    const ws = await openWorkspace(values, io, positionals[0], { readOnly: true });
    try {
      const wf = findWorkflow(ws.project, positionals[0]!);
      const plan = await planWorkflow(ws.project, ws.store, wf, { keys: values.record, event: values.event as 'updated' | undefined, limit });
      const f = values.format === 'json' ? formatPlanJson : values.format === 'markdown' ? formatPlanMarkdown : formatPlanText;
      println(io.stdout, f(plan));
      if (!plan.missing.length) return EXIT.OK;
      // The plan itself is on stdout; the failure gets its one coded line on stderr.
      const shown = plan.missing.slice(0, 5).map((k) => JSON.stringify(k)).join(', ') + (plan.missing.length > 5 ? `, and ${plan.missing.length - 5} more` : '');
      println(io.stderr, `skein plan: no ${wf.object} record with key ${shown} [unknown-record]`);
      return EXIT.FAILED;
    } finally {
      await ws.close();
    }
  },
};

interface BaseValues {
  base: string;
  dir?: string;
  state?: string;
  var?: string[];
  records?: string;
  object?: string;
  format: string;
  limit: number;
}

/** Exit code of a plan with changes (terraform plan -detailed-exitcode). */
const EXIT_CHANGES = 2;

async function planBase(values: BaseValues, io: Io): Promise<number> {
  const dir = values.dir ?? 'workflows';
  // Head errors stop the plan with diagnostics (exit 1): a broken head is not a plan. The
  // markdown (a pull-request comment) says so too, rather than being empty.
  let head: LoadedProject;
  try {
    head = loadCheckedProject(dir, io);
  } catch (err) {
    if (values.format === 'markdown' && err instanceof SkeinError && err.code === 'invalid-workflows') {
      println(io.stdout, ['### skein plan', '', `The workflows in \`${dir}\` do not validate, so nothing was planned: ${err.message}`, '', '```', ...err.details, '```'].join('\n'));
    }
    throw err;
  }
  applyVars(head, values.var);
  const checkout = await checkoutBase({ cwd: io.cwd, dir, ref: values.base });
  let store: Store | undefined;
  try {
    let base: LoadedProject | undefined;
    if (checkout.dir) {
      const [group] = collectProjects([checkout.dir], { cwd: checkout.cwd });
      base = loadProject(group!, { cwd: checkout.cwd });
      applyVars(base, values.var);
    }
    const baseDiagnostics = base ? projectDiagnostics(base).filter((d) => d.severity === 'error') : [];
    const opened = await openRecords(values, io, head);
    store = opened.store;
    const diff = diffProjects(base, head);
    const impact = await computeImpact(diff, base, head, store, { limit: values.limit });
    let count = 0;
    for (const object of head.scope.objects.keys()) count += (await store.listRecords(object)).length;
    const report = buildReport({
      base: { ref: checkout.ref, commit: checkout.commit, found: checkout.dir !== undefined },
      head: { dirty: checkout.dirtyFiles.length > 0, dirtyFiles: checkout.dirtyFiles },
      dir,
      records: { source: opened.source, count },
      baseDiagnostics,
      diff,
      impact,
    });
    const f = values.format === 'json' ? formatBasePlanJson : values.format === 'markdown' ? formatBasePlanMarkdown : formatBasePlanText;
    println(io.stdout, f(report));
    return report.changed ? EXIT_CHANGES : EXIT.OK;
  } finally {
    await store?.close();
    checkout.cleanup();
  }
}

/** The records to evaluate: a --records file in memory, the state store, or nothing. */
async function openRecords(values: BaseValues, io: Io, head: LoadedProject): Promise<{ store: Store; source: string }> {
  if (values.records !== undefined) {
    const file = values.records;
    const format = formatFromPath(file);
    if (!format) throw new UsageError(`cannot tell the format of "${file}" from its extension; use .csv, .json or .jsonl`);
    const object = values.object ?? 'users';
    if (!head.scope.objects.has(object)) throw new UsageError(`unknown object "${object}"; objects: ${[...head.scope.objects.keys()].sort().join(', ')}`);
    let text: string;
    try {
      text = await readFile(resolve(io.cwd, file), 'utf8');
    } catch (err) {
      throw new SkeinError('unreadable-path', `cannot read ${file}: ${fsReason(err)}`, { cause: err });
    }
    let parsed;
    try {
      parsed = parseImport(text, format);
    } catch (err) {
      if (err instanceof ImportParseError) throw new SkeinError('import-parse', `${file}${err.line === undefined ? '' : `:${err.line}`}: ${err.reason}`);
      throw err;
    }
    const store = await openStore(':memory:', head.scope.objects);
    try {
      const result = await importRecords(store, object, parsed.rows);
      const rejected = parsed.rejected.length + result.rejected.length;
      return { store, source: `records file ${file}${rejected ? ` (${rejected} row(s) rejected)` : ''}` };
    } catch (err) {
      await store.close();
      throw err;
    }
  }
  const location = stateLocation(values.state, io);
  // Never create a state file that does not exist: an empty in-memory store stands in.
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(location) && location !== ':memory:' && !existsSync(location)) {
    return { store: await openStore(':memory:', head.scope.objects), source: `no state store at ${shown(location)}` };
  }
  return { store: await openStore(location, head.scope.objects), source: `state store ${shown(location)}` };
  function shown(p: string): string {
    const rel = relative(io.cwd, p);
    return rel && !rel.startsWith('..') && !/^[a-z][a-z0-9+.-]*:\/\//i.test(p) ? rel : redactUrl(p);
  }
}
