// The CI recipes in examples/ci/ run here as far as they can offline: every line that invokes
// skein runs through the built CLI (node bin/skein.js) in a temporary git repository with an
// `origin` remote and a pull-request branch, and whole job scripts run with the shell options
// the CI systems use. Actions (`uses:`) and network calls are not run.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyPullRequest, git, makeRepo, REPO_ROOT } from './repo.js';

const BIN = join(REPO_ROOT, 'bin', 'skein.js');

interface GithubWorkflow {
  jobs: Record<string, { steps: Array<{ name?: string; run?: string; uses?: string; env?: Record<string, string> }> }>;
}
type GitlabConfig = Record<string, { script?: string[]; stage?: string } | unknown>;

const github = parse(readFileSync(join(REPO_ROOT, 'examples/ci/github-actions.yml'), 'utf8')) as GithubWorkflow;
const gitlab = parse(readFileSync(join(REPO_ROOT, 'examples/ci/gitlab-ci.yml'), 'utf8')) as GitlabConfig;

/** Job name -> its shell lines, for both recipes. */
function githubJobs(): Record<string, string[]> {
  return Object.fromEntries(Object.entries(github.jobs).map(([name, job]) => [name, job.steps.flatMap((s) => (s.run ? [s.run] : []))]));
}
function gitlabJobs(): Record<string, string[]> {
  return Object.fromEntries(
    Object.entries(gitlab).flatMap(([name, job]) => {
      const script = (job as { script?: unknown }).script;
      return Array.isArray(script) ? [[name, script as string[]]] : [];
    }),
  );
}

