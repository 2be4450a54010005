// `skein init [DIR] [--force]`: scaffolds a workflows repository that validates and tests clean at
// once: workflows/skein.yaml, a Qualys deactivate workflow with its test and canned answers,
// .gitignore and a GitHub Actions job running validate and test.
//
// Editor schema comments point at the schemas of the installed package
// (node_modules/skein/schemas/..., relative to each file): `npm install -D skein` puts them there,
// they work offline, and they always match the skein version that validates the files, unlike a
// URL that would follow the newest release.
import { appendFileSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { makeDirs } from '../../fs-util.js';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { SkeinError } from '../../errors.js';
import { UsageError, type Command } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { println } from '../io.js';

const HELP = `Usage: skein init [DIR] [--force] [--package SPEC]

Creates a workflows repository in DIR (default .):
  workflows/skein.yaml                         variables, the qualys credential, record fields
  workflows/qualys-deactivate-leavers.yaml     an example workflow
  workflows/tests/...test.yaml + responses/    its test, with canned Qualys answers
  .gitignore                                   .skein/ (the local state store), node_modules/
  .github/workflows/skein.yml                  CI: skein validate and skein test

Files start with a yaml-language-server schema comment pointing at
node_modules/skein/schemas/ (install skein with npm install -D SPEC, see --package).
Afterwards \`skein validate DIR/workflows\` and \`skein test DIR/workflows\` pass.

Options:
  --force          write into a workflows/ directory that is not empty, and overwrite files
                   with the same names (without it an existing file, e.g. a CI workflow, is kept)
  --package SPEC   what the CI job and the next step install skein from: an npm package spec
                   such as a git URL (git+https://git.example.com/it/skein.git#v0.1.0), a
                   tarball made with npm pack, or a registry name; default skein@VERSION, for a
                   registry (public or your organisation's) that has skein

Exit codes: 0 created, 1 DIR/workflows is not empty (without --force), 2 bad usage.`;

const schema = (fromDir: string, name: string) => `# yaml-language-server: $schema=${fromDir}node_modules/skein/schemas/${name}.schema.json`;

const SKEIN_YAML = `${schema('../', 'config')}
version: 1
variables:
  # The Qualys API server of your platform (US1 here). Try workflows against the local sandbox
  # with: skein sandbox qualys, then --var qualys_api_url=http://127.0.0.1:8765.
  qualys_api_url: https://qualysapi.qualys.com
credentials:
  qualys:
    type: basic
    username: { env: QUALYS_USERNAME }
    password: { env: QUALYS_PASSWORD }   # or { file: /run/secrets/qualys_password }
objects:
  users:
    fields:
      qualys_login: { type: string, description: Login of the user's Qualys account. }
      qualys_status: { type: string, description: Qualys account status as last seen. }
      qualys_error: { type: string, description: Last Qualys error for this user. }
      api_response: { type: long_text, description: Last raw Qualys answer (passwords redacted). }
`;

const WORKFLOW = `${schema('../', 'workflow')}
version: 1
name: qualys-deactivate-leavers
description: Deactivate the Qualys account of people who leave, on the status change and nightly.
object: users
trigger:
  on: [updated, schedule, manual]
  schedule: "0 2 * * *"
rules:
  all:
    - field: status
      in: [Inactive, Leaver]
    - field: qualys_login
      is_not_empty: true
    - field: qualys_status
      equals: Active
steps:
  - id: deactivate
    preset: qualys.deactivate_user
    credentials: qualys
    params:
      login: "{{qualys_login}}"
    response:
      qualys_status: Inactive
      qualys_error: ""
      api_response: "{{response}}"
    error_response:
      qualys_error: "{{outputs.message}}"
`;

const TEST = `${schema('../../', 'test')}
# Run with: skein test   (offline: canned answers, a temporary store, fake credentials)
version: 1
workflow: qualys-deactivate-leavers
cases:
  - name: a leaver's account is deactivated
    event:
      kind: updated
      before: { username: jane.doe, status: Active, qualys_login: acme_jd1, qualys_status: Active }
      after: { status: Leaver }
    responses:
      deactivate: { file: responses/deactivate-success.xml }
    expect:
      matches: true
      steps:
        deactivate:
          outcome: succeeded
          request:
            method: POST
            url: https://qualysapi.qualys.com/msp/user.php?action=deactivate
            params: { login: acme_jd1 }
      fields: { qualys_status: Inactive }

  - name: Qualys answers FAILED 1905 for an account in the wrong status
    event:
      kind: manual
      record: { username: jane.doe, status: Leaver, qualys_login: acme_jd1, qualys_status: Active }
    responses:
      deactivate: { file: responses/deactivate-failed-1905.xml }
    expect:
      matches: true
      steps:
        deactivate: { outcome: failed, qualys_code: 1905 }
      fields:
        qualys_status: Active
        qualys_error: "parameter login has invalid value: acme_jd1 (user status is Inactive; only Active users can be deactivated)"

  - name: an active employee does not match
    event:
      kind: updated
      before: { username: raj.singh, status: Active, qualys_login: acme_rs2, qualys_status: Active }
      after: { title: Senior Analyst }
    expect:
      matches: false
`;

const XML_HEAD = `<?xml version="1.0" encoding="UTF-8" ?>
<!DOCTYPE USER_OUTPUT SYSTEM "https://qualysapi.qualys.com/user_output.dtd">
<USER_OUTPUT>
  <API name="user.php" username="skein-test-user" at="2026-01-05T10:00:00Z" />
`;

const DEACTIVATE_OK = `${XML_HEAD}  <RETURN status="SUCCESS">
    <MESSAGE>acme_jd1 user has been successfully deactivated.</MESSAGE>
  </RETURN>
</USER_OUTPUT>
`;

const DEACTIVATE_FAILED = `${XML_HEAD}  <RETURN status="FAILED" number="1905">
    <MESSAGE><![CDATA[parameter login has invalid value: acme_jd1 (user status is Inactive; only Active users can be deactivated)]]></MESSAGE>
  </RETURN>
</USER_OUTPUT>
`;

const GITIGNORE_LINES = ['.skein/', 'node_modules/'];

const ci = (spec: string) => `# Validates and tests the workflows on every push and pull request.
# skein is installed from ${spec}; skein init --package SPEC writes another source (a git URL, a
# tarball made with npm pack, your organisation's registry).
name: skein
on: [push, pull_request]
jobs:
  skein:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-node@v4
        with:
          node-version: 20
      - run: npm install --no-save ${spec}
      - run: npx skein validate workflows --format github
      - run: npx skein test workflows --reporter junit --output skein-junit.xml
      - uses: actions/upload-artifact@v4
        if: always()
        with:
          name: skein-junit
          path: skein-junit.xml
`;

export const initCommand: Command = {
  name: 'init',
  summary: 'scaffold a workflows repository: skein.yaml, an example workflow, its test, CI',
  help: HELP,
  async run(args, io) {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, strict: true, options: { force: { type: 'boolean', default: false }, package: { type: 'string' } } });
    if (values.package !== undefined && !/^[^\s'"`$;&|<>]+$/.test(values.package)) throw new UsageError('--package takes one npm package spec without spaces or shell characters');
    if (positionals.length > 1) throw new UsageError(`init takes one DIR, found ${positionals.length}`);
    const root = resolve(io.cwd, positionals[0] ?? '.');
    if (existsSync(root) && !statSync(root).isDirectory()) throw new UsageError(`${positionals[0]} exists and is not a directory`);
    const wfDir = join(root, 'workflows');
    if (existsSync(wfDir) && readdirSync(wfDir).length > 0 && !values.force) {
      throw new SkeinError('init-not-empty', `${shownPath(io.cwd, wfDir)} is not empty; choose another DIR or pass --force to write into it`);
    }
    const require = createRequire(import.meta.url);
    const version = (require('../../../package.json') as { version: string }).version;
    const spec = values.package ?? `skein@${version}`;
    const files: Record<string, string> = {
      'workflows/skein.yaml': SKEIN_YAML,
      'workflows/qualys-deactivate-leavers.yaml': WORKFLOW,
      'workflows/tests/qualys-deactivate-leavers.test.yaml': TEST,
      'workflows/tests/responses/deactivate-success.xml': DEACTIVATE_OK,
      'workflows/tests/responses/deactivate-failed-1905.xml': DEACTIVATE_FAILED,
      '.github/workflows/skein.yml': ci(spec),
    };
    for (const [rel, text] of Object.entries(files)) {
      const p = join(root, rel);
      // A file already there (a CI workflow of the repository) is the user's unless --force.
      const existed = existsSync(p);
      if (existed && !values.force) {
        println(io.stdout, `kept ${shownPath(io.cwd, p)} (it exists; --force overwrites it)`);
        continue;
      }
      try {
        makeDirs(dirname(p));
        writeFileSync(p, text);
      } catch (err) {
        throw new SkeinError('unwritable-path', `cannot write ${shownPath(io.cwd, p)}: ${(err as Error).message}`, { cause: err });
      }
      println(io.stdout, `${existed ? 'overwrote' : 'created'} ${shownPath(io.cwd, p)}`);
    }
    // .gitignore may already exist in a repository: add the missing lines, never clobber it.
    const gi = join(root, '.gitignore');
    const had = existsSync(gi) ? readFileSync(gi, 'utf8') : '';
    const missing = GITIGNORE_LINES.filter((l) => !had.split(/\r?\n/).includes(l));
    if (missing.length) {
      appendFileSync(gi, (had && !had.endsWith('\n') ? '\n' : '') + missing.map((l) => `${l}\n`).join(''));
      println(io.stdout, `${had ? 'updated' : 'created'} ${shownPath(io.cwd, gi)}`);
    }
    const d = shownPath(io.cwd, root);
    println(io.stdout, `next: npm install -D ${spec}${values.package ? '' : ' (or --package SPEC: skein may not be in your registry; a git URL or an npm pack tarball works)'}, then skein validate ${d === '.' ? '' : `${d}/`}workflows and skein test ${d === '.' ? '' : `${d}/`}workflows`);
    return EXIT.OK;
  },
};

function shownPath(cwd: string, p: string): string {
  const rel = relative(cwd, p);
  return rel === '' ? '.' : rel.startsWith('..') ? p : rel.split('\\').join('/');
}
