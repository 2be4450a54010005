// Diagnostics: every problem a user sees about their files, with a stable code and a location.
// Checkers push into a sink; output is sorted and de-duplicated so it is deterministic.

export type Severity = 'error' | 'warning';

export interface Diagnostic {
  /** Stable, kebab-case code (see CODES). */
  code: string;
  severity: Severity;
  message: string;
  /** Path as given by the user (relative to cwd when possible). */
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based, in characters. */
  col: number;
  endLine?: number;
  endCol?: number;
}

/** Every diagnostic code, with a one-line description (listed in docs/workflow-format.md). */
export const CODES = {
  'yaml-syntax': 'The file is not valid YAML.',
  'yaml-duplicate-key': 'A mapping has the same key twice.',
  'yaml-tab-indent': 'Tabs are used for indentation.',
  'yaml-alias-limit': 'Too many or too deep aliases (possible alias bomb).',
  'yaml-multi-document': 'More than one YAML document in one file.',
  'yaml-not-mapping': 'The document root is not a mapping.',
  'file-empty': 'The file is empty.',
  'file-encoding': 'The file is not valid UTF-8.',
  'file-too-large': 'The file is larger than the size limit.',
  'file-unreadable': 'The file could not be read.',
  'config-missing': 'The workflow directory has no skein.yaml.',
  'config-duplicate': 'More than one skein.yaml in the workflow directory.',
  'schema-version': 'Unsupported `version`.',
  'schema-unknown-key': 'A key that this place does not allow.',
  'schema-missing-key': 'A required key is missing.',
  'schema-type': 'A value of the wrong type.',
  'schema-enum': 'A value outside the allowed set.',
  'schema-pattern': 'A value that does not match the required form.',
  'schema-value': 'A value outside its allowed range or length.',
  'schema-shape': 'A value whose shape matches none of the allowed forms.',
  'duplicate-workflow-name': 'Two workflows with the same name.',
  'duplicate-step-id': 'Two steps with the same id in one workflow.',
  'unknown-object': 'The workflow names an object that is neither built in nor declared.',
  'unknown-preset': 'The step names a preset that does not exist.',
  'unknown-credential': 'The step names a credential that skein.yaml does not declare.',
  'credential-required': 'The preset needs credentials and the step names none.',
  'missing-param': 'A required preset parameter is missing.',
  'unknown-param': 'A parameter the preset does not have.',
  'param-value': 'A literal parameter value outside the preset constraints.',
  'param-conflict': 'Parameters that cannot be used together.',
  'template-syntax': 'A Handlebars template does not parse.',
  'unknown-reference': 'A template refers to a field, variable or output that does not exist.',
  'unknown-helper': 'A template calls a helper that does not exist.',
  'reference-unavailable': 'A template refers to something not available at that point.',
  'unknown-field': 'A rule or response mapping names a field the object does not have.',
  'sensitive-target': 'A secret output mapped into a field not marked sensitive.',
  'mapping-type': "A literal mapped value that the target field's type refuses.",
  'rule-number-text': 'A number in a rule that YAML reads differently from how it is written (01234, 1.50).',
  'cron-invalid': 'The schedule is not a valid cron pattern.',
  'cron-never': 'The schedule can never fire.',
  'timezone-invalid': 'Not an IANA time zone.',
  'schedule-missing': 'A schedule trigger without a `schedule`.',
  'schedule-unused': 'A `schedule` without `schedule` in `trigger.on`.',
  'regex-invalid': 'A `matches` pattern does not compile.',
  'rule-operator': 'A rule leaf with no operator or several.',
  'rule-value': 'A rule value of the wrong kind for its operator or field.',
  'changed-needs-updated': 'A `changed*` operator on a workflow not triggered by `updated`.',
  'step-kind': 'A step with both or neither of `preset` and `request`.',
  'import-shape': 'An import workflow that is inconsistent.',
  'literal-secret': 'A secret written into YAML.',
  'no-workflows': 'The directory holds no workflow files (warning).',
  'test-unknown-workflow': 'A test file names a workflow that does not exist.',
  'test-workflow-invalid': 'A test file names a workflow whose file has errors.',
  'test-unknown-step': 'A test case names a step the workflow does not have.',
  'test-file-missing': 'A test case names a response file that does not exist.',
  'test-case': 'A test case whose event, response or names are inconsistent.',
  'suppression-invalid': 'A `# skein-ignore:` comment without a code or a reason.',
  'suppression-unused': 'A `# skein-ignore:` comment that suppresses nothing (warning).',
} as const;

export type DiagnosticCode = keyof typeof CODES;

export class DiagnosticSink {
  readonly items: Diagnostic[] = [];
  push(d: Diagnostic): void {
    this.items.push(d);
  }
  error(code: DiagnosticCode, message: string, file: string, pos: { line: number; col: number; endLine?: number; endCol?: number }): void {
    this.items.push({ code, severity: 'error', message, file, ...pos });
  }
  warning(code: DiagnosticCode, message: string, file: string, pos: { line: number; col: number; endLine?: number; endCol?: number }): void {
    this.items.push({ code, severity: 'warning', message, file, ...pos });
  }
  get errorCount(): number {
    return this.items.filter((d) => d.severity === 'error').length;
  }
}

/** Sorts by file, line, column, code and drops exact duplicates. */
export function sortDiagnostics(list: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  const out: Diagnostic[] = [];
  const sorted = [...list].sort(
    (a, b) =>
      (a.file < b.file ? -1 : a.file > b.file ? 1 : 0) ||
      a.line - b.line ||
      a.col - b.col ||
      (a.code < b.code ? -1 : a.code > b.code ? 1 : 0) ||
      (a.message < b.message ? -1 : a.message > b.message ? 1 : 0),
  );
  for (const d of sorted) {
    const k = `${d.file}\0${d.line}\0${d.col}\0${d.code}\0${d.message}`;
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(d);
  }
  return out;
}
