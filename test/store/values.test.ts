import { describe, expect, it } from 'vitest';
import { checkPatch, coerceValue, isIsoDate } from '../../src/store/values.js';
import type { FieldDef, FieldType } from '../../src/workflow/objects.js';
import { testObjects } from './helpers.js';

const field = (type: FieldType, sensitive = false): FieldDef => ({ type, sensitive, builtin: false });

describe('coerceValue', () => {
  it.each<[FieldType, unknown, unknown]>([
    ['string', 'Alice', 'Alice'],
    ['string', 10004, '10004'],
    ['string', true, 'true'],
    ['long_text', 'line 1\nline 2', 'line 1\nline 2'],
    ['number', 42, 42],
    ['number', '3.5', 3.5],
    ['number', ' -1e3 ', -1000],
    ['boolean', true, true],
    ['boolean', 'yes', true],
    ['boolean', 'FALSE', false],
    ['boolean', '0', false],
    ['boolean', 1, true],
    ['date', '2024-05-01', '2024-05-01'],
    ['date', '2024-02-29', '2024-02-29'],
    ['date', '2024-05-01T09:30:00Z', '2024-05-01T09:30:00Z'],
    ['date', '2024-05-01T09:30:00.123+02:00', '2024-05-01T09:30:00.123+02:00'],
    ['date', '2024-05-01T09:30:00+14:00', '2024-05-01T09:30:00+14:00'],
    ['date', '2024-05-01T09:30', '2024-05-01T09:30'],
  ])('%s accepts %j as %j', (type, input, expected) => {
    expect(coerceValue('f', field(type), input)).toEqual({ ok: true, value: expected });
  });

  it.each<FieldType>(['string', 'long_text', 'number', 'boolean', 'date'])('%s: null and "" clear the field', (type) => {
    expect(coerceValue('f', field(type), null)).toEqual({ ok: true, value: null });
    expect(coerceValue('f', field(type), '')).toEqual({ ok: true, value: null });
  });

  it.each<[FieldType, unknown, string]>([
    ['string', 'two\nlines', 'field "f" is a single-line string; got a line break'],
    ['string', { a: 1 }, 'field "f" expects a single-line string; got an object'],
    ['long_text', [1], 'field "f" expects text; got a list'],
    ['number', '1,000', 'field "f" expects a number; got "1,000"'],
    ['number', '1e999', 'field "f" expects a number; got "1e999"'],
    ['number', 'abc', 'field "f" expects a number; got "abc"'],
    ['number', true, 'field "f" expects a number; got true'],
    ['boolean', 'maybe', 'field "f" expects a boolean (true/false, yes/no, 1/0); got "maybe"'],
    ['boolean', 2, 'field "f" expects a boolean (true/false, yes/no, 1/0); got 2'],
    ['date', '05/01/2024', 'field "f" expects an ISO 8601 date or date-time (e.g. 2024-05-01 or 2024-05-01T09:30:00Z); got "05/01/2024"'],
    ['date', '2023-02-29', 'got "2023-02-29"'],
    ['date', '2024-13-01', 'got "2024-13-01"'],
    ['date', '2024-05-01T25:00:00Z', 'got "2024-05-01T25:00:00Z"'],
    ['date', '2024-01-01T10:00:00+99:99', 'got "2024-01-01T10:00:00+99:99"'],
    ['date', '2024-01-01T10:00:00+05:60', 'got "2024-01-01T10:00:00+05:60"'],
    ['date', 20240501, 'got 20240501'],
  ])('%s rejects %j naming field, type and value', (type, input, reason) => {
    const r = coerceValue('f', field(type), input);
    expect(r.ok).toBe(false);
    expect((r as { reason: string }).reason).toContain(reason);
  });

  it('never echoes a sensitive value', () => {
    const r = coerceValue('api_token', field('number', true), 'hunter2');
    expect(r).toEqual({ ok: false, reason: 'field "api_token" expects a number; got a string (value hidden: sensitive field)' });
  });

  it('isIsoDate checks the calendar', () => {
    expect(isIsoDate('2000-02-29')).toBe(true);
    expect(isIsoDate('1900-02-29')).toBe(false);
    expect(isIsoDate('2024-04-31')).toBe(false);
    expect(isIsoDate('2024-4-1')).toBe(false);
  });
});

describe('checkPatch', () => {
  const users = testObjects().get('users')!;

  it('names an unknown field and lists the allowed ones, sorted', () => {
    const { problems } = checkPatch(users, { shoe_size: 42 });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^unknown field "shoe_size" for object "users"; allowed: address1, address2, api_token, city, /);
    const allowed = problems[0]!.split('allowed: ')[1]!.split(', ');
    expect(allowed).toEqual([...allowed].sort());
  });

  it('collects every problem and keeps the good values', () => {
    const { values, problems } = checkPatch(users, { email: 'a@x', risk_score: 'high', start_date: 'soon', notes: '' });
    expect(values).toEqual({ email: 'a@x', notes: null });
    expect(problems).toHaveLength(2);
  });

  it('refuses to change or clear the key field', () => {
    expect(checkPatch(users, { username: 'bob' }, 'alice').problems[0]).toContain('cannot be changed');
    expect(checkPatch(users, { username: '' }, 'alice').problems[0]).toContain('cannot be cleared');
    expect(checkPatch(users, { username: 'alice' }, 'alice').problems).toEqual([]);
  });
});
