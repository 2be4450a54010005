// Output of `skein plan --base`: text for terminals, json for tools, markdown for a pull-request
// comment (summary table first, one collapsible section per workflow).
import type { Diagnostic } from '../diagnostics.js';
import { formatText as formatDiagnostics } from '../diagnostics-format.js';
import type { PlannedRecord, PlannedStep } from '../engine/plan.js';
import type { Change, ProjectDiff, WorkflowDiff, WorkflowStatus } from './diff.js';
import type { MatchCount, WorkflowImpact } from './impact.js';

/** Everything a formatter needs; also the json output, as is. */
export interface BasePlanReport {
  base: {
    ref: string;
    commit: string;
    /** False when the workflow directory did not exist at the ref (every workflow is added). */
    found: boolean;
  };
  head: {
    /** Uncommitted or untracked files under the workflow directory, included in the plan. */
    dirty: boolean;
    dirtyFiles: string[];
  };
  dir: string;
  records: { source: string; count: number };
  summary: Record<WorkflowStatus, number>;
  changed: boolean;
  config: Change[];
  workflows: Array<WorkflowDiff & { impact?: WorkflowImpact }>;
  /** Errors in the base version: reported, not fatal (the base is what was already merged). */
  baseDiagnostics: Diagnostic[];
}

export function buildReport(parts: Omit<BasePlanReport, 'summary' | 'changed' | 'workflows' | 'config'> & { diff: ProjectDiff; impact: WorkflowImpact[] }): BasePlanReport {
  const summary: Record<WorkflowStatus, number> = { added: 0, removed: 0, renamed: 0, changed: 0, unchanged: 0 };
  for (const w of parts.diff.workflows) summary[w.status]++;
  const { diff, impact, ...rest } = parts;
  return {
    ...rest,
    summary,
    changed: diff.config.length > 0 || diff.workflows.some((w) => w.status !== 'unchanged'),
    config: diff.config,
    workflows: diff.workflows.map((w) => {
      const i = impact.find((x) => x.name === w.name);
      return i ? { ...w, impact: i } : w;
    }),
  };
}

const SIGN: Record<WorkflowStatus, string> = { added: '+', removed: '-', renamed: '>', changed: '~', unchanged: ' ' };
const count = (m: MatchCount | null | undefined) => (m ? String(m.matched) : '-');
const matches = (i: WorkflowImpact | undefined) => (i ? `${count(i.before)} -> ${count(i.after)}` : '');
const plusMinus = (i: WorkflowImpact | undefined) => (i ? `+${i.newlyMatchingCount} / -${i.noLongerMatchingCount}` : '');
const title = (w: WorkflowDiff) => (w.status === 'renamed' ? `${w.previousName} -> ${w.name}` : w.name);

function headerLine(r: BasePlanReport): string {
  return `skein plan: ${r.dir} at ${r.base.ref} (${r.base.commit.slice(0, 12)}) -> working tree${r.head.dirty ? ' (working tree has uncommitted changes)' : ''}`;
}

function summaryLine(r: BasePlanReport): string {
  const s = r.summary;
  const parts = [`${s.added} added`, `${s.removed} removed`, `${s.renamed} renamed`, `${s.changed} changed`, `${s.unchanged} unchanged`];
  return `Plan: ${parts.join(', ')}${r.config.length ? `; ${r.config.length} skein.yaml change(s)` : ''}.${r.changed ? '' : ' No changes.'}`;
}

function requestLines(s: PlannedStep, indent: string): string[] {
  if (s.skipped) return [`${indent}${s.step}: skipped (${s.skipped})`];
  if (s.error) return [`${indent}${s.step}: ERROR ${s.error}`];
  const r = s.request!;
  const lines = [`${indent}${s.step}${s.preset ? ` (${s.preset})` : ''}: ${r.method} ${r.url}`];
  for (const [k, v] of Object.entries(r.params)) lines.push(`${indent}  ${k} = ${JSON.stringify(v)}`);
  return lines;
}

function sampleLines(samples: PlannedRecord[], indent: string): string[] {
  return samples.flatMap((rec) => [`${indent}${rec.key}`, ...rec.steps.flatMap((s) => requestLines(s, `${indent}  `))]);
}

function keyList(keys: string[], total: number): string {
  return keys.join(', ') + (total > keys.length ? `, ... (${total - keys.length} more)` : '');
}

