// Plan output: text for terminals, json for tools, markdown for pull-request comments.
import type { Plan, PlannedStep } from './plan.js';

/** Headers every request carries; the others (an inline request's own) are shown. */
const DEFAULT_HEADERS = new Set(['x-requested-with', 'content-type']);

function requestLines(s: PlannedStep): string[] {
  if (s.skipped) return [`    ${s.step}: skipped (${s.skipped})`];
  if (s.error) return [`    ${s.step}: ERROR ${s.error}`];
  const r = s.request!;
  const lines = [`    ${s.step}${s.preset ? ` (${s.preset})` : ''}: ${r.method} ${r.url}${s.idempotent ? '' : '  [not idempotent: never re-sent]'}`];
  for (const [k, v] of Object.entries(r.params)) lines.push(`      ${k} = ${JSON.stringify(v)}`);
  for (const [k, v] of Object.entries(r.headers ?? {})) if (!DEFAULT_HEADERS.has(k)) lines.push(`      header ${k}: ${JSON.stringify(v)}`);
  if (r.body !== undefined) lines.push(`      body ${JSON.stringify(r.body)}`);
  return lines;
}

export function formatPlanText(plan: Plan): string {
  const out = [`workflow ${plan.workflow}${plan.enabled ? '' : ' (disabled)'}: ${plan.matched} of ${plan.considered} record(s) match`];
  for (const k of plan.missing) out.push(`  ${k}: no such record`);
  for (const r of plan.records) {
    out.push(`  ${r.key}`);
    for (const s of r.steps) out.push(...requestLines(s));
  }
  if (plan.records.length < plan.matched) out.push(`  ... ${plan.matched - plan.records.length} more`);
  out.push('Nothing was sent or written.');
  return out.join('\n');
}

export function formatPlanJson(plan: Plan): string {
  return JSON.stringify(plan, null, 2);
}

const md = (s: string) => s.replace(/\|/g, '\\|').replace(/</g, '&lt;');

export function formatPlanMarkdown(plan: Plan): string {
  const out = [
    `### skein plan: \`${plan.workflow}\``,
    '',
    '| workflow | trigger | records considered | would act on |',
    '|---|---|---|---|',
    `| \`${plan.workflow}\`${plan.enabled ? '' : ' (disabled)'} | ${plan.trigger.on.join(', ')}${plan.trigger.schedule ? ` (\`${plan.trigger.schedule}\`)` : ''} | ${plan.considered} | ${plan.matched} |`,
    '',
  ];
  for (const r of plan.records) {
    out.push(`<details><summary><code>${md(r.key)}</code>: ${r.steps.map((s) => `${s.step} ${s.error ? '⚠ error' : s.skipped ? 'skipped' : (s.request?.method ?? '')}`).join(', ')}</summary>`, '');
    for (const s of r.steps) {
      out.push('```', ...requestLines(s).map((l) => l.slice(4)), '```');
    }
    out.push('</details>', '');
  }
  if (plan.records.length < plan.matched) out.push(`_${plan.matched - plan.records.length} more record(s) not shown._`, '');
  out.push('_Nothing was sent or written. Secrets are redacted._');
  return out.join('\n');
}
