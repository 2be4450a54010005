// Plain `{{a.b}}` templates skip Handlebars' per-call setup; the result must be what Handlebars
// renders for every template and context, including the ones the simple path leaves to it.
import { describe, expect, it } from 'vitest';
import Handlebars from 'handlebars';
import { BUILTIN_HELPERS, render, renderableTree, renderWithHandlebars } from '../../src/template/render.js';

const outcome = (f: () => unknown) => {
  try {
    return { value: f() };
  } catch (err) {
    return { error: (err as Error).message };
  }
};

class Thing {
  own = 'own';
  get getter() {
    return 'got';
  }
}

const contexts: Array<Record<string, unknown>> = [
  { qualys_login: 'bench00001', vars: { qualys_api_url: 'http://127.0.0.1:1' }, a: { b: { c: 'deep' } } },
  { qualys_login: '', vars: {}, a: { b: null } },
  { qualys_login: null, vars: null, a: 'text' },
  { qualys_login: undefined, a: { b: { c: 7 } } },
  { qualys_login: 42, vars: { qualys_api_url: false }, a: [1, 2] },
  { qualys_login: ['x', 'y'], a: { b: () => 'fn' } },
  { qualys_login: () => 'called', a: new Thing(), lower: 'shadowed', this: 'this', toString: 'own toString' },
  Object.assign(Object.create({ inherited: 'proto', a: { b: { c: 'proto' } } }), { qualys_login: 'x' }),
  { qualys_login: { toString: () => 'object' }, a: { b: { c: '' } } },
  Object.defineProperty({ a: { b: { c: 'x' } } }, 'qualys_login', { enumerable: true, get: () => { throw new Error('boom'); } }),
  // A parsed body as `{{response}}` sees it: renders its text, or JSON for a nested element.
  { qualys_login: renderableTree({ A: { B: 'x', C: ['1', '2'] } }, '<A><B>x</B><C>1</C><C>2</C></A>'), a: renderableTree({ b: { c: 'deep', d: { e: 'f' } } }) },
];

const templates = [
  '{{qualys_login}}',
  '{{vars.qualys_api_url}}/msp/user.php',
  'login={{qualys_login}}&x={{a.b.c}}',
  '{{a.b.c}}{{a.b.c}}',
  '{{a.b}}',
  '{{a.length}}',
  '{{a.own}}',
  '{{a.getter}}',
  '{{a.constructor}}',
  '{{__proto__}}',
  '{{a.__proto__}}',
  '{{inherited}}',
  '{{toString}}',
  '{{a.b.toString}}',
  '{{lower}}',
  '{{lower qualys_login}}',
  '{{this}}',
  '{{this.qualys_login}}',
  '{{true}}',
  '{{null}}',
  '{{{qualys_login}}}',
  '\\{{qualys_login}}',
  '{{ qualys_login }}',
  '{{qualys_login}} {',
  '{{#if qualys_login}}y{{/if}}',
  '{{missing}}',
  '{{missing.deeper.still}}',
  '{{vars.qualys_api_url}}',
  '{{a}}',
  '{{qualys_login.A}}',
  '{{qualys_login.A.C}}',
  '{{a.b.d}}',
];

describe('simple template path', () => {
  it('knows every helper Handlebars has built in (they are never plain properties)', () => {
    expect([...BUILTIN_HELPERS].sort()).toEqual(Object.keys(Handlebars.create().helpers).sort());
  });

  it('renders what Handlebars renders', () => {
    for (const ctx of contexts) {
      for (const t of templates) {
        expect(outcome(() => render(t, ctx)), `${t} over ${Object.keys(ctx).join(',')}`).toEqual(outcome(() => renderWithHandlebars(t, ctx)));
      }
    }
  });
});
