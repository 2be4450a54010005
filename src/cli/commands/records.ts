// `skein records`: import, list, get, set and delete records in the state store. Thin: parses
// argv, calls the store and records/, formats, returns the exit code.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { decodeUtf8Strict } from '../../workflow/source.js';
import { join, relative, resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { SkeinError } from '../../errors.js';
import { formatFromPath, ImportParseError, importRecords, IMPORT_FORMATS, parseImport, type ImportFormat, type ParsedImport } from '../../records/import.js';
import { formatRecord, formatRecords, GET_FORMATS, LIST_FORMATS, type GetFormat, type ListFormat } from '../../records/format.js';
import { openStore } from '../../store/index.js';
import { stateLocation } from '../workspace.js';
import type { Store } from '../../store/types.js';
import type { ObjectDef } from '../../workflow/objects.js';
import { UsageError, type Command } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { println, type Io } from '../io.js';
import { loadObjectDefsForCli } from '../project-objects.js';
import { CONFIG_FILE } from '../../workflow/project.js';
import { fsReason } from '../../fs-util.js';

/** At most this many rejected rows are printed; the rest are counted. */
const MAX_REJECTIONS_SHOWN = 50;

const HELP = `Usage: skein records <subcommand> [options]

Work with the records (users and declared objects) in the state store.

Subcommands:
  import FILE [--format csv|json|jsonl] [--skip-empty]
                      upsert records by key from a CSV (header row), JSON array or JSONL file;
                      the format defaults from the extension; --skip-empty leaves stored values
                      alone where the file has an empty value (default: empty clears the field)
  list [--where FIELD=VALUE ...] [--limit N] [--format table|json|csv] [--reveal]
                      list records sorted by key; --where compares text, all must match
  get KEY [--format table|json] [--reveal]
                      show one record
  set KEY FIELD=VALUE ...
                      change fields in one step (one event); creates the record if missing;
                      FIELD= clears a field
  delete KEY          delete a record

Options for all subcommands:
  --object NAME       object to work on (default users)
  --state PATH        state store: a file or postgres:// URL (default $SKEIN_DATABASE_URL,
                      else $SKEIN_STATE, else .skein/state.db)
  --dir DIR           workflows directory whose skein.yaml declares objects (default workflows)

Sensitive fields are shown as ******** unless --reveal is given.
Exit codes: 0 ok, 1 rows rejected / record not found / invalid value, 2 bad usage.`;

type Values = Record<string, string | boolean | string[] | undefined>;

const COMMON: ParseArgsConfig['options'] = {
  object: { type: 'string' },
  state: { type: 'string' },
  dir: { type: 'string' },
};

function parse(args: string[], options: ParseArgsConfig['options']): { values: Values; positionals: string[] } {
  // parseArgs errors reach the CLI's reporter as they are: it words them and suggests flags.
  const { values, positionals } = parseArgs({ args, options: { ...COMMON, ...options }, strict: true, allowPositionals: true });
  return { values: values as Values, positionals };
}

function oneOf<T extends string>(flag: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value as T)) throw new UsageError(`--${flag} must be one of ${allowed.join(', ')}; got "${String(value)}"`);
  return value as T;
}

function positionals(subcommand: string, got: string[], names: string[], rest = false): string[] {
  if (got.length < names.length) throw new UsageError(`records ${subcommand}: missing ${names[got.length]}`);
  if (!rest && got.length > names.length) throw new UsageError(`records ${subcommand}: unexpected argument "${got[names.length]}"`);
  return got;
}

/** Splits FIELD=VALUE at the first "="; an empty value is kept (it clears the field). */
function pair(text: string, what: string): [string, string] {
  const i = text.indexOf('=');
  if (i <= 0) throw new UsageError(`${what} must look like FIELD=VALUE; got "${text}"`);
  return [text.slice(0, i), text.slice(i + 1)];
}

interface Context {
  def: ObjectDef;
  objects: Map<string, ObjectDef>;
  location: string;
  /** Where skein.yaml was looked for, and whether it is there (without it: built-ins only). */
  config: { path: string; found: boolean };
}

