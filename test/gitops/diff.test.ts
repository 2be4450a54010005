// The semantic diff, unit by unit: rule trees leaf by leaf, steps, triggers, imports, renames.
import { describe, expect, it } from 'vitest';
import type { WorkflowFile } from '../../src/generated/workflow.js';
import { describeRule, diffProjects, diffRules, diffWorkflow, type Change } from '../../src/gitops/diff.js';
import { formatBasePlanMarkdown, mdEscape, type BasePlanReport } from '../../src/gitops/format.js';
import type { LoadedProject } from '../../src/workflow/project.js';

const base: WorkflowFile = {
  version: 1,
  name: 'offboard',
  object: 'users',
  trigger: { on: ['updated', 'schedule'], schedule: '0 2 * * *' },
  rules: { all: [{ field: 'status', in: ['Inactive', 'Leaver'] }, { field: 'qualys_login', is_not_empty: true }] },
  steps: [
    { id: 'deactivate', preset: 'qualys.deactivate_user', credentials: 'qualys', params: { login: '{{qualys_login}}' }, response: { qualys_status: 'Inactive' } },
    { id: 'note', preset: 'qualys.edit_user', params: { login: '{{qualys_login}}', title: 'Gone' } },
  ],
};
const clone = (): WorkflowFile => structuredClone(base);
const descriptions = (cs: Change[]) => cs.map((c) => c.description);

describe('diffRules', () => {
  it.each<[string, unknown, unknown, string[]]>([
    ['a leaf value', { field: 'status', in: ['A'] }, { field: 'status', in: ['A', 'B'] }, ['status in [A] -> [A, B]']],
    ['a leaf operator', { field: 'status', equals: 'A' }, { field: 'status', not_equals: 'A' }, ['status equals A -> status not_equals A']],
    ['ignore_case', { field: 'email', ends_with: '@x.com' }, { field: 'email', ends_with: '@x.com', ignore_case: true }, ['email ends_with @x.com -> email ends_with @x.com (ignore_case)']],
    ['all -> any with the same rules', { all: [{ field: 'a', is_empty: true }] }, { any: [{ field: 'a', is_empty: true }] }, ['rules: all -> any (same 1 rules)']],
    ['a rule added inside', { all: [{ field: 'a', is_empty: true }] }, { all: [{ field: 'a', is_empty: true }, { not: { field: 'b', equals: 'x' } }] }, ['rule added: not(b equals x)']],
    ['a rule removed', { all: [{ field: 'a', is_empty: true }, { field: 'b', equals: 1 }] }, { all: [{ field: 'b', equals: 1 }] }, ['rule removed: a is_empty true']],
    ['reordered only: no change', { all: [{ field: 'a', is_empty: true }, { field: 'b', equals: 1 }] }, { all: [{ field: 'b', equals: 1 }, { field: 'a', is_empty: true }] }, []],
    ['nested leaf', { all: [{ any: [{ field: 'd', in: ['IT'] }] }] }, { all: [{ any: [{ field: 'd', in: ['IT', 'Sec'] }] }] }, ['d in [IT] -> [IT, Sec]']],
    ['rules added', undefined, { field: 'a', is_empty: true }, ['rules added: a is_empty true']],
    ['text values quoted when needed', { field: 't', equals: 'a b' }, { field: 't', equals: '' }, ['t equals "a b" -> ""']],
  ])('%s', (_name, a, b, expected) => {
    const out: Change[] = [];
    diffRules(a, b, 'rules', out);
    expect(descriptions(out)).toEqual(expected);
  });

  it('paths point at the changed leaf', () => {
    const out: Change[] = [];
    diffRules({ all: [{ field: 'x', is_empty: true }, { any: [{ field: 'd', in: ['IT'] }] }] }, { all: [{ field: 'x', is_empty: true }, { any: [{ field: 'd', in: ['Sec'] }] }] }, 'rules', out);
    expect(out).toEqual([{ kind: 'rule-changed', path: 'rules.all[1].any[0]', description: 'd in [IT] -> [Sec]' }]);
  });

  it('describes trees in one line', () => {
    expect(describeRule({ all: [{ field: 'a', gt: 5 }, { not: { field: 'b', matches: '^x' } }] })).toBe('all(a gt 5; not(b matches "^x"))');
  });
});

