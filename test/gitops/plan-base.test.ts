// `skein plan --base REF` end to end over a scripted pull request in a temporary git repository.
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { applyPullRequest, edit, git, makeRepo, RECORDS, removeRepo } from './repo.js';

let repo: string;
beforeEach(() => {
  repo = makeRepo();
  writeFileSync(join(repo, 'records.json'), JSON.stringify(RECORDS, null, 2));
  // Keep the fixture out of `git status` so only workflow edits count as dirty.
  writeFileSync(join(repo, '.git', 'info', 'exclude'), 'records.json\n.skein/\n');
});
afterEach(() => removeRepo(repo));

async function withEnv<T>(env: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

const plan = (...args: string[]) => runCli(['plan', ...args], repo);

interface JsonPlan {
  base: { ref: string; commit: string; found: boolean };
  head: { dirty: boolean; dirtyFiles: string[] };
  records: { source: string; count: number };
  summary: Record<string, number>;
  changed: boolean;
  config: Array<{ kind: string; description: string }>;
  workflows: Array<{
    name: string;
    status: string;
    previousName?: string;
    file?: string;
    previousFile?: string;
    renameReason?: string;
    changes: Array<{ kind: string; path: string; description: string }>;
    impact?: {
      before: { matched: number } | null;
      after: { matched: number } | null;
      newlyMatching: string[];
      noLongerMatching: string[];
      newlyMatchingCount: number;
      noLongerMatchingCount: number;
      samples: Array<{ key: string; steps: Array<{ step: string; request?: { method: string; url: string; params: Record<string, unknown> } }> }>;
    };
  }>;
  baseDiagnostics: Array<{ code: string; file: string }>;
}

describe('plan --base over a scripted pull request', () => {
  beforeEach(() => {
    git(repo, 'checkout', '-q', '-b', 'feature');
    applyPullRequest(repo);
  });

  it('json: statuses, semantic changes and record impact', async () => {
    const r = await plan('--base', 'main', '--records', 'records.json', '--format', 'json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(2);
    const p = JSON.parse(r.stdout) as JsonPlan;
    expect(p.base).toEqual({ ref: 'main', commit: git(repo, 'rev-parse', 'main').trim(), found: true });
    expect(p.head).toEqual({ dirty: false, dirtyFiles: [] });
    expect(p.records).toEqual({ source: 'records file records.json', count: 5 });
    expect(p.summary).toEqual({ added: 1, removed: 1, renamed: 1, changed: 2, unchanged: 2 });
    expect(p.changed).toBe(true);
    expect(p.config).toEqual([]);
    expect(p.workflows.map((w) => [w.status, w.name])).toEqual([
      ['added', 'qualys-deactivate-contractors'],
      ['removed', 'qualys-change-password'],
      ['renamed', 'qualys-update-contact'],
      ['changed', 'qualys-create-user'],
      ['changed', 'qualys-deactivate-leavers'],
      ['unchanged', 'qualys-activate-returning'],
      ['unchanged', 'qualys-import-users'],
    ]);
    const byName = Object.fromEntries(p.workflows.map((w) => [w.name, w]));

    const renamed = byName['qualys-update-contact']!;
    expect(renamed).toMatchObject({ previousName: 'qualys-edit-user', previousFile: 'workflows/qualys-edit-user.yaml', file: 'workflows/qualys-update-contact.yaml', renameReason: 'similar-content' });
    expect(renamed.changes.map((c) => c.description)).toEqual(['name: qualys-edit-user -> qualys-update-contact']);

    const leavers = byName['qualys-deactivate-leavers']!;
    expect(leavers.changes).toEqual([{ kind: 'rule-changed', path: 'rules.all[0]', description: 'status in [Inactive, Leaver] -> [Inactive, Leaver, Retired]' }]);
    expect(leavers.impact).toMatchObject({ before: { matched: 1 }, after: { matched: 2 }, newlyMatching: ['bob'], noLongerMatching: [], newlyMatchingCount: 1, noLongerMatchingCount: 0 });
    expect(leavers.impact!.samples.map((s) => s.key)).toEqual(['bob', 'alice']);
    expect(leavers.impact!.samples[0]!.steps[0]!.request).toMatchObject({ method: 'POST', params: { login: 'acme_bo' } });

    const create = byName['qualys-create-user']!;
    expect(create.changes.map((c) => [c.kind, c.description])).toEqual([
      ['rule-added', 'rule added: department not_equals Contractors'],
      ['param-changed', 'step create param user_role: scanner -> reader'],
    ]);
    expect(create.impact).toMatchObject({ before: { matched: 2 }, after: { matched: 1 }, newlyMatching: [], noLongerMatching: ['dave'] });
    expect(create.impact!.samples[0]!.steps[0]!.request!.params).toMatchObject({ user_role: 'reader', email: 'carol@example.com' });

    expect(byName['qualys-deactivate-contractors']!.impact).toMatchObject({ before: null, after: { matched: 1 }, newlyMatching: ['erin'] });
    expect(byName['qualys-change-password']!.impact).toMatchObject({ before: { matched: 3 }, after: null, noLongerMatching: ['alice', 'bob', 'erin'] });
    expect(byName['qualys-change-password']!.previousFile).toBe('workflows/qualys-change-password.yaml');
  });

  it('text: one line per change and the summary', async () => {
    const r = await plan('--base', 'main', '--records', 'records.json');
    expect(r.code).toBe(2);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^skein plan: workflows at main \([0-9a-f]{12}\) -> working tree$/);
    expect(lines).toContain('+ qualys-deactivate-contractors  added  matches - -> 1 (+1 / -0)');
    expect(lines).toContain('- qualys-change-password  removed  matches 3 -> - (+0 / -3)');
    expect(lines).toContain('> qualys-edit-user -> qualys-update-contact  renamed  matches 0 -> 0 (+0 / -0)');
    expect(lines).toContain('~ qualys-deactivate-leavers  changed  matches 1 -> 2 (+1 / -0)');
    expect(lines).toContain('    status in [Inactive, Leaver] -> [Inactive, Leaver, Retired]');
    expect(lines).toContain('    newly matching: bob');
    expect(lines).toContain('    no longer matching: dave');
    expect(lines).toContain('    step create param user_role: scanner -> reader');
    expect(lines).toContain('Plan: 1 added, 1 removed, 1 renamed, 2 changed, 2 unchanged.');
    expect(r.stdout).not.toContain('qualys-activate-returning');
  });

  it('markdown: summary table first, then one <details> per workflow', async () => {
    const r = await plan('--base', 'main', '--records', 'records.json', '--format', 'markdown');
    expect(r.code).toBe(2);
    const lines = r.stdout.split('\n');
    expect(lines.slice(0, 7)).toEqual([
      '| workflow | change | matches before -> after | +new / -gone |',
      '|---|---|---|---|',
      '| `qualys-deactivate-contractors` | added | - -> 1 | +1 / -0 |',
      '| `qualys-change-password` | removed | 3 -> - | +0 / -3 |',
      '| `qualys-edit-user` -> `qualys-update-contact` | renamed | 0 -> 0 | +0 / -0 |',
      '| `qualys-create-user` | changed | 2 -> 1 | +0 / -1 |',
      '| `qualys-deactivate-leavers` | changed | 1 -> 2 | +1 / -0 |',
    ]);
    expect(r.stdout.match(/<details>/g)).toHaveLength(5);
    expect(r.stdout.match(/<\/details>/g)).toHaveLength(5);
    expect(r.stdout).toContain('<details><summary><code>qualys-deactivate-leavers</code>: changed, matches 1 -&gt; 2</summary>');
    expect(lines).toContain('status in [Inactive, Leaver] -> [Inactive, Leaver, Retired]');
    expect(r.stdout).toContain('_Nothing was sent or written. Secrets are redacted._');
  });

  it('no credentials or secrets in sample requests', async () => {
    const r = await runCli(['plan', '--base', 'main', '--records', 'records.json', '--format', 'json'], repo, { QUALYS_USERNAME: 'u-secret', QUALYS_PASSWORD: 'p-secret' });
    expect(r.stdout).not.toContain('p-secret');
    expect(r.stdout).not.toContain('u-secret');
  });
});

describe('plan --base exit codes and bad input', () => {
  it('0 when nothing changed (HEAD on a clean tree)', async () => {
    const r = await plan('--base', 'HEAD', '--records', 'records.json');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Plan: 0 added, 0 removed, 0 renamed, 0 changed, 6 unchanged. No changes.');
    const md = await plan('--base', 'HEAD', '--format', 'markdown');
    expect(md.code).toBe(0);
    expect(md.stdout.split('\n')[2]).toBe('| _none_ | no changes | | |');
  });

  it('a dirty tree: uncommitted edits are planned and flagged', async () => {
    edit(repo, 'workflows/qualys-deactivate-leavers.yaml', 'in: [Inactive, Leaver]', 'in: [Inactive, Leaver, Retired]');
    const r = await plan('--base', 'HEAD', '--records', 'records.json');
    expect(r.code).toBe(2);
    expect(r.stdout.split('\n')[0]).toContain('(working tree has uncommitted changes)');
    expect(r.stdout).toContain('  uncommitted: workflows/qualys-deactivate-leavers.yaml');
    expect(r.stdout).toContain('    newly matching: bob');
    const j = JSON.parse((await plan('--base', 'HEAD', '--format', 'json')).stdout) as JsonPlan;
    expect(j.head).toEqual({ dirty: true, dirtyFiles: ['workflows/qualys-deactivate-leavers.yaml'] });
    const md = await plan('--base', 'HEAD', '--format', 'markdown');
    expect(md.stdout).toContain(':warning: working tree has uncommitted changes');
  });

  it('a rename in the same file (name changed, file kept) and a renamed file with the same name', async () => {
    edit(repo, 'workflows/qualys-create-user.yaml', 'name: qualys-create-user', 'name: qualys-onboard');
    if (existsSync(join(repo, 'workflows/tests/qualys-create-user.test.yaml'))) edit(repo, 'workflows/tests/qualys-create-user.test.yaml', 'workflow: qualys-create-user', 'workflow: qualys-onboard');
    git(repo, 'mv', 'workflows/qualys-import-users.yaml', 'workflows/import.yaml');
    const p = JSON.parse((await plan('--base', 'HEAD', '--format', 'json')).stdout) as JsonPlan;
    const onboard = p.workflows.find((w) => w.name === 'qualys-onboard')!;
    expect(onboard).toMatchObject({ status: 'renamed', previousName: 'qualys-create-user', renameReason: 'same-file' });
    const imp = p.workflows.find((w) => w.name === 'qualys-import-users')!;
    expect(imp).toMatchObject({ status: 'unchanged', file: 'workflows/import.yaml', previousFile: 'workflows/qualys-import-users.yaml' });
  });

  it('skein.yaml variable changes mark the workflows that use them', async () => {
    edit(repo, 'workflows/skein.yaml', 'qualys_business_unit: Unassigned', 'qualys_business_unit: Security');
    const r = await plan('--base', 'HEAD', '--records', 'records.json', '--format', 'json');
    expect(r.code).toBe(2);
    const p = JSON.parse(r.stdout) as JsonPlan;
    expect(p.config).toEqual([{ kind: 'variable-changed', path: 'variables.qualys_business_unit', description: 'variable qualys_business_unit: Unassigned -> Security (affects qualys-create-user)' }]);
    const create = p.workflows.find((w) => w.name === 'qualys-create-user')!;
    expect(create.status).toBe('changed');
    expect(create.changes.map((c) => c.description)).toEqual(['skein.yaml: variable qualys_business_unit: Unassigned -> Security']);
  });

  it('1: a base ref that does not exist', async () => {
    const r = await plan('--base', 'origin/nope');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^skein plan: unknown git ref "origin\/nope" .* \[unknown-ref\]\n$/);
    const dash = await plan('--base=--output=x');
    expect(dash.code).toBe(1);
    expect(dash.stderr).toContain('a ref cannot start with "-" [unknown-ref]');
  });

  it('1: not a git repository', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skein-nogit-'));
    try {
      cpSync(join(repo, 'workflows'), join(dir, 'workflows'), { recursive: true });
      // GIT_CEILING_DIRECTORIES: a temp dir inside some checkout must not find that repository.
      const r = await withEnv({ GIT_CEILING_DIRECTORIES: tmpdir() }, () => runCli(['plan', '--base', 'main'], dir));
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('[not-a-git-repository]');
      expect(r.stderr).toContain('is not inside a git repository');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('1: an invalid head prints its diagnostics', async () => {
    edit(repo, 'workflows/qualys-deactivate-leavers.yaml', 'field: status', 'field: statuss');
    const r = await plan('--base', 'HEAD');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/workflows\/qualys-deactivate-leavers\.yaml:\d+:\d+: error .*statuss.* \[unknown-field\]/);
    expect(r.stderr).toContain('[invalid-workflows]');
    // As a pull-request comment (markdown) the errors are on stdout too, not an empty comment.
    const md = await plan('--base', 'HEAD', '--format', 'markdown');
    expect(md.code).toBe(1);
    expect(md.stdout).toMatch(/^### skein plan\n\nThe workflows in `workflows` do not validate, so nothing was planned: 1 validation error/);
    expect(md.stdout).toMatch(/```\nworkflows\/qualys-deactivate-leavers\.yaml:\d+:\d+: error .*statuss.*\[unknown-field\]\n```/);
  });

  it('a base with invalid YAML: reported as base diagnostics, the plan still runs', async () => {
    writeFileSync(join(repo, 'workflows/qualys-deactivate-leavers.yaml'), 'version: 1\nname: [unclosed\n');
    git(repo, 'commit', '-q', '-am', 'break it');
    git(repo, 'checkout', '-q', 'HEAD~1', '--', 'workflows/qualys-deactivate-leavers.yaml');
    const r = await plan('--base', 'HEAD', '--records', 'records.json', '--format', 'json');
    expect(r.code).toBe(2);
    const p = JSON.parse(r.stdout) as JsonPlan;
    // The YAML error, plus (when workflows/tests has one) the test file naming the lost workflow.
    expect(p.baseDiagnostics.filter((d) => !d.file.startsWith('workflows/tests/')).map((d) => d.file)).toEqual(['workflows/qualys-deactivate-leavers.yaml']);
    expect(p.baseDiagnostics[0]!.code).toMatch(/^yaml-/);
    const w = p.workflows.find((x) => x.name === 'qualys-deactivate-leavers')!;
    expect(w.status).toBe('added');
    expect(w.changes[0]!.kind).toBe('base-unreadable');
    const text = await plan('--base', 'HEAD', '--records', 'records.json');
    expect(text.stdout).toMatch(/^base HEAD has \d+ diagnostic\(s\) \(not fatal; the plan compares what could be loaded\):\nworkflows\/qualys-deactivate-leavers\.yaml:2:\d+: error /m);
  });

  it('a workflow directory that does not exist at the base: everything is added', async () => {
    git(repo, 'mv', 'workflows', 'flows');
    git(repo, 'commit', '-q', '-m', 'move');
    const r = await plan('--base', 'HEAD~1', '--dir', 'flows', '--format', 'json');
    expect(r.code).toBe(2);
    const p = JSON.parse(r.stdout) as JsonPlan;
    expect(p.base.found).toBe(false);
    expect(p.summary).toEqual({ added: 6, removed: 0, renamed: 0, changed: 0, unchanged: 0 });
  });

  it('1 (not 2, which means changes): an unreadable --records file or --dir', async () => {
    const r = await plan('--base', 'HEAD', '--records', 'nope.csv');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot read nope\.csv.*\[unreadable-input\]/);
    const d = await plan('--base', 'HEAD', '--dir', 'nowhere');
    expect(d.code).toBe(1);
    expect(d.stderr).toContain('[unreadable-input]');
  });

  it('--records rows that are rejected are counted in the source line', async () => {
    writeFileSync(join(repo, 'bad.jsonl'), '{"username":"zed","status":"Leaver"}\nnot json\n');
    const r = await plan('--base', 'HEAD', '--records', 'bad.jsonl', '--format', 'json');
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as JsonPlan).records).toEqual({ source: 'records file bad.jsonl (1 row(s) rejected)', count: 1 });
  });

  it('bad usage: a WORKFLOW argument with --base', async () => {
    const r = await plan('qualys-create-user', '--base', 'main');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('[usage]');
  });

  it('1: git is not installed', async () => {
    const r = await withEnv({ PATH: join(repo, 'no-bin-here') }, () => plan('--base', 'HEAD'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('git is not installed or not on PATH; --base needs git [git-missing]');
  });

  it('impact over the state store, which is only read', async () => {
    expect((await runCli(['records', 'import', 'records.json'], repo)).code).toBe(0);
    const events = async () => (await runCli(['records', 'list', '--format', 'json'], repo)).stdout;
    const before = await events();
    expect(before).toContain('"bob"');
    applyPullRequest(repo, false);
    const r = await plan('--base', 'HEAD', '--format', 'json');
    expect(r.code).toBe(2);
    const p = JSON.parse(r.stdout) as JsonPlan;
    expect(p.records).toEqual({ source: 'state store .skein/state.db', count: 5 });
    expect(p.workflows.find((w) => w.name === 'qualys-deactivate-leavers')!.impact).toMatchObject({ before: { matched: 1 }, after: { matched: 2 }, newlyMatching: ['bob'] });
    expect(await events()).toBe(before);
  });

  it('reads the state store without writing it, and does not create one', async () => {
    const r = await plan('--base', 'HEAD');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('records: no state store at');
    expect(git(repo, 'status', '--porcelain', '--ignored')).not.toContain('.skein');
  });
});
