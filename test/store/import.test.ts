import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatFromPath, importRecords, parseImport } from '../../src/records/import.js';
import { openTempStore } from './helpers.js';

const fixture = (name: string) => fs.readFileSync(new URL(`../fixtures/records/${name}`, import.meta.url), 'utf8');

describe('parseImport', () => {
  it('gives CSV rows their starting line, across quoted line breaks, blank lines and CRLF', () => {
    const text = 'username,notes\r\na,"one\r\ntwo"\r\n\r\nb,x\r\nc\r\n';
    const parsed = parseImport(text, 'csv');
    expect(parsed.rows).toEqual([
      { line: 2, fields: { username: 'a', notes: 'one\ntwo' } },
      { line: 5, fields: { username: 'b', notes: 'x' } },
    ]);
    expect(parsed.rejected).toEqual([{ line: 6, reason: 'row has 1 columns; the header has 2' }]);
  });

  it('skips lines of only spaces and tabs, as it skips empty ones (also before the header)', () => {
    const parsed = parseImport(' \nusername,email\nu1,a@x\n \t \nu2,b@x\n', 'csv');
    expect(parsed.rows).toEqual([
      { line: 3, fields: { username: 'u1', email: 'a@x' } },
      { line: 5, fields: { username: 'u2', email: 'b@x' } },
    ]);
    expect(parsed.rejected).toEqual([]);
    // A line with a separator is a row, not a blank line.
    expect(parseImport('username,email\n ,\n', 'csv').rows).toEqual([{ line: 2, fields: { username: ' ', email: '' } }]);
  });

  it('strips a BOM and trims header names; refuses duplicate or empty headers', () => {
    expect(parseImport('\uFEFF username , email\nx,y\n', 'csv').rows).toEqual([{ line: 2, fields: { username: 'x', email: 'y' } }]);
    expect(() => parseImport('a,a\n1,2\n', 'csv')).toThrow(/column "a" appears twice/);
    expect(() => parseImport('a,,b\n1,2,3\n', 'csv')).toThrow(/column 2 has no name/);
    expect(() => parseImport('a,b\n"unclosed,2\n', 'csv')).toThrow(/invalid CSV/);
  });

  it('names the line where an unclosed quote opens, and never quotes field text (it may be a secret)', () => {
    expect(() => parseImport('username,email\nfine,x\n"unclosed,a@b.c\nok,b\n', 'csv')).toThrow(/^line 3: invalid CSV: a quoted field opened in this row is never closed$/);
    const bad = (t: string) => { try { parseImport(t, 'csv'); } catch (e) { return (e as Error).message; } return 'parsed'; };
    expect(bad('username,pin\nx,Hunter2Secret"x"\n')).toMatch(/^line 2: invalid CSV: a quote inside the unquoted field 2;/);
    expect(bad('a,b\n"Hunter2"Secret,2\n')).toMatch(/^line 2: invalid CSV: text follows a closing quote/);
    for (const t of ['username,pin\nx,Hunter2Secret"x"\n', 'a,b\n"Hunter2"Secret,2\n']) expect(bad(t)).not.toMatch(/Hunter/);
    expect(() => parseImport('[{"pin":Hunter2Secret}]', 'json')).toThrow(/^line 1: invalid JSON: Unexpected character$/);
    const jsonl = parseImport('{"pin":"ok"}\n{"pin":Hunter2Secret}\n{"pin": "x"} Hunter\n', 'jsonl').rejected;
    expect(jsonl.map((r) => r.line)).toEqual([2, 3]);
    expect(JSON.stringify(jsonl)).not.toMatch(/Hunter/);
  });

  it('gives JSON array elements the line where each starts', () => {
    const parsed = parseImport(fixture('users.json'), 'json');
    expect(parsed.rows.map((r) => r.line)).toEqual([2, 7, 9, 13]);
    expect(parsed.rejected).toEqual([{ line: 8, reason: 'element 3 is string, not an object' }]);
    expect(parseImport('[{"a":"[,{"},\n{"b":"\\"]"}]', 'json').rows.map((r) => r.line)).toEqual([1, 2]);
    expect(parseImport('[]', 'json').rows).toEqual([]);
    for (const format of ['csv', 'json', 'jsonl'] as const) for (const text of ['', '\n']) expect(parseImport(text, format), format).toEqual({ rows: [], rejected: [] });
  });

  it('refuses a JSON file that is not an array, or not JSON, naming the line', () => {
    expect(() => parseImport('{"a": 1}', 'json')).toThrow(/array of objects/);
    expect(() => parseImport('[\n{"a": 1},\n{"a": }\n]', 'json')).toThrow(/^line 3: invalid JSON/);
  });

  it('parses JSONL line by line, rejecting bad lines only', () => {
    const parsed = parseImport(fixture('users.jsonl'), 'jsonl');
    expect(parsed.rows.map((r) => r.line)).toEqual([1, 4, 6, 7]);
    expect(parsed.rejected.map((r) => r.line)).toEqual([2, 5]);
    expect(parsed.rejected[0]!.reason).toMatch(/^invalid JSON/);
    expect(parsed.rejected[1]!.reason).toBe('line holds an array, not an object');
  });

  it('tells the format from the extension', () => {
    expect(formatFromPath('a/users.CSV')).toBe('csv');
    expect(formatFromPath('x.json')).toBe('json');
    expect(formatFromPath('x.jsonl')).toBe('jsonl');
    expect(formatFromPath('x.ndjson')).toBe('jsonl');
    expect(formatFromPath('x.txt')).toBeUndefined();
  });
});

