// The one-pass XML fast path must agree with fast-xml-parser (validator + parser, the reference
// path) on every body it accepts, and must give up on every body the validator refuses. Checked
// on the vendor answers the sandbox and the workflow tests use, hand-made edge cases, and many
// random mutations of them.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeEntities, parseBody, parseXmlFully } from '../../src/engine/response.js';
import { parsePlainXml } from '../../src/engine/xml.js';
import { genericReturn, passwordChangeOutput, userListError, userOutputFailure, userOutputSuccess } from '../../src/sandbox/xml.js';

const root = join(import.meta.dirname, '..', '..');
const stamp = { script: 'user.php', username: 'mgr "x" & <y>', at: '2026-01-02T03:04:05Z', dtdBase: 'https://qualysapi.qualys.com' };

function reference(body: string): { ok: true; json: string } | { ok: false } {
  try {
    return { ok: true, json: JSON.stringify(parseXmlFully(body)) };
  } catch {
    return { ok: false };
  }
}

/** The fast path's answer for `body` agrees with the reference, or it gave up. */
function agrees(body: string): 'fast' | 'gave-up' {
  let fast: unknown;
  try {
    fast = parsePlainXml(body, decodeEntities);
  } catch (err) {
    // Refused (an entity XML does not define): the reference path must refuse it too.
    expect(reference(body).ok, `fast path refused (${(err as Error).message}) what the reference reads: ${JSON.stringify(body)}`).toBe(false);
    return 'gave-up';
  }
  if (fast === undefined) return 'gave-up';
  const ref = reference(body);
  expect(ref.ok, `fast path accepted what the validator refuses: ${JSON.stringify(body)}`).toBe(true);
  expect(JSON.stringify(fast), JSON.stringify(body)).toBe((ref as { json: string }).json);
  return 'fast';
}

const corpus: string[] = [
  userOutputSuccess(stamp, 'bench00001 user has been successfully deactivated.'),
  userOutputSuccess(stamp, 'created', { login: 'abc_de1', password: 'p&ss<word>' }),
  userOutputFailure(stamp, 1905, 'parameter email has invalid value'),
  passwordChangeOutput(stamp, { status: 'SUCCESS', message: 'done', changes: [{ login: 'abc_de1', password: 'p<w>' }] }),
  passwordChangeOutput(stamp, { status: 'FAILED', code: 2003, message: 'no', failures: [{ login: 'abc_de1', reason: 'r ]]> x' }] }),
  genericReturn(stamp, 'SUCCESS', undefined, 'ok & fine'),
  genericReturn(stamp, 'FAILED', 1960, 'concurrency limit'),
  userListError(999, 'Internal error'),
  ...readdirSync(join(root, 'workflows/tests/responses')).map((f) => readFileSync(join(root, 'workflows/tests/responses', f), 'utf8')),
  '<A x="1">t<B>b</B>u<B>c</B>v</A>',
  '<A><B/><C></C><D> </D></A>',
  '<A x=" s "> t </A>',
  '<A><![CDATA[ hi <x> ]]>z</A>',
  '<A><!-- c --><B>1</B></A>',
  '<A>a<!--c-->b</A>',
  '<A>1</A><B>2</B>',
  '<A>1</A>junk',
  'junk<A>1</A>',
  '<A><B></A>',
  '<A x=1/>',
  '<A x/>',
  '<A x="1" x="2"/>',
  '<A x="1"y="2"/>',
  '<A><B>1</B><B x="2">3</B></A>',
  '<!DOCTYPE A [ <!ENTITY e "x"> ]><A>&amp;&e;</A>',
  "<A x='1' y = \"2\"/>",
  '<A  >1</A >',
  '<1A/>',
  '<A B="<"/>',
  '<A>a<b</A>',
  '<A>&</A>',
  '<A>&lt;&#65;&#x42;&foo;</A>',
  '<A>&#xZZ;</A>',
  '',
  '   ',
  '<?xml version="1.0"?>',
  '<A></a>',
  '<A:b c:d="1"/>',
  '<A x="1"><x>2</x></A>',
  '<A x="a&amp;b" y="&quot;q&quot;"/>',
  '<A><__proto__>1</__proto__></A>',
  '<A constructor="1"/>',
  '<A><a>1</a><A>2</A></A>',
  '<?xml version="1.0"?><!-- x --><A/>\n<!-- after -->\n',
  '<A>a > b</A>',
  '\uFEFF<A/>',
  '<A>\u00e9t\u00e9</A>',
  '<\u00c9/>',
];

