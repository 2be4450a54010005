// Validate benchmark: 1,000 generated workflow files, `skein validate` against a baseline that
// only runs yaml.parseDocument + ajv on the same files in one process; plus one-file cold start.
import { mkdirSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmt, median, timeCommand } from './util.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'bench', '.out', 'validate');

const STATUSES = ['Active', 'Inactive', 'Leaver', 'Contractor'];
function workflow(i) {
  const kind = i % 5;
  const head = `# yaml-language-server: $schema=../../../schemas/workflow.schema.json
version: 1
name: bench-${kind}-${i}
description: Generated workflow ${i} for the validate benchmark.
object: users
`;
  if (kind === 0) {
    return head + `trigger:
  on: [updated]
rules:
  all:
    - field: status
      changed_to: ${STATUSES[i % 4]}
    - field: qualys_login
      is_not_empty: true
    - any:
        - field: department
          in: [Sales, IT, Finance]
        - field: email
          ends_with: "@example${i % 7}.com"
steps:
  - id: deactivate
    preset: qualys.deactivate_user
    credentials: qualys
    params:
      login: "{{qualys_login}}"
    response:
      qualys_status: Inactive
      api_response: "{{response}}"
    error_response:
      qualys_error: "{{outputs.message}}"
`;
  }
  if (kind === 1) {
    return head + `trigger:
  on: [created, manual]
rules:
  all:
    - field: status
      equals: Active
    - field: qualys_login
      is_empty: true
steps:
  - id: create
    preset: qualys.create_user
    credentials: qualys
    params:
      user_role: scanner
      business_unit: Unassigned
      first_name: "{{first_name}}"
      last_name: "{{last_name}}"
      title: "{{default title 'Employee'}}"
      phone: "{{phone}}"
      email: "{{lower email}}"
      address1: "{{address1}}"
      city: "{{city}}"
      country: United States of America
      state: New York
      send_email: false
    response:
      qualys_login: "{{outputs.login}}"
      qualys_password: "{{outputs.password}}"
`;
  }
  if (kind === 2) {
    return head + `trigger:
  on: [schedule]
  schedule: "${i % 60} ${i % 24} * * 1-5"
  timezone: Europe/Berlin
rules:
  any:
    - field: end_date
      before: now-${i % 90}d
    - not:
        field: email
        matches: "^[a-z.]+@example\\\\.com$"
steps:
  - id: edit
    preset: qualys.edit_user
    credentials: qualys
    params:
      login: "{{qualys_login}}"
      title: "{{title}}"
      phone: "{{phone}}"
    response:
      api_response: "{{response}}"
`;
  }
  if (kind === 3) {
    return head + `trigger:
  on: [updated]
rules:
  field: status
  changed_from: Inactive
steps:
  - id: activate
    preset: qualys.activate_user
    credentials: qualys
    params:
      login: "{{qualys_login}}"
  - id: reset
    preset: qualys.change_password
    credentials: qualys
    params:
      user_logins: "{{qualys_login}}"
      email: false
    response:
      qualys_password: "{{steps.activate.outputs.message}}{{outputs.password}}"
`;
  }
  return head + `trigger:
  on: [manual]
steps:
  - id: call
    credentials: qualys
    request:
      method: GET
      url: "{{vars.qualys_api_url}}/msp/about.php"
      query: { who: "{{username}}" }
      response:
        format: xml
`;
}

function generate(n) {
  rmSync(out, { recursive: true, force: true });
  const dir = join(out, 'workflows');
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(root, 'workflows', 'skein.yaml'), join(dir, 'skein.yaml'));
  for (let i = 0; i < n; i++) writeFileSync(join(dir, `wf-${String(i).padStart(4, '0')}.yaml`), workflow(i));
  const baseline = join(out, 'baseline.mjs');
  writeFileSync(
    baseline,
    `import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
const require = createRequire(${JSON.stringify(join(root, 'package.json'))});
const { parseDocument, LineCounter } = require('yaml');
const { Ajv2020 } = require('ajv/dist/2020.js');
const addFormats = require('ajv-formats');
const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
addFormats(ajv);
const schemas = ${JSON.stringify(join(root, 'schemas'))};
for (const f of ['preset', 'config']) ajv.addSchema(JSON.parse(readFileSync(join(schemas, f + '.schema.json'), 'utf8')));
const validate = ajv.compile(JSON.parse(readFileSync(join(schemas, 'workflow.schema.json'), 'utf8')));
const dir = process.argv[2];
let bad = 0;
for (const f of readdirSync(dir)) {
  if (f === 'skein.yaml') continue;
  const doc = parseDocument(readFileSync(join(dir, f), 'utf8'), { lineCounter: new LineCounter() });
  if (!validate(doc.toJS())) bad++;
}
if (bad) { console.error(bad + ' invalid'); process.exit(1); }
`,
  );
  return { dir, baseline };
}

export async function main() {
  const n = 1000;
  const { dir, baseline } = generate(n);
  const skein = join(root, 'bin', 'skein.js');
  const check = timeCommand(process.execPath, [skein, 'validate', dir, '--quiet'], { allowFail: true });
  if (check.status !== 0) throw new Error(`generated workflows do not validate:\n${check.stdout.slice(0, 2000)}`);
  const rounds = 5;
  const base = [];
  const ours = [];
  for (let r = 0; r < rounds; r++) {
    base.push(timeCommand(process.execPath, [baseline, dir]).ms);
    ours.push(timeCommand(process.execPath, [skein, 'validate', dir, '--quiet']).ms);
  }
  const one = join(root, 'workflows', 'qualys-activate-returning.yaml');
  const cold = [];
  for (let r = 0; r < 11; r++) cold.push(timeCommand(process.execPath, [skein, 'validate', one, '--quiet']).ms);
  const mb = median(base);
  const mo = median(ours);
  console.log(`validate: ${n} workflow files, median of ${rounds} runs each (whole process, wall clock)`);
  console.log(`  baseline (yaml.parseDocument + ajv only): ${fmt(mb)}`);
  console.log(`  skein validate (schema + semantic rules): ${fmt(mo)}`);
  console.log(`  ratio skein / baseline: ${(mo / mb).toFixed(2)}x (target <= 2x)`);
  console.log(`  one-file cold start, median of 11: ${fmt(median(cold))} (target <= 300 ms); node itself: ${fmt(median([0, 0, 0].map(() => timeCommand(process.execPath, ['-e', '0']).ms)))}`);
}
