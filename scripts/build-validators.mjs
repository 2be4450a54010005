// Also writes dist/generated/presets.json, the shipped presets as JSON.
// Precompiles the JSON Schemas into standalone ajv validators (dist/generated/validators.js) so
// `skein validate` does not compile schemas at every start; the cold start stays well under 300 ms.
// The runtime falls back to compiling when this file is absent (e.g. tests running from src/).
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { Ajv2020 } = require('ajv/dist/2020.js');
const standaloneCode = require('ajv/dist/standalone').default;
const { _ } = require('ajv');
const addFormats = require('ajv-formats');

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const ajv = new Ajv2020({
  allErrors: true,
  strict: true,
  strictRequired: false,
  allowUnionTypes: true,
  verbose: true,
  code: { source: true, esm: true, formats: _`require("ajv-formats/dist/formats").fullFormats` },
});
addFormats(ajv);
const ids = {};
for (const kind of ['preset', 'config', 'workflow', 'test']) {
  const schema = JSON.parse(readFileSync(join(root, 'schemas', `${kind}.schema.json`), 'utf8'));
  ajv.addSchema(schema);
  ids[kind] = schema.$id;
}
let code = standaloneCode(ajv, ids);
// The generated ESM uses require() for formats; give it one.
code = `import { createRequire } from 'node:module';\nconst require = createRequire(import.meta.url);\n${code}`;
const out = join(root, 'dist', 'generated', 'validators.js');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, code);

// Presets as JSON: parsing their YAML at every start would cost more than the cold-start budget.
const { parse } = require('yaml');
const { readdirSync } = require('node:fs');
const presetRoot = join(root, 'src', 'presets');
const presets = [];
for (const vendor of readdirSync(presetRoot, { withFileTypes: true })) {
  if (!vendor.isDirectory()) continue;
  for (const f of readdirSync(join(presetRoot, vendor.name)).sort()) {
    if (f.endsWith('.yaml')) presets.push(parse(readFileSync(join(presetRoot, vendor.name, f), 'utf8')));
  }
}
writeFileSync(join(root, 'dist', 'generated', 'presets.json'), JSON.stringify(presets));
