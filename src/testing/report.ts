// Reporters for `skein test`: text (one line per failure, `file:line:col: case "NAME": what:
// message`, diffs indented below, then the summary line last) and JUnit XML for CI systems.
import { formatText } from '../diagnostics-format.js';
import type { Diagnostic } from '../diagnostics.js';
import type { TestFileResult } from './runner.js';

/** A test file that could not run (schema or semantic errors), with its diagnostics. */
export interface InvalidTestFile {
  file: string;
  diagnostics: Diagnostic[];
}

export interface TestReport {
  results: TestFileResult[];
  invalid: InvalidTestFile[];
}

export const REPORTERS = ['text', 'junit'] as const;
export type Reporter = (typeof REPORTERS)[number];

/** Passed cases, and failed ones (an invalid test file counts as one failure). */
export function tally(report: TestReport): { passed: number; failed: number } {
  const cases = report.results.flatMap((r) => r.cases);
  const passed = cases.filter((c) => c.passed).length;
  return { passed, failed: cases.length - passed + report.invalid.length };
}

/** The summary line; the text reporter prints it alone on its last line. */
export function summaryLine(report: TestReport): string {
  const { passed, failed } = tally(report);
  return `${passed} passed, ${failed} failed`;
}

export function formatTextReport(report: TestReport): string {
  const lines: string[] = [];
  for (const bad of report.invalid) {
    lines.push(`FAIL ${bad.file}: the test file is invalid`);
    lines.push(formatText(bad.diagnostics.filter((d) => d.severity === 'error')));
  }
  for (const r of report.results) {
    for (const c of r.cases) {
      if (c.passed) {
        lines.push(`ok   ${r.file}: ${c.name}`);
        continue;
      }
      lines.push(`FAIL ${r.file}: ${c.name}`);
      for (const f of c.failures) {
        lines.push(`${r.file}:${f.line}:${f.col}: case ${JSON.stringify(c.name)}: ${f.what}: ${f.message}`);
        for (const d of f.diff ?? []) lines.push(`    ${d}`);
      }
    }
  }
  lines.push(summaryLine(report));
  return lines.join('\n');
}

const escapeXml = (s: string) =>
  s
    // Control characters are not allowed in XML 1.0 at all.
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');

const seconds = (ms: number) => (ms / 1000).toFixed(3);

/** JUnit XML: one testsuite per test file, one testcase per case, a failure element per failed case. */
export function formatJunitReport(report: TestReport): string {
  const { passed, failed } = tally(report);
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  const total = passed + failed;
  const time = report.results.flatMap((r) => r.cases).reduce((n, c) => n + c.durationMs, 0);
  out.push(`<testsuites name="skein test" tests="${total}" failures="${failed}" errors="0" time="${seconds(time)}">`);
  for (const bad of report.invalid) {
    const text = formatText(bad.diagnostics.filter((d) => d.severity === 'error'));
    out.push(`  <testsuite name="${escapeXml(bad.file)}" tests="1" failures="1" errors="0" time="0.000">`);
    out.push(`    <testcase name="test file is valid" classname="${escapeXml(bad.file)}" file="${escapeXml(bad.file)}" time="0.000">`);
    out.push(`      <failure message="${escapeXml(`invalid test file: ${text.split('\n')[0] ?? ''}`)}" type="invalid">${escapeXml(text)}</failure>`);
    out.push('    </testcase>');
    out.push('  </testsuite>');
  }
  for (const r of report.results) {
    const failures = r.cases.filter((c) => !c.passed).length;
    const t = r.cases.reduce((n, c) => n + c.durationMs, 0);
    out.push(`  <testsuite name="${escapeXml(r.file)}" tests="${r.cases.length}" failures="${failures}" errors="0" time="${seconds(t)}">`);
    for (const c of r.cases) {
      const attrs = `name="${escapeXml(c.name)}" classname="${escapeXml(r.workflow ?? r.file)}" file="${escapeXml(r.file)}" line="${c.line}" time="${seconds(c.durationMs)}"`;
      if (c.passed) {
        out.push(`    <testcase ${attrs}/>`);
        continue;
      }
      const body = c.failures.flatMap((f) => [`${r.file}:${f.line}:${f.col}: ${f.what}: ${f.message}`, ...(f.diff ?? []).map((d) => `    ${d}`)]).join('\n');
      const first = c.failures[0]!;
      out.push(`    <testcase ${attrs}>`);
      out.push(`      <failure message="${escapeXml(`${first.what}: ${first.message}`)}" type="assertion">${escapeXml(body)}</failure>`);
      out.push('    </testcase>');
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>');
  return out.join('\n');
}
