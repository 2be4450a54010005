import { describe, expect, it } from 'vitest';
import { formatRecord, formatRecords, MASK } from '../../src/records/format.js';
import type { StoredRecord } from '../../src/store/types.js';
import { testObjects } from './helpers.js';

const users = testObjects().get('users')!;
const rec = (key: string, fields: StoredRecord['fields']): StoredRecord => ({
  object: 'users',
  key,
  fields: { username: key, ...fields },
  version: 1,
  created_at: '2025-01-01T00:00:00.000Z',
  updated_at: '2025-01-02T00:00:00.000Z',
});
const records = [
  rec('alice', { email: 'alice@example.com', api_token: 's3cret', risk_score: 7 }),
  rec('bob', { first_name: 'Bob', notes: 'line 1\nline 2, "quoted"', mfa_enabled: false }),
];

describe('formatRecords', () => {
  it('table: aligned columns, key first, declared order, sensitive masked', () => {
    expect(formatRecords(records, users, 'table')).toBe(
      [
        'username  email              first_name  risk_score  mfa_enabled  notes                     api_token',
        'alice     alice@example.com              7                                                  ********',
        'bob                          Bob                     false        line 1\\nline 2, "quoted"',
      ].join('\n'),
    );
  });

  it('table: control characters are shown as escapes, never sent to the terminal', () => {
    const out = formatRecords([rec('eve', { first_name: 'E\u001b[2J\u0007ve\r' })], users, 'table');
    expect(out.split('\n')[1]).toBe('eve       E\\u001b[2J\\u0007ve\\u000d');
    expect(out).not.toMatch(/[\u0000-\u0009\u000b-\u001f]/);
    expect(formatRecord(rec('eve', { first_name: '\u001b]0;x\u0007' }), users, 'table')).toContain('first_name    \\u001b]0;x\\u0007');
  });

  it('json: flat objects, masked unless reveal', () => {
    expect(JSON.parse(formatRecords(records, users, 'json'))[0]).toEqual({ username: 'alice', email: 'alice@example.com', api_token: MASK, risk_score: 7 });
    expect(JSON.parse(formatRecords(records, users, 'json', { reveal: true }))[0].api_token).toBe('s3cret');
  });

  it('csv: quotes what needs quoting', () => {
    expect(formatRecords(records, users, 'csv')).toBe(
      [
        'username,email,first_name,risk_score,mfa_enabled,notes,api_token',
        'alice,alice@example.com,,7,,,********',
        'bob,,Bob,,false,"line 1\nline 2, ""quoted""",',
      ].join('\n'),
    );
  });
});

describe('formatRecord', () => {
  it('table: one field per line plus metadata', () => {
    expect(formatRecord(records[0]!, users, 'table', { reveal: true })).toBe(
      [
        'field         value',
        'username      alice',
        'email         alice@example.com',
        'risk_score    7',
        'api_token     s3cret',
        '(version)     1',
        '(created_at)  2025-01-01T00:00:00.000Z',
        '(updated_at)  2025-01-02T00:00:00.000Z',
      ].join('\n'),
    );
  });
});