async function context(values: Values, io: Io): Promise<Context> {
  const dir = resolve(io.cwd, (values.dir as string | undefined) ?? 'workflows');
  const objects = await loadObjectDefsForCli(dir, { explicit: values.dir !== undefined });
  const configPath = join(dir, CONFIG_FILE);
  const config = { path: configPath, found: existsSync(configPath) };
  const name = (values.object as string | undefined) ?? 'users';
  const def = objects.get(name);
  if (!def) throw new UsageError(`unknown object "${name}"; objects: ${[...objects.keys()].sort().join(', ')}`);
  const location = stateLocation(values.state as string | undefined, io);
  return { def, objects, location, config };
}

async function withStore<T>(ctx: Context, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(ctx.location, ctx.objects);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** Read-only commands do not create a state file that does not exist yet. */
function stateMissing(ctx: Context): boolean {
  return !/^[a-z][a-z0-9+.-]*:\/\//i.test(ctx.location) && ctx.location !== ':memory:' && !existsSync(ctx.location);
}

async function runImport(args: string[], io: Io): Promise<number> {
  const { values, positionals: pos } = parse(args, { format: { type: 'string' }, 'skip-empty': { type: 'boolean' } });
  const [file] = positionals('import', pos, ['FILE']) as [string];
  const format: ImportFormat | undefined =
    values.format !== undefined ? oneOf('format', values.format, IMPORT_FORMATS, 'csv') : formatFromPath(file);
  if (!format) throw new UsageError(`cannot tell the format of "${file}" from its extension; pass --format ${IMPORT_FORMATS.join('|')}`);
  const ctx = await context(values, io);
  let bytes: Buffer;
  try {
    bytes = await readFile(resolve(io.cwd, file));
  } catch (err) {
    throw new SkeinError('unreadable-path', `cannot read ${file}: ${fsReason(err)}`, { cause: err });
  }
  // Import files are UTF-8: a Latin-1 "é" would otherwise be stored as U+FFFD, the byte lost.
  const decoded = decodeUtf8Strict(bytes);
  if (!decoded.ok) throw new SkeinError('file-encoding', `${file}:${decoded.line}:${decoded.col}: ${decoded.message}; nothing imported`);
  const text = decoded.text;
  let parsed: ParsedImport;
  try {
    parsed = parseImport(text, format);
  } catch (err) {
    if (!(err instanceof ImportParseError)) throw err;
    throw new SkeinError('import-parse', `${file}${err.line === undefined ? '' : `:${err.line}`}: ${err.reason}; nothing imported`);
  }
  const result = await withStore(ctx, (store) =>
    importRecords(store, ctx.def.name, parsed.rows, { empty: values['skip-empty'] ? 'keep' : 'clear' }),
  );
  const rejected = [...parsed.rejected, ...result.rejected].sort((a, b) => a.line - b.line);
  for (const r of rejected.slice(0, MAX_REJECTIONS_SHOWN)) {
    println(io.stderr, `${file}:${r.line}: ${r.key !== undefined ? `${ctx.def.name} "${r.key}": ` : ''}${r.reason} [rejected-row]`);
  }
  if (rejected.length > MAX_REJECTIONS_SHOWN) println(io.stderr, `... and ${rejected.length - MAX_REJECTIONS_SHOWN} more rejected rows`);
  // Run from the wrong folder, every custom field reads as unknown: say why once, not per row.
  if (!ctx.config.found && rejected.some((r) => r.reason.includes('unknown field'))) {
    println(io.stderr, `hint: there is no ${relative(io.cwd, ctx.config.path)}, so only the built-in ${ctx.def.name} fields are known; run from the project folder or pass --dir`);
  }
  println(
    io.stdout,
    `${file} -> ${ctx.def.name}: ${result.created} created, ${result.updated} updated, ${result.unchanged} unchanged, ${rejected.length} rejected`,
  );
  return rejected.length > 0 ? EXIT.FAILED : EXIT.OK;
}

async function runList(args: string[], io: Io): Promise<number> {
  const { values, positionals: pos } = parse(args, {
    where: { type: 'string', multiple: true },
    format: { type: 'string' },
    limit: { type: 'string' },
    reveal: { type: 'boolean' },
  });
  positionals('list', pos, []);
  const format = oneOf<ListFormat>('format', values.format, LIST_FORMATS, 'table');
  const where = Object.create(null) as Record<string, string>;
  for (const w of (values.where as string[] | undefined) ?? []) {
    const [f, v] = pair(w, '--where');
    where[f] = v;
  }
  let limit: number | undefined;
  if (values.limit !== undefined) {
    limit = Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit must be a positive integer; got "${String(values.limit)}"`);
  }
  const ctx = await context(values, io);
  for (const f of Object.keys(where)) {
    if (!ctx.def.fields[f]) {
      throw new UsageError(`--where: unknown field "${f}" for object "${ctx.def.name}"; allowed: ${Object.keys(ctx.def.fields).sort().join(', ')}`);
    }
  }
  const records = stateMissing(ctx) ? [] : await withStore(ctx, (store) => store.listRecords(ctx.def.name, { where, limit }));
  if (records.length === 0 && format === 'table') {
    println(io.stderr, `no ${ctx.def.name} records${Object.keys(where).length ? ' match' : ''}`);
    return EXIT.OK;
  }
  println(io.stdout, formatRecords(records, ctx.def, format, { reveal: values.reveal === true }));
  return EXIT.OK;
}

function notFound(io: Io, ctx: Context, key: string): number {
  println(io.stderr, `skein records: no ${ctx.def.name} record with key "${key}" [record-not-found]`);
  return EXIT.FAILED;
}

async function runGet(args: string[], io: Io): Promise<number> {
  const { values, positionals: pos } = parse(args, { format: { type: 'string' }, reveal: { type: 'boolean' } });
  const [key] = positionals('get', pos, ['KEY']) as [string];
  const format = oneOf<GetFormat>('format', values.format, GET_FORMATS, 'table');
  const ctx = await context(values, io);
  const record = stateMissing(ctx) ? null : await withStore(ctx, (store) => store.getRecord(ctx.def.name, key));
  if (!record) return notFound(io, ctx, key);
  println(io.stdout, formatRecord(record, ctx.def, format, { reveal: values.reveal === true }));
  return EXIT.OK;
}

async function runSet(args: string[], io: Io): Promise<number> {
  const { values, positionals: pos } = parse(args, {});
  const [key, ...pairs] = positionals('set', pos, ['KEY', 'FIELD=VALUE'], true) as [string, ...string[]];
  const patch = Object.create(null) as Record<string, string>;
  for (const p of pairs) {
    const [f, v] = pair(p, 'each change');
    if (f in patch) throw new UsageError(`field "${f}" is given twice`);
    patch[f] = v;
  }
  const ctx = await context(values, io);
  const event = await withStore(ctx, (store) => store.setFields(ctx.def.name, key, patch, { createIfMissing: true, source: 'cli' }));
  println(io.stdout, event ? `${ctx.def.name} "${key}": ${event.kind} (${event.changed.join(', ')})` : `${ctx.def.name} "${key}": unchanged`);
  return EXIT.OK;
}

async function runDelete(args: string[], io: Io): Promise<number> {
  const { values, positionals: pos } = parse(args, {});
  const [key] = positionals('delete', pos, ['KEY']) as [string];
  const ctx = await context(values, io);
  const event = stateMissing(ctx) ? null : await withStore(ctx, (store) => store.deleteRecord(ctx.def.name, key, { source: 'cli' }));
  if (!event) return notFound(io, ctx, key);
  println(io.stdout, `${ctx.def.name} "${key}": deleted`);
  return EXIT.OK;
}

const SUBCOMMANDS: Record<string, (args: string[], io: Io) => Promise<number>> = {
  import: runImport,
  list: runList,
  get: runGet,
  set: runSet,
  delete: runDelete,
};

export const recordsCommand: Command = {
  name: 'records',
  summary: 'import, list, show, change and delete records in the state store',
  help: HELP,
  async run(args, io) {
    const [sub, ...rest] = args;
    const names = Object.keys(SUBCOMMANDS).join(', ');
    if (sub === undefined) throw new UsageError(`missing subcommand; one of: ${names}`);
    const handler = SUBCOMMANDS[sub];
    if (!handler) throw new UsageError(`unknown subcommand "${sub}"; one of: ${names}`);
    return handler(rest, io);
  },
};
