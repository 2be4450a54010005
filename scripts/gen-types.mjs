// Generates src/generated/*.ts from schemas/*.schema.json, so TypeScript types are derived from
// the JSON Schemas instead of written twice. `--check` exits 1 when the committed files drift.
import { readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const targets = [
  ['config.schema.json', 'config.ts', 'ConfigFile'],
  ['preset.schema.json', 'preset.ts', 'PresetFile'],
  ['workflow.schema.json', 'workflow.ts', 'WorkflowFile'],
  ['test.schema.json', 'test.ts', 'TestFile'],
];

export async function generate() {
  const { compile } = await import('json-schema-to-typescript');
  const out = {};
  for (const [schemaFile, tsFile, typeName] of targets) {
    const schema = JSON.parse(readFileSync(join(root, 'schemas', schemaFile), 'utf8'));
    schema.title = typeName;
    const ts = await compile(schema, typeName, {
      cwd: join(root, 'schemas'),
      bannerComment: `/* Generated from schemas/${schemaFile} by scripts/gen-types.mjs. Do not edit. */`,
      additionalProperties: false,
      unreachableDefinitions: false,
      format: false,
      $refOptions: {
        resolve: {
          http: {
            read: (file) => readFileSync(join(root, 'schemas', file.url.split('/').pop()), 'utf8'),
          },
        },
      },
    });
    out[tsFile] = ts;
  }
  return out;
}

const check = process.argv.includes('--check');
const files = await generate();
const dir = join(root, 'src', 'generated');
let drift = false;
for (const [name, ts] of Object.entries(files)) {
  const path = join(dir, name);
  const current = existsSync(path) ? readFileSync(path, 'utf8') : '';
  if (current !== ts) {
    drift = true;
    if (!check) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(path, ts);
    } else {
      console.error(`src/generated/${name} is out of date with schemas/; run npm run build`);
    }
  }
}
if (check && drift) process.exit(1);