describe('diffWorkflow', () => {
  it('no change', () => expect(diffWorkflow(base, clone())).toEqual([]));

  it('enabled, object, trigger events, schedule and timezone', () => {
    const b = clone();
    b.enabled = false;
    b.trigger = { on: ['updated', 'manual'], timezone: 'Europe/Berlin' };
    expect(descriptions(diffWorkflow(base, b))).toEqual([
      'disabled (enabled: false)',
      'trigger events added: manual',
      'trigger events removed: schedule',
      'schedule: "0 2 * * *" -> (none)',
      'timezone: (none) -> Europe/Berlin',
    ]);
  });

  it('steps: added, removed, reordered, preset, params, mappings, credentials, when', () => {
    const b = clone();
    const [deactivate, note] = b.steps!;
    deactivate!.params = { login: '{{lower qualys_login}}', extra: 1 };
    deactivate!.response = { qualys_status: 'Disabled', api_response: '{{response}}' };
    deactivate!.error_response = { qualys_error: '{{outputs.message}}' };
    deactivate!.credentials = 'qualys_eu';
    deactivate!.when = { field: 'qualys_status', equals: 'Active' };
    note!.preset = 'qualys.activate_user';
    delete note!.params!.title;
    b.steps = [note!, deactivate!, { id: 'audit', preset: 'qualys.list_users' }];
    expect(diffWorkflow(base, b).map((c) => [c.kind, c.description])).toEqual([
      ['step-added', 'step audit added (qualys.list_users)'],
      ['steps-reordered', 'steps reordered: deactivate, note -> note, deactivate'],
      ['preset-changed', 'step note preset: qualys.edit_user -> qualys.activate_user'],
      ['param-removed', 'step note param title removed (was Gone)'],
      ['credentials-changed', 'step deactivate credentials: qualys -> qualys_eu'],
      ['param-added', 'step deactivate param extra added: 1'],
      ['param-changed', 'step deactivate param login: "{{qualys_login}}" -> "{{lower qualys_login}}"'],
      ['response-added', 'step deactivate response mapping api_response added: "{{response}}"'],
      ['response-changed', 'step deactivate response mapping qualys_status: Inactive -> Disabled'],
      ['error-response-added', 'step deactivate error_response mapping qualys_error added: "{{outputs.message}}"'],
      ['rule-added', 'steps.deactivate.when added: qualys_status equals Active'],
    ]);
  });

  it('a removed step', () => {
    const b = clone();
    b.steps = [b.steps![0]!];
    expect(descriptions(diffWorkflow(base, b))).toEqual(['step note removed (was qualys.edit_user)']);
  });

  it('import changes', () => {
    const a: WorkflowFile = { version: 1, name: 'imp', object: 'users', trigger: { on: ['manual'] }, import: { preset: 'qualys.list_users', match: ['email'], fields: { email: '{{item.email}}' } } };
    const b = structuredClone(a);
    b.import!.match = ['email', 'qualys_login'];
    b.import!.fields = { email: '{{lower item.email}}', qualys_login: '{{item.login}}' };
    b.import!.create = true;
    expect(descriptions(diffWorkflow(a, b))).toEqual([
      'import match: [email] -> [email, qualys_login]',
      'import field email: "{{item.email}}" -> "{{lower item.email}}"',
      'import field qualys_login added: "{{item.login}}"',
      'import create: false -> true',
    ]);
  });
});

