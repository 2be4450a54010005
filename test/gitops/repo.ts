// A temporary git repository holding a copy of workflows/, and the scripted pull request that the
// plan tests compare: tighten a rule, change a param, rename one workflow, delete one, add one.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const REPO_ROOT = join(import.meta.dirname, '..', '..');

export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A fresh repo with workflows/ committed on branch main; returns its path. */
export function makeRepo(): string {
  const dir = mkdtempSync(join(tmpdir(), 'skein-gitops-'));
  cpSync(join(REPO_ROOT, 'workflows'), join(dir, 'workflows'), { recursive: true });
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'config', 'user.name', 'Skein Test');
  git(dir, 'config', 'user.email', 'test@example.com');
  git(dir, 'config', 'commit.gpgsign', 'false');
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', 'base');
  return dir;
}

export const removeRepo = (dir: string) => rmSync(dir, { recursive: true, force: true });

export function edit(dir: string, file: string, from: string, to: string): void {
  const path = join(dir, file);
  const text = readFileSync(path, 'utf8');
  if (!text.includes(from)) throw new Error(`${file} does not contain ${JSON.stringify(from)}`);
  writeFileSync(path, text.replace(from, to));
}

export const ADDED_WORKFLOW = `# yaml-language-server: $schema=../schemas/workflow.schema.json
version: 1
name: qualys-deactivate-contractors
description: Deactivate the Qualys account of contractors.
object: users
trigger:
  on: [manual]
rules:
  all:
    - field: department
      equals: Contractors
    - field: qualys_login
      is_not_empty: true
steps:
  - id: deactivate
    preset: qualys.deactivate_user
    credentials: qualys
    params:
      login: "{{qualys_login}}"
`;

/** The second commit (or, with commit=false, the same edits left uncommitted). */
export function applyPullRequest(dir: string, commit = true): void {
  edit(dir, 'workflows/qualys-deactivate-leavers.yaml', 'in: [Inactive, Leaver]', 'in: [Inactive, Leaver, Retired]');
  edit(dir, 'workflows/qualys-create-user.yaml', 'user_role: scanner', 'user_role: reader');
  edit(dir, 'workflows/qualys-create-user.yaml', '    - field: email\n      is_not_empty: true\n', '    - field: email\n      is_not_empty: true\n    - field: department\n      not_equals: Contractors\n');
  renameSync(join(dir, 'workflows/qualys-edit-user.yaml'), join(dir, 'workflows/qualys-update-contact.yaml'));
  edit(dir, 'workflows/qualys-update-contact.yaml', 'name: qualys-edit-user', 'name: qualys-update-contact');
  rmSync(join(dir, 'workflows/qualys-change-password.yaml'));
  writeFileSync(join(dir, 'workflows/qualys-deactivate-contractors.yaml'), ADDED_WORKFLOW);
  // The workflow tests (workflows/tests/*.test.yaml) follow, as they would in a real pull request.
  const tests = join(dir, 'workflows/tests');
  if (existsSync(join(tests, 'qualys-edit-user.test.yaml'))) {
    renameSync(join(tests, 'qualys-edit-user.test.yaml'), join(tests, 'qualys-update-contact.test.yaml'));
    edit(dir, 'workflows/tests/qualys-update-contact.test.yaml', 'workflow: qualys-edit-user', 'workflow: qualys-update-contact');
  }
  rmSync(join(tests, 'qualys-change-password.test.yaml'), { force: true });
  const createTest = join(tests, 'qualys-create-user.test.yaml');
  if (existsSync(createTest)) writeFileSync(createTest, readFileSync(createTest, 'utf8').replace(/user_role: scanner/g, 'user_role: reader'));
  if (commit) {
    git(dir, 'add', '-A');
    git(dir, 'commit', '-q', '-m', 'change the examples');
  }
}

/** Records for --records: who matches what before and after the pull request. */
export const RECORDS = [
  // deactivate-leavers: matches before and after
  { username: 'alice', email: 'alice@example.com', status: 'Leaver', qualys_login: 'acme_al', qualys_status: 'Active', department: 'IT' },
  // deactivate-leavers: newly matches (Retired)
  { username: 'bob', email: 'bob@example.com', status: 'Retired', qualys_login: 'acme_bo', qualys_status: 'Active', department: 'IT' },
  // create-user: matches before and after
  { username: 'carol', email: 'carol@example.com', first_name: 'Carol', last_name: 'King', status: 'Active', department: 'Security', address1: '1 Main St', city: 'Boston', state: 'Massachusetts', country: 'United States of America', zip_code: '02116' },
  // create-user: stops matching (contractor); deactivate-contractors: no login, no match
  { username: 'dave', email: 'dave@example.com', first_name: 'Dave', last_name: 'Lee', status: 'Active', department: 'Contractors' },
  // deactivate-contractors: matches (added workflow)
  { username: 'erin', email: 'erin@example.com', status: 'Active', qualys_login: 'acme_er', qualys_status: 'Active', department: 'Contractors' },
];