describe('plain XML fast path', () => {
  it('takes the fast path for the usual Qualys answers', () => {
    expect(agrees(userOutputSuccess(stamp, 'bench00001 user has been successfully deactivated.'))).toBe('fast');
    expect(agrees(readFileSync(join(root, 'workflows/tests/responses/deactivate-success.xml'), 'utf8'))).toBe('fast');
    expect(agrees(genericReturn(stamp, 'FAILED', 1960, 'concurrency limit'))).toBe('fast');
  });

  it('reads CDATA as literal text: entities in it are not decoded, on the fast and the full path', () => {
    const names = '<A><B><![CDATA[Smith &amp; Co]]></B><C>Ann <![CDATA[&amp;]]> Bo</C><D><![CDATA[x<y>z]]></D><E>a &amp; b</E></A>';
    const want = { A: { B: 'Smith &amp; Co', C: 'Ann &amp; Bo', D: 'x<y>z', E: 'a & b' } };
    expect(parseBody(names, 'xml')).toEqual(want);
    // A comment inside the root sends the body to fast-xml-parser.
    expect(parseBody(names.replace('<A>', '<A><!-- c -->'), 'xml')).toEqual(want);
  });

  it('agrees with the validator and parser on edge cases', () => {
    for (const body of corpus) agrees(body);
  });

  it('agrees with them on random mutations of real answers', () => {
    let seed = 42;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const pieces = ['<', '>', '/', '&', ';', '"', "'", '=', ' ', 'x', '<!--', '-->', '<![CDATA[', ']]>', '&amp;', '&#65;', '<B>', '</B>', '<B/>', '?>', '<?', '\n'];
    let fast = 0;
    let gaveUp = 0;
    for (const base of corpus) {
      for (let k = 0; k < 400; k++) {
        let b = base;
        for (let m = 1 + rnd(3); m > 0; m--) {
          const at = rnd(b.length + 1);
          const op = rnd(4);
          if (op === 0) b = b.slice(0, at) + b.slice(at + 1 + rnd(4));
          else if (op === 1) b = b.slice(0, at) + pieces[rnd(pieces.length)] + b.slice(at);
          else if (op === 2) b = b.slice(0, at) + b.slice(rnd(b.length + 1)).slice(0, rnd(20)) + b.slice(at);
          else b = b.slice(0, at) + b.slice(at).replace(/[A-Z]/, (c) => c.toLowerCase());
        }
        if (agrees(b) === 'fast') fast++;
        else gaveUp++;
      }
    }
    // Both outcomes are exercised.
    expect(fast).toBeGreaterThan(1000);
    expect(gaveUp).toBeGreaterThan(1000);
  });

  it('reports malformed XML with the validator\'s words', () => {
    expect(() => parseBody('<USER_OUTPUT><RETURN status="SUCCESS"></USER_OUTPUT>', 'xml')).toThrow(/malformed XML at line 1/);
    expect(() => parseBody('<A>unclosed', 'xml')).toThrow(/malformed XML/);
    // An answer cut short names the elements left open, not "line 1, column 1".
    expect(() => parseBody('<GENERIC_RETURN><API name="user.php"/><RETURN status="FAILED">Bad', 'xml')).toThrow(/^malformed XML: the answer ends before <GENERIC_RETURN>, <RETURN> are closed \(cut short\?\)$/);
  });
});