function detailLines(w: WorkflowDiff & { impact?: WorkflowImpact }, indent: string): string[] {
  const out: string[] = [];
  if (w.status === 'renamed') out.push(`${indent}renamed from ${w.previousName} (${w.previousFile}${w.previousFile !== w.file ? ` -> ${w.file}` : ''}; ${w.renameReason === 'same-file' ? 'same file' : 'similar content'})`);
  else if (w.previousFile && w.file && w.previousFile !== w.file) out.push(`${indent}file moved: ${w.previousFile} -> ${w.file}`);
  for (const c of w.changes) if (c.kind !== 'renamed') out.push(`${indent}${c.description}`);
  const i = w.impact;
  if (i) {
    if (i.newlyMatchingCount) out.push(`${indent}newly matching: ${keyList(i.newlyMatching, i.newlyMatchingCount)}`);
    if (i.noLongerMatchingCount) out.push(`${indent}no longer matching: ${keyList(i.noLongerMatching, i.noLongerMatchingCount)}`);
    if (i.error) out.push(`${indent}could not evaluate: ${i.error}`);
    if (i.samples.length) out.push(`${indent}sample requests (nothing sent; secrets redacted):`, ...sampleLines(i.samples, `${indent}  `));
  }
  return out;
}

export function formatBasePlanText(r: BasePlanReport): string {
  const out = [headerLine(r)];
  if (r.head.dirty) for (const f of r.head.dirtyFiles) out.push(`  uncommitted: ${f}`);
  if (!r.base.found) out.push(`  ${r.dir} does not exist at ${r.base.ref}: every workflow is new`);
  out.push(`records: ${r.records.source} (${r.records.count} record(s))`, '');
  for (const w of r.workflows) {
    if (w.status === 'unchanged') continue;
    out.push(`${SIGN[w.status]} ${title(w)}  ${w.status}${w.impact ? `  matches ${matches(w.impact)} (${plusMinus(w.impact)})` : ''}`);
    out.push(...detailLines(w, '    '));
  }
  if (r.config.length) {
    out.push('~ skein.yaml');
    for (const c of r.config) out.push(`    ${c.description}`);
  }
  if (r.baseDiagnostics.length) out.push('', `base ${r.base.ref} has ${r.baseDiagnostics.length} diagnostic(s) (not fatal; the plan compares what could be loaded):`, formatDiagnostics(r.baseDiagnostics));
  out.push('', summaryLine(r), 'Nothing was sent or written.');
  return out.join('\n');
}

export function formatBasePlanJson(r: BasePlanReport): string {
  return JSON.stringify(r, null, 2);
}

/** Text for a markdown table cell or inline HTML: no pipes, tags, or line breaks. */
export const mdEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\|/g, '\\|').replace(/`/g, "'").replace(/\r?\n/g, ' ');
/** A code span in a table cell: entities are not decoded inside code, so only pipes and backticks matter. */
const codeSpan = (s: string) => `\`${s.replace(/`/g, "'").replace(/\|/g, '\\|').replace(/\r?\n/g, ' ')}\``;
/** Text inside a ``` block: only a fence could break out of it. */
const fenceSafe = (s: string) => s.replace(/```/g, "'''");

export function formatBasePlanMarkdown(r: BasePlanReport): string {
  const shown = r.workflows.filter((w) => w.status !== 'unchanged');
  const out = ['| workflow | change | matches before -> after | +new / -gone |', '|---|---|---|---|'];
  for (const w of shown) out.push(`| ${w.status === 'renamed' ? `${codeSpan(w.previousName!)} -> ${codeSpan(w.name)}` : codeSpan(w.name)} | ${w.status} | ${matches(w.impact)} | ${plusMinus(w.impact)} |`);
  if (r.config.length) out.push(`| \`skein.yaml\` | changed | | |`);
  if (!shown.length && !r.config.length) out.push('| _none_ | no changes | | |');
  out.push('');
  out.push(`**skein plan** of \`${mdEscape(r.dir)}\` against \`${mdEscape(r.base.ref)}\` (${r.base.commit.slice(0, 12)}). ${mdEscape(summaryLine(r))}`);
  if (r.head.dirty) out.push('', `:warning: working tree has uncommitted changes (${r.head.dirtyFiles.map((f) => `\`${mdEscape(f)}\``).join(', ')})`);
  if (!r.base.found) out.push('', `\`${mdEscape(r.dir)}\` does not exist at \`${mdEscape(r.base.ref)}\`: every workflow is new.`);
  out.push('', `Records: ${mdEscape(r.records.source)} (${r.records.count}).`, '');
  for (const w of shown) {
    out.push(`<details><summary><code>${mdEscape(title(w))}</code>: ${w.status}${w.impact && (w.impact.before || w.impact.after) ? `, matches ${mdEscape(matches(w.impact))}` : ''}</summary>`, '');
    const lines = detailLines(w, '');
    if (lines.length) out.push('```', ...lines.map(fenceSafe), '```');
    out.push('', '</details>', '');
  }
  if (r.config.length) {
    out.push('<details><summary><code>skein.yaml</code>: changed</summary>', '', '```', ...r.config.map((c) => fenceSafe(c.description)), '```', '', '</details>', '');
  }
  if (r.baseDiagnostics.length) {
    out.push(`<details><summary>:warning: ${r.baseDiagnostics.length} diagnostic(s) in the base version</summary>`, '', '```', fenceSafe(formatDiagnostics(r.baseDiagnostics)), '```', '', '</details>', '');
  }
  out.push('_Nothing was sent or written. Secrets are redacted._');
  return out.join('\n');
}