/** The skein invocation in a shell line, up to the first `||`, `&&`, `;` or pipe. */
function skeinCommand(line: string): string | undefined {
  const trimmed = line.trim();
  if (trimmed.startsWith('#')) return undefined;
  const m = /(?:^|[\s(])((?:npx )?skein\s.*)$/.exec(trimmed);
  if (!m) return undefined;
  return m[1]!.split(/\s(?:\|\||&&|\||;)\s|;$/)[0]!.trim();
}

const skeinLines = (jobs: Record<string, string[]>) => Object.values(jobs).flatMap((blocks) => blocks.flatMap((b) => b.split('\n')).flatMap((l) => skeinCommand(l) ?? []));

/** GitHub expressions as a pull request into main would fill them in. */
const expand = (s: string) => s.replace(/\$\{\{\s*github\.base_ref\s*\}\}/g, 'main');

/** The env of every GitHub step (expressions expanded), for running lines out of their step. */
const githubEnv = (): Record<string, string> =>
  Object.fromEntries(Object.values(github.jobs).flatMap((j) => j.steps.flatMap((s) => Object.entries(s.env ?? {}).map(([k, v]) => [k, expand(String(v))]))));

/** Runs in the repo with `npx skein` pointing at the built CLI and CI variables filled in. */
function shell(script: string, cwd: string, env: Record<string, string> = {}): { code: number; stdout: string; stderr: string } {
  const text = expand(script).replace(/(^|[\s(])(?:npx )?skein(?=\s)/gm, `$1node ${JSON.stringify(BIN)}`);
  const r = spawnSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', text], {
    cwd,
    encoding: 'utf8',
    env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? cwd, CI_MERGE_REQUEST_TARGET_BRANCH_NAME: 'main', ...githubEnv(), ...env },
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

let repo: string;
let origin: string;
/** True when some source (TypeScript under src/, schemas, presets) is newer than the build in dist/. */
function buildIsStale(): boolean {
  const built = join(REPO_ROOT, 'dist/generated/validators.js');
  if (!existsSync(built)) return true;
  const builtAt = statSync(built).mtimeMs;
  const newer = (dir: string): boolean =>
    readdirSync(dir, { withFileTypes: true }).some((e) => {
      const p = join(dir, e.name);
      if (e.isDirectory()) return newer(p);
      if (!/\.(ts|json|ya?ml)$/.test(e.name)) return false;
      if (statSync(p).mtimeMs > builtAt) return true;
      return e.name.endsWith('.ts') && !existsSync(join(REPO_ROOT, 'dist', relative(join(REPO_ROOT, 'src'), p)).replace(/\.ts$/, '.js'));
    });
  return newer(join(REPO_ROOT, 'src')) || newer(join(REPO_ROOT, 'schemas'));
}

beforeAll(() => {
  // The recipes run the built CLI: build it as `npm run build` does, unless `npm test` just did
  // (rebuilding dist/ under other test files that run the CLI would race with them).
  if (buildIsStale()) {
    const tsc = spawnSync(process.execPath, [join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: REPO_ROOT, encoding: 'utf8' });
    expect(tsc.stdout + tsc.stderr, 'tsc -p tsconfig.json').toBe('');
    execFileSync(process.execPath, ['scripts/build-validators.mjs'], { cwd: REPO_ROOT, stdio: 'pipe' });
  }
  repo = makeRepo();
  origin = mkdtempSync(join(tmpdir(), 'skein-origin-'));
  git(origin, 'init', '-q', '--bare');
  git(repo, 'remote', 'add', 'origin', origin);
  git(repo, 'push', '-q', 'origin', 'main');
  git(repo, 'fetch', '-q', 'origin');
  git(repo, 'checkout', '-q', '-b', 'feature');
  applyPullRequest(repo);
}, 180_000);
afterAll(() => {
  if (repo) rmSync(repo, { recursive: true, force: true });
  if (origin) rmSync(origin, { recursive: true, force: true });
});

describe('CI recipes', () => {
  it('both files are valid YAML with the expected jobs', () => {
    expect(Object.keys(github.jobs)).toEqual(['validate', 'test', 'plan']);
    expect(github.jobs.validate!.steps.map((s) => s.uses ?? s.run?.split(' ').slice(0, 3).join(' '))).toContain('github/codeql-action/upload-sarif@v3');
    expect(github.jobs.plan!.steps.some((s) => s.uses?.startsWith('marocchino/sticky-pull-request-comment'))).toBe(true);
    expect(github.jobs.plan!.steps.find((s) => s.run?.includes('skein plan'))!.env).toEqual({ BASE_REF: '${{ github.base_ref }}' });
    expect(Object.keys(gitlabJobs())).toEqual(['validate', 'test', 'plan']);
    expect((gitlab.validate as { artifacts: { reports: object } }).artifacts.reports).toEqual({ codequality: 'gl-code-quality-report.json' });
    expect((gitlab.test as { artifacts: { reports: object } }).artifacts.reports).toEqual({ junit: 'junit.xml' });
  });

  it('every skein line is one of the documented invocations', () => {
    expect(skeinLines(githubJobs())).toEqual([
      'npx skein validate workflows --format github',
      'npx skein validate workflows --format sarif > skein.sarif',
      'npx skein test --reporter junit --output junit.xml',
      'npx skein plan --base "origin/$BASE_REF" --format markdown > plan.md',
    ]);
    expect(skeinLines(gitlabJobs())).toEqual([
      'npx skein validate workflows --format json > skein-validate.json',
      'npx skein validate workflows',
      'npx skein test --reporter junit --output junit.xml',
      'npx skein plan --base "origin/$CI_MERGE_REQUEST_TARGET_BRANCH_NAME" --format markdown > plan.md',
    ]);
  });

  it('skein test is a command of the built CLI', () => {
    const help = execFileSync(process.execPath, [BIN, '--help'], { encoding: 'utf8' });
    expect(help).toMatch(/^ {2}test {2,}/m);
  });

  const expected = (cmd: string) => (/ plan /.test(cmd) ? [0, 2] : [0]);
  it.each([...skeinLines(githubJobs()).map((c) => ['github', c]), ...skeinLines(gitlabJobs()).map((c) => ['gitlab', c])])('%s: %s', (_ci, cmd) => {
    const r = shell(cmd, repo);
    expect(expected(cmd), `${cmd}\n${r.stdout}\n${r.stderr}`).toContain(r.code);
    if (/ plan /.test(cmd)) {
      expect(r.code).toBe(2);
      expect(readFileSync(join(repo, 'plan.md'), 'utf8')).toMatch(/^\| workflow \| change \|/);
    }
    if (/ test /.test(cmd)) expect(readFileSync(join(repo, 'junit.xml'), 'utf8')).toMatch(/<testsuites?[\s>]/);
  });

  it('github: the plan step treats exit 2 as success and reports changes', () => {
    const out = join(repo, 'github-output.txt');
    const step = github.jobs.plan!.steps.find((s) => s.run?.includes('skein plan'))!;
    const r = shell(step.run!, repo, { GITHUB_OUTPUT: out });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe('changes=true\n');
    expect(readFileSync(join(repo, 'plan.md'), 'utf8')).toContain('<details><summary><code>qualys-deactivate-leavers</code>');
  });

  it('github: the validate steps pass and write SARIF', () => {
    for (const s of github.jobs.validate!.steps.filter((x) => x.run?.includes('skein'))) expect(shell(s.run!, repo).code, s.run).toBe(0);
    expect((JSON.parse(readFileSync(join(repo, 'skein.sarif'), 'utf8')) as { version: string }).version).toBe('2.1.0');
  });

  it('gitlab: the validate job writes a Code Quality report; the plan job runs without a token', () => {
    const validate = shell(gitlabJobs().validate!.join('\n'), repo);
    expect(validate.code, validate.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(repo, 'gl-code-quality-report.json'), 'utf8'))).toEqual([]);
    const plan = shell(gitlabJobs().plan!.join('\n'), repo);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toContain('SKEIN_GITLAB_TOKEN is not set: plan not posted');
    expect(plan.stdout).toContain('| `qualys-deactivate-leavers` | changed |');
  });

  it('gitlab: validation errors become Code Quality entries and fail the job', () => {
    const broken = makeRepo();
    try {
      const file = join(broken, 'workflows/qualys-deactivate-leavers.yaml');
      execFileSync('sed', ['-i', 's/field: status/field: statuss/', file]);
      const r = shell(gitlabJobs().validate!.join('\n'), broken);
      expect(r.code).toBe(1);
      const report = JSON.parse(readFileSync(join(broken, 'gl-code-quality-report.json'), 'utf8')) as Array<Record<string, unknown>>;
      expect(report).toHaveLength(1);
      expect(report[0]).toMatchObject({ check_name: 'skein/unknown-field', severity: 'major', location: { path: 'workflows/qualys-deactivate-leavers.yaml', lines: { begin: 12 } } });
      expect(existsSync(join(broken, 'skein-validate.json'))).toBe(true);
    } finally {
      rmSync(broken, { recursive: true, force: true });
    }
  });
});
