// Documented edge semantics of helpers, rules and redaction (docs/workflow-format.md), checked
// on the functions the engine calls.
import { describe, expect, it } from 'vitest';
import { compileRule } from '../../src/conditions/evaluate.js';
import { readResponse } from '../../src/engine/response.js';
import { render, renderableTree } from '../../src/template/render.js';
import { buildObjectDefs } from '../../src/workflow/objects.js';

describe('date helper', () => {
  it('formats ISO dates and "now"; anything else renders empty instead of a guess', () => {
    expect(render('{{date d "YYYY-MM-DD"}}', { d: '2026-02-28T10:00:00Z' })).toBe('2026-02-28');
    expect(render('{{date "2024-02-29"}}', {})).toBe('2024-02-29T00:00:00.000Z');
    expect(render('{{date "now" "YYYY"}}', {})).toBe(String(new Date().getUTCFullYear()));
    for (const bad of ['42', 'Ada 5', '2026-02-30', '2025-02-29', '2026-13-01', 'yesterday', ''])
      expect(render('{{date d}}', { d: bad }), bad).toBe('');
    expect(render('{{date d}}', { d: 42 })).toBe('');
  });
});

describe('JSON null in an answer', () => {
  it('renders "" as text and null through {{json}}', () => {
    const r = readResponse({ response: { format: 'json' } } as never, 200, '{"nul":null,"n":1}');
    const ctx = { response: renderableTree(r.tree, r.text) };
    expect(render('[{{response.nul}}]', ctx)).toBe('[]');
    expect(render('{{json response.nul}},{{json response.n}}', ctx)).toBe('null,1');
    expect(render('{{default response.nul "x"}}', ctx)).toBe('x');
  });
});

describe('urlencode helper', () => {
  it('encodes a value for a URL path segment, / ? # & and non-ASCII included', () => {
    expect(render('/users/{{urlencode t}}', { t: 'Head of R&D/Ops? #1 é' })).toBe('/users/Head%20of%20R%26D%2FOps%3F%20%231%20%C3%A9');
    expect(render('{{urlencode missing}}', {})).toBe('');
  });
});

describe('rules', () => {
  const fields = buildObjectDefs({ users: { fields: { hired: { type: 'date' } } } }).get('users')!.fields;
  it('changed_to is false on a deleted event, even for ""', () => {
    const p = compileRule({ field: 'status', changed_to: '' }, { fields });
    expect(p({ record: {}, event: { kind: 'deleted', before: { status: 'Active' }, after: null } })).toBe(false);
    expect(p({ record: {}, event: { kind: 'updated', before: { status: 'Active' }, after: { status: '' } } })).toBe(true);
  });
  it('"" means no value for every field type: equals "" matches only empty ones, not_equals "" only set ones', () => {
    const typed = buildObjectDefs({ users: { fields: { score: { type: 'number' }, active: { type: 'boolean' }, hired: { type: 'date' } } } }).get('users')!.fields;
    const set = { score: 0, active: false, hired: '2026-01-02', title: 'x' };
    for (const field of ['score', 'active', 'hired', 'title']) {
      const eq = compileRule({ field, equals: '' }, { fields: typed });
      const ne = compileRule({ field, not_equals: '' }, { fields: typed });
      for (const empty of [{}, { [field]: '' }, { [field]: null }]) {
        expect(eq({ record: empty }), `${field} equals "" on ${JSON.stringify(empty)}`).toBe(true);
        expect(ne({ record: empty }), field).toBe(false);
      }
      expect(eq({ record: set }), field).toBe(false);
      expect(ne({ record: set }), field).toBe(true);
    }
  });
  it('a record date that is not a calendar day never compares', () => {
    const p = compileRule({ field: 'hired', before: '2027-01-01' }, { fields });
    expect(p({ record: { hired: '2026-03-02' } })).toBe(true);
    expect(p({ record: { hired: '2026-02-30' } })).toBe(false);
  });
});

describe('redact', () => {
  it('replaces JSON values of every kind, not only strings', () => {
    const body = '{"n": 5, "secret":"s3cr3t", "b":true, "z":null, "keep": 7}';
    const r = readResponse({ response: { format: 'json', redact: ['n', 'secret', 'b', 'z'] } }, 200, body);
    expect(JSON.parse(r.text)).toEqual({ n: '[REDACTED]', secret: '[REDACTED]', b: '[REDACTED]', z: '[REDACTED]', keep: 7 });
    expect(r.tree).toEqual({ n: '[REDACTED]', secret: '[REDACTED]', b: '[REDACTED]', z: '[REDACTED]', keep: 7 });
  });
});

describe('redact on a body cut short', () => {
  it('hides everything after an opening tag that never closes, and an unterminated JSON string', () => {
    const cut = '<USER_LIST><USER><PASSWORD>done1!</PASSWORD></USER><USER><PASSWORD><![CDATA[c2udMo5*]]></PASSW';
    const r = readResponse({ response: { format: 'xml', redact: ['PASSWORD'] } }, 200, cut);
    expect(r.text).toBe('<USER_LIST><USER><PASSWORD>[REDACTED]</PASSWORD></USER><USER><PASSWORD>[REDACTED]');
    expect(r.parseError).toBeDefined();
    const json = readResponse({ response: { format: 'json', redact: ['password'] } }, 200, '{"login":"a","password":"s3cr');
    expect(json.text).toBe('{"login":"a","password":"[REDACTED]"');
  });
});

describe('render failures', () => {
  it('a template Handlebars cannot render fails with template-render naming it, never a half-filled text', () => {
    expect(() => render('a {{#with}}x{{/with}} b', {})).toThrow(/^template "a \{\{#with\}\}x\{\{\/with\}\} b" failed: #with requires exactly one argument/);
  });
});
