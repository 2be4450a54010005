// Template contexts: the generated per-object makers must give what the generic copy gives.
import { describe, expect, it } from 'vitest';
import { recordContext, responseContext, sensitiveValues } from '../../src/engine/context.js';
import type { ParsedResponse } from '../../src/engine/response.js';
import { render } from '../../src/template/render.js';
import type { FieldDef } from '../../src/workflow/objects.js';

const f = (sensitive = false): FieldDef => ({ type: 'string', sensitive, builtin: false });
const declared: Record<string, FieldDef> = { username: f(), email: f(), phone: f(), password: f(true), response: f() };
const vars = { qualys_api_url: 'http://127.0.0.1:1' };

/** What a context must hold: declared fields ('' when unset), the record's own values, vars, steps. */
function expected(fields: Record<string, unknown>) {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(declared)) out[k] = fields[k] === undefined ? '' : fields[k];
  for (const [k, v] of Object.entries(fields)) out[k] = v;
  return { ...out, vars, steps: {} };
}

const parsed: ParsedResponse = {
  ok: true,
  tree: { USER_OUTPUT: { RETURN: { status: 'SUCCESS', MESSAGE: 'done' } } },
  text: '<USER_OUTPUT><RETURN status="SUCCESS"><MESSAGE>done</MESSAGE></RETURN></USER_OUTPUT>',
  outputs: { message: 'done' },
  sensitiveOutputs: new Set(),
};

describe('record and response contexts', () => {
  it('hold the same fields, in the same order, for records with only declared fields and with others', () => {
    for (const fields of [
      { username: 'ann', email: null, password: 'pw-1' },
      { username: 'bob', legacy: 'kept', phone: '' },
      { username: 'cy', vars: 'shadowed by vars' },
    ]) {
      const ctx = recordContext(fields, declared, vars, {});
      expect(Object.entries(ctx)).toEqual(Object.entries(expected(fields)));
      expect(sensitiveValues(ctx)).toEqual(fields.password ? ['pw-1'] : []);
      expect(render('{{phone}}|{{email}}|{{username}}', ctx)).toBe(`|${fields.email ?? ''}|${fields.username}`);
    }
  });

  it('give mappings the response, status, headers and outputs, whether the body is wrapped at once or on use', () => {
    for (const fields of [{ username: 'ann', response: 'stored' }, { username: 'bob', legacy: 'x' }]) {
      const base = recordContext(fields, declared, vars, {});
      for (const wantsBody of [true, false]) {
        const rctx = responseContext(base, 200, { 'x-a': '1' }, parsed, wantsBody);
        expect(render('{{response}}', rctx)).toBe(parsed.text);
        expect(render('{{response.USER_OUTPUT.RETURN.status}}/{{response_status}}/{{outputs.message}}/{{username}}', rctx)).toBe(`SUCCESS/200/done/${fields.username}`);
        expect(render('{{lookup response_headers "x-a"}}', rctx)).toBe('1');
        // `response` is a declared field here: the body takes its value, in its place.
        expect(Object.keys(rctx)).toEqual([...Object.keys(expected(fields)), 'response_status', 'response_headers', 'outputs', 'error']);
        // No failure: {{error.*}} renders empty; a failure's reason and code are there.
        expect(render('[{{error.message}}|{{error.code}}]', rctx)).toBe('[|]');
        const failed = responseContext(base, 409, {}, parsed, wantsBody, { message: 'rate limit', code: 'http-limit' });
        expect(render('{{error.message}} ({{error.code}}) {{response_status}}', failed)).toBe('rate limit (http-limit) 409');
      }
      expect(render('{{response}}', responseContext(base, undefined, {}, undefined))).toBe('');
    }
  });
});