const project = (wfs: Array<[string, WorkflowFile]>, variables: Record<string, unknown> = {}): LoadedProject =>
  ({
    dir: '/w',
    config: { version: 1, variables },
    scope: { objects: new Map(), variables: new Set(), credentials: new Set(), presets: new Map() },
    configDiagnostics: [],
    workflows: wfs.map(([file, def]) => ({ path: `/w/${file}`, file, def, diagnostics: [], valid: true })),
  }) as unknown as LoadedProject;

describe('diffProjects', () => {
  it('renames by file first, then by similar content; dissimilar pairs stay added and removed', () => {
    const other: WorkflowFile = { version: 1, name: 'import', object: 'users', trigger: { on: ['manual'] }, import: { preset: 'qualys.list_users', match: ['email'], fields: { email: '{{item.email}}' } } };
    const movedRenamed = { ...clone(), name: 'leavers' };
    const sameFile = { ...other, name: 'import-users' };
    const unrelated: WorkflowFile = { version: 1, name: 'hello', object: 'devices', trigger: { on: ['created'] }, steps: [{ id: 'x', preset: 'qualys.activate_user' }] };
    const d = diffProjects(
      project([['a.yaml', base], ['b.yaml', other], ['c.yaml', { ...unrelated, name: 'bye', object: 'users' }]]),
      project([['moved.yaml', movedRenamed], ['b.yaml', sameFile], ['d.yaml', unrelated]]),
    );
    expect(d.workflows.map((w) => [w.status, w.name, w.previousName, w.renameReason])).toEqual([
      ['added', 'hello', undefined, undefined],
      ['removed', 'bye', undefined, undefined],
      ['renamed', 'import-users', 'import', 'same-file'],
      ['renamed', 'leavers', 'offboard', 'similar-content'],
    ]);
  });

  it('variables used by a workflow mark it changed', () => {
    const wf = { ...clone(), steps: [{ id: 's', preset: 'qualys.edit_user', params: { title: '{{vars.default_title}}' } }] } as WorkflowFile;
    const d = diffProjects(project([['a.yaml', wf]], { default_title: 'A', unused: 1 }), project([['a.yaml', wf]], { default_title: 'B', unused: 2 }));
    expect(d.config.map((c) => c.description)).toEqual(['variable default_title: A -> B (affects offboard)', 'variable unused: 1 -> 2']);
    expect(d.workflows[0]).toMatchObject({ status: 'changed', changes: [{ kind: 'config', description: 'skein.yaml: variable default_title: A -> B' }] });
  });

  it('no base directory: everything is added', () => {
    expect(diffProjects(undefined, project([['a.yaml', base]])).workflows.map((w) => w.status)).toEqual(['added']);
  });
});

describe('markdown escaping', () => {
  it('escapes HTML and table breakers; code fences cannot be closed from inside', () => {
    expect(mdEscape('<b>|`x`\n')).toBe("&lt;b&gt;\\|'x' ");
    const report: BasePlanReport = {
      base: { ref: 'main', commit: 'a'.repeat(40), found: true },
      head: { dirty: false, dirtyFiles: [] },
      dir: 'workflows',
      records: { source: 'x', count: 1 },
      summary: { added: 0, removed: 0, renamed: 0, changed: 1, unchanged: 0 },
      changed: true,
      config: [],
      workflows: [
        {
          name: 'w',
          status: 'changed',
          changes: [{ kind: 'param-changed', path: 'p', description: 'param t: "```</details>" -> x' }],
          impact: { name: 'w', before: { matched: 0, considered: 1 }, after: { matched: 1, considered: 1 }, newlyMatchingCount: 1, noLongerMatchingCount: 0, newlyMatching: ['<img src=x>'], noLongerMatching: [], samples: [] },
        },
      ],
      baseDiagnostics: [],
    };
    const md = formatBasePlanMarkdown(report);
    expect(md).not.toContain('```</details>');
    expect(md.match(/```/g)).toHaveLength(2);
    expect(md).toContain("param t: \"'''</details>\" -> x");
  });
});
