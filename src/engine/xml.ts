// A fast path for the XML the vendor usually sends: one strict pass that checks well-formedness
// and builds the same tree as fast-xml-parser with response.ts's options. It handles only the
// plain subset (elements, quoted attributes, text with entity references; the XML declaration,
// an external DOCTYPE and comments outside the root element) and gives up on anything else (CDATA,
// comments or processing instructions inside, an internal DTD subset, non-ASCII names, anything
// malformed), so that the full validator and parser decide those, with their messages.

/** Names fast-xml-parser refuses (prototype pollution) or that would clash with Object.prototype. */
const RESERVED = new Set([...Object.getOwnPropertyNames(Object.prototype), 'prototype']);

/** An ASCII XML name, [A-Za-z_][\w.:-]* (colons allowed, as namespaced names are kept whole). */
const isNameStart = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
const isNameChar = (c: number) => isNameStart(c) || (c >= 48 && c <= 57) || c === 46 || c === 58 || c === 45;
/** A well-formed entity or character reference at a position. */
const REF = /&(?:#x[0-9a-fA-F]+|#\d+|[A-Za-z_][\w.-]*);/y;
const LITERAL = `(?:"[^"<>&]*"|'[^'<>&]*')`;
/** The XML declaration: version, then maybe encoding and standalone. */
const DECL = new RegExp(`<\\?xml\\s+version\\s*=\\s*${LITERAL}(?:\\s+encoding\\s*=\\s*${LITERAL})?(?:\\s+standalone\\s*=\\s*${LITERAL})?\\s*\\?>`, 'y');
/** An external DOCTYPE (no internal subset): `<!DOCTYPE root SYSTEM "uri">` and the like. */
const DOCTYPE = /<!DOCTYPE\s+[A-Za-z_][\w.:-]*(?:\s+(?:SYSTEM\s+(?:"[^"<>]*"|'[^'<>]*')|PUBLIC\s+(?:"[^"<>]*"|'[^'<>]*')\s+(?:"[^"<>]*"|'[^'<>]*')))?\s*>/y;

interface Node {
  name: string;
  /** Child elements as [name, value] in document order. */
  children: Array<[string, unknown]>;
  attrs: Array<[string, string]> | undefined;
  text: string;
}

const GIVE_UP = Symbol('give up');

/** True when every `&` in `s` starts a well-formed reference. */
function refsOk(s: string): boolean {
  for (let i = s.indexOf('&'); i !== -1; i = s.indexOf('&', i + 1)) {
    REF.lastIndex = i;
    if (!REF.test(s)) return false;
  }
  return true;
}

/** A node's value the way fast-xml-parser shapes it: children first, then '#text', then attributes. */
function valueOf(n: Node): unknown {
  if (n.children.length === 0 && n.attrs === undefined) return n.text;
  const out: Record<string, unknown> = {};
  for (const [k, v] of n.children) {
    if (!Object.prototype.hasOwnProperty.call(out, k)) out[k] = v;
    else {
      const cur = out[k];
      if (Array.isArray(cur)) cur.push(v);
      else out[k] = [cur, v];
    }
  }
  if (n.text !== '') out['#text'] = n.text;
  if (n.attrs) {
    for (const [k, v] of n.attrs) {
      if (Object.prototype.hasOwnProperty.call(out, k)) throw GIVE_UP; // attribute named like a child
      out[k] = v;
    }
  }
  return out;
}

/**
 * Parses `body` when it is plain, well-formed XML; undefined when the full parser must decide.
 * `decode` is applied to trimmed text segments and attribute values (as the parser's processors).
 */
export function parsePlainXml(body: string, decode: (s: string) => string): unknown {
  try {
    return parse(body, decode);
  } catch (err) {
    if (err === GIVE_UP) return undefined;
    throw err;
  }
}

function parse(s: string, decode: (s: string) => string): unknown {
  const len = s.length;
  let i = 0;
  let root: [string, unknown] | undefined;
  const stack: Node[] = [];
  // Character loops rather than sticky regexes: a response has a few dozen names and gaps, and
  // a regex exec each cost more than the rest of the parse.
  const readName = (): string => {
    const start = i;
    if (!isNameStart(s.charCodeAt(i))) throw GIVE_UP;
    i++;
    while (i < len && isNameChar(s.charCodeAt(i))) i++;
    const name = s.slice(start, i);
    if (RESERVED.has(name)) throw GIVE_UP;
    return name;
  };
  const skipSpace = (): void => {
    // XML whitespace only; any other space makes the next check give up to the full parser.
    for (let c = s.charCodeAt(i); c === 32 || c === 10 || c === 9 || c === 13; c = s.charCodeAt(++i));
  };
  while (i < len) {
    const lt = s.indexOf('<', i);
    const end = lt === -1 ? len : lt;
    if (end > i) {
      const raw = s.slice(i, end);
      const t = raw.trim();
      if (t !== '') {
        // Text only inside the root element, with well-formed references.
        const top = stack[stack.length - 1];
        if (!top || !refsOk(t)) throw GIVE_UP;
        top.text += decode(t);
      }
      i = end;
      if (lt === -1) break;
    }
    const c = s.charCodeAt(i + 1);
    if (c === 63 /* ? */) {
      // Only the XML declaration, at the very start; other processing instructions give up.
      DECL.lastIndex = i;
      if (i !== 0 || !DECL.test(s)) throw GIVE_UP;
      i = DECL.lastIndex;
      continue;
    }
    if (c === 33 /* ! */) {
      if (stack.length) throw GIVE_UP;
      if (s.startsWith('<!--', i)) {
        const close = s.indexOf('-->', i + 4);
        if (close === -1) throw GIVE_UP;
        i = close + 3;
        continue;
      }
      if (s.startsWith('<!DOCTYPE', i) && root === undefined) {
        DOCTYPE.lastIndex = i;
        if (!DOCTYPE.test(s)) throw GIVE_UP;
        i = DOCTYPE.lastIndex;
        continue;
      }
      throw GIVE_UP;
    }
    if (c === 47 /* / */) {
      i += 2;
      const name = readName();
      skipSpace();
      if (s.charCodeAt(i) !== 62 /* > */) throw GIVE_UP;
      i++;
      const node = stack.pop();
      if (!node || node.name !== name) throw GIVE_UP;
      const value = valueOf(node);
      if (stack.length) stack[stack.length - 1]!.children.push([name, value]);
      else root = [name, value];
      continue;
    }
    // Start tag: one root element only.
    if (!stack.length && root !== undefined) throw GIVE_UP;
    i++;
    const name = readName();
    let attrs: Array<[string, string]> | undefined;
    for (;;) {
      const before = i;
      skipSpace();
      const ch = s.charCodeAt(i);
      if (ch === 62 /* > */) {
        i++;
        stack.push({ name, children: [], attrs, text: '' });
        break;
      }
      if (ch === 47 /* / */) {
        if (s.charCodeAt(i + 1) !== 62) throw GIVE_UP;
        i += 2;
        const value = valueOf({ name, children: [], attrs, text: '' });
        if (stack.length) stack[stack.length - 1]!.children.push([name, value]);
        else root = [name, value];
        break;
      }
      // An attribute: whitespace before it, name="value" or name='value'.
      if (i === before) throw GIVE_UP;
      const attr = readName();
      skipSpace();
      if (s.charCodeAt(i) !== 61 /* = */) throw GIVE_UP;
      i++;
      skipSpace();
      const q = s[i];
      if (q !== '"' && q !== "'") throw GIVE_UP;
      const close = s.indexOf(q, i + 1);
      if (close === -1) throw GIVE_UP;
      const raw = s.slice(i + 1, close);
      if (raw.includes('<') || !refsOk(raw)) throw GIVE_UP;
      i = close + 1;
      attrs ??= [];
      if (attrs.some(([k]) => k === attr)) throw GIVE_UP;
      attrs.push([attr, decode(raw.trim())]);
    }
  }
  if (stack.length || root === undefined) throw GIVE_UP;
  return { [root[0]]: root[1] };
}