describe('importRecords', () => {
  it('imports the CSV fixture: valid rows written, bad rows rejected with line and reason', async () => {
    const { store } = await openTempStore();
    const parsed = parseImport(fixture('users.csv'), 'csv');
    const result = await importRecords(store, 'users', parsed.rows);
    const rejected = [...parsed.rejected, ...result.rejected].sort((a, b) => a.line - b.line);
    expect({ created: result.created, updated: result.updated, unchanged: result.unchanged }).toEqual({ created: 3, updated: 0, unchanged: 0 });
    expect(rejected).toEqual([
      { line: 3, key: 'bob', reason: expect.stringContaining('field "start_date" expects an ISO 8601 date') },
      { line: 5, reason: 'missing key field "username"' },
      { line: 6, key: 'dave', reason: expect.stringContaining('field "last_name" is a single-line string') },
      { line: 8, key: 'erin', reason: expect.stringContaining('got "2024-02-30"') },
      { line: 9, reason: 'row has 3 columns; the header has 6' },
      { line: 11, key: 'alice', reason: 'duplicate key "alice" (first on line 2)' },
    ]);
    expect((await store.listRecords('users')).map((r) => r.key)).toEqual(['alice', 'carol', 'gina']);
    expect((await store.getRecord('users', 'carol'))?.fields).toEqual({
      username: 'carol', email: 'carol@example.com', first_name: 'Carol', last_name: 'Chen, Jr.', status: 'Inactive',
    });
    const events = await store.readEvents();
    expect(events.map((e) => `${e.kind}:${e.key}:${e.source}`)).toEqual(['created:alice:import', 'created:carol:import', 'created:gina:import']);
    await store.close();
  });

  it('re-import counts updated and unchanged; empty values clear unless empty is keep', async () => {
    const { store } = await openTempStore();
    const rows = (text: string) => parseImport(text, 'csv').rows;
    await importRecords(store, 'users', rows('username,email,qualys_login\na,a@x,acme_a\nb,b@x,\n'));
    const again = await importRecords(store, 'users', rows('username,email,qualys_login\na,a@x,acme_a\nb,b2@x,\nc,c@x,\n'));
    expect(again).toEqual({ created: 1, updated: 1, unchanged: 1, rejected: [] });
    const kept = await importRecords(store, 'users', rows('username,email,qualys_login\na,a@x,\n'), { empty: 'keep' });
    expect(kept.unchanged).toBe(1);
    expect((await store.getRecord('users', 'a'))?.fields.qualys_login).toBe('acme_a');
    const cleared = await importRecords(store, 'users', rows('username,email,qualys_login\na,a@x,\n'));
    expect(cleared.updated).toBe(1);
    expect((await store.getRecord('users', 'a'))?.fields.qualys_login).toBeUndefined();
    await store.close();
  });

  it('re-importing an export keeps masked sensitive values as stored; an unknown __proto__ field is refused with empty: keep', async () => {
    const { store } = await openTempStore();
    const rows = (text: string, format: 'csv' | 'json' = 'csv') => parseImport(text, format).rows;
    await importRecords(store, 'users', rows('username,email,api_token\na,a@x,tok-123\n'));
    const again = await importRecords(store, 'users', rows('username,email,api_token\na,a2@x,********\n'));
    expect(again.updated).toBe(1);
    expect((await store.getRecord('users', 'a'))?.fields).toMatchObject({ email: 'a2@x', api_token: 'tok-123' });
    // On a field that is not sensitive, eight stars are a value like any other.
    await importRecords(store, 'users', rows('username,email\na,********\n'));
    expect((await store.getRecord('users', 'a'))?.fields.email).toBe('********');
    const proto = await importRecords(store, 'users', rows('[{"username":"p","__proto__":"x"}]', 'json'), { empty: 'keep' });
    expect(proto.rejected).toHaveLength(1);
    expect(await store.getRecord('users', 'p')).toBeNull();
    await store.close();
  });

  it('imports JSON and JSONL with unknown fields and wrong types rejected', async () => {
    const { store } = await openTempStore();
    const json = parseImport(fixture('users.json'), 'json');
    const r1 = await importRecords(store, 'users', json.rows);
    expect(r1.created).toBe(2);
    expect(r1.rejected).toEqual([
      { line: 7, key: 'bob', reason: expect.stringContaining('field "start_date" expects an ISO 8601 date or date-time (e.g. 2024-05-01 or 2024-05-01T09:30:00Z); got "not a date"') },
      { line: 9, key: 'carol', reason: expect.stringMatching(/^unknown field "shoe_size" for object "users"; allowed: address1, /) },
    ]);
    const jsonl = parseImport(fixture('users.jsonl'), 'jsonl');
    const r2 = await importRecords(store, 'users', jsonl.rows);
    expect(r2).toMatchObject({ created: 0, updated: 1, unchanged: 1 });
    expect(r2.rejected).toEqual([
      { line: 4, key: 'carol', reason: 'field "first_name" expects a single-line string; got an object' },
      { line: 6, reason: 'missing key field "username"' },
    ]);
    await store.close();
  });

  it('never half-writes a row: a row with one bad field writes none of its fields', async () => {
    const { store } = await openTempStore();
    await importRecords(store, 'users', [{ line: 2, fields: { username: 'a', email: 'old@x', risk_score: 1 } }]);
    const r = await importRecords(store, 'users', [
      { line: 2, fields: { username: 'a', email: 'new@x', risk_score: 'NaN-ish', title: 'T' } },
      { line: 3, fields: { username: 'b', email: 'b@x' } },
    ]);
    expect(r).toMatchObject({ created: 1, updated: 0, rejected: [{ line: 2, key: 'a' }] });
    expect((await store.getRecord('users', 'a'))?.fields).toEqual({ username: 'a', email: 'old@x', risk_score: 1 });
    expect((await store.readEvents()).map((e) => e.key)).toEqual(['a', 'b']);
    await store.close();
  });

  it('rolls back the whole import when the database write fails', async () => {
    const { store } = await openTempStore();
    await store.setFields('users', 'a', { email: 'a@x' }, { createIfMissing: true });
    await store.close();
    await expect(importRecords(store, 'users', [{ line: 2, fields: { username: 'b' } }])).rejects.toMatchObject({ code: 'store-closed' });
  });

  it('refuses an unknown object', async () => {
    const { store } = await openTempStore();
    await expect(importRecords(store, 'planets', [])).rejects.toMatchObject({ code: 'unknown-object' });
    await store.close();
  });
});
