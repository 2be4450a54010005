// `skein plan WORKFLOW`: what a workflow would do now, without sending or writing anything.
import { parseArgs } from 'node:util';
import { planWorkflow } from '../../engine/plan.js';
import { formatPlanJson, formatPlanMarkdown, formatPlanText } from '../../engine/plan-format.js';
import { UsageError, type Command } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { println } from '../io.js';
import { findWorkflow, openWorkspace, WORKSPACE_HELP, WORKSPACE_OPTIONS } from '../workspace.js';

const HELP = `Usage: skein plan WORKFLOW [--record KEY ... | --all] [--event created|updated|deleted]
                  [--format text|json|markdown] [--limit N]

Shows which records the workflow's rules match and the exact request each step would send
(method, URL, parameters; secrets redacted). Sends nothing, writes nothing.

Options:
  --record KEY      plan for these records only (repeatable)
  --all             plan over every record (default)
  --event KIND      evaluate changed* rules against each record's latest stored KIND event
  --format F        text (default), json, or markdown (for pull-request comments)
  --limit N         show at most N records in detail (default 50; counts cover all)
${WORKSPACE_HELP}

Exit codes: 0 plan shown, 1 errors (invalid workflows, unknown workflow), 2 bad usage.`;

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
        limit: { type: 'string', default: '50' },
      },
    });
    if (positionals.length !== 1) throw new UsageError('name one workflow');
    if (values.record && values.all) throw new UsageError('use either --record or --all');
    if (values.event && !['created', 'updated', 'deleted'].includes(values.event)) throw new UsageError(`--event takes created, updated or deleted, found "${values.event}"`);
    if (!['text', 'json', 'markdown'].includes(values.format!)) throw new UsageError(`unknown format "${values.format}"; formats: text, json, markdown`);
    const limit = Number(values.limit);
    if (!Number.isInteger(limit) || limit < 0) throw new UsageError('--limit takes a whole number');
    const ws = await openWorkspace(values, io, positionals[0]);
    try {
      const wf = findWorkflow(ws.project, positionals[0]!);
      const plan = await planWorkflow(ws.project, ws.store, wf, { keys: values.record, event: values.event as 'updated' | undefined, limit });
      const f = values.format === 'json' ? formatPlanJson : values.format === 'markdown' ? formatPlanMarkdown : formatPlanText;
      println(io.stdout, f(plan));
      return plan.missing.length ? EXIT.FAILED : EXIT.OK;
    } finally {
      await ws.close();
    }
  },
};
