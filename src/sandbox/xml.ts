// XML text helpers and the response envelopes shared by the V1 scripts (reference §2, §8, §12).
// Plain string building on purpose: the server renders thousands of these per second.

const TEXT_SPECIAL = /[&<>]/;
const ATTR_SPECIAL = /[&<>"]/;

/** Escapes character data (`&`, `<`, `>`). */
export function escapeText(value: string): string {
  if (!TEXT_SPECIAL.test(value)) return value;
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Escapes an attribute value written between double quotes. */
export function escapeAttr(value: string): string {
  if (!ATTR_SPECIAL.test(value)) return value;
  return escapeText(value).replace(/"/g, '&quot;');
}

/** Wraps text in CDATA; a `]]>` inside is split across two sections so the result stays well formed. */
export function cdata(value: string): string {
  return '<![CDATA[' + value.replace(/]]>/g, ']]]]><![CDATA[>') + ']]>';
}

/** The declaration used by user.php, password_change.php and GENERIC_RETURN samples. */
export const XML_DECL = '<?xml version="1.0" encoding="UTF-8" ?>';

/** Where the DOCTYPE lines point; Qualys uses its own API server (`https://<api-server>/<name>.dtd`). */
export const DEFAULT_DTD_BASE = 'https://qualysapi.qualys.com';

/** Shared arguments of the envelopes that start with an `API` element. */
export interface ApiStamp {
  /** Script name, e.g. `user.php`. */
  script: string;
  /** The calling login. */
  username: string;
  /** ISO 8601 UTC timestamp. */
  at: string;
  dtdBase: string;
}

function apiLine(stamp: ApiStamp, indent: string): string {
  return `${indent}<API name="${escapeAttr(stamp.script)}" username="${escapeAttr(stamp.username)}" at="${stamp.at}" />\n`;
}

function head(root: string, dtd: string, stamp: ApiStamp): string {
  return `${XML_DECL}\n<!DOCTYPE ${root} SYSTEM "${stamp.dtdBase}/${dtd}">\n<${root}>\n`;
}

/** `USER_OUTPUT` for user.php success (§2.1). `credentials` adds the sibling `USER` element. */
export function userOutputSuccess(
  stamp: ApiStamp,
  message: string,
  credentials?: { login: string; password: string },
): string {
  let xml =
    head('USER_OUTPUT', 'user_output.dtd', stamp) +
    apiLine(stamp, '  ') +
    '  <RETURN status="SUCCESS">\n' +
    `    <MESSAGE>${escapeText(message)}</MESSAGE>\n` +
    '  </RETURN>\n';
  if (credentials) {
    xml +=
      '  <USER>\n' +
      `    <USER_LOGIN>${escapeText(credentials.login)}</USER_LOGIN>\n` +
      `    <PASSWORD>${escapeText(credentials.password)}</PASSWORD>\n` +
      '  </USER>\n';
  }
  return xml + '</USER_OUTPUT>\n';
}

/** `USER_OUTPUT` with `RETURN status="FAILED"`; the message is CDATA as in live responses. */
export function userOutputFailure(stamp: ApiStamp, code: number, message: string): string {
  return (
    head('USER_OUTPUT', 'user_output.dtd', stamp) +
    apiLine(stamp, '  ') +
    `  <RETURN status="FAILED" number="${code}">\n` +
    `    <MESSAGE>${cdata(message)}</MESSAGE>\n` +
    '  </RETURN>\n' +
    '</USER_OUTPUT>\n'
  );
}

/** One account in a password_change.php USER_LIST. */
export interface PasswordChangeEntry {
  login: string;
  /** Present only with `email=0`. */
  password?: string;
  /** Present only in FAILURES (sandbox choice; UNCONFIRMED element). */
  reason?: string;
}

function passwordUserList(entries: readonly PasswordChangeEntry[]): string {
  let xml = '            <USER_LIST>\n';
  for (const e of entries) {
    xml += '                <USER>\n' + `                    <USER_LOGIN>${escapeText(e.login)}</USER_LOGIN>\n`;
    if (e.password !== undefined) xml += `                    <PASSWORD>${cdata(e.password)}</PASSWORD>\n`;
    if (e.reason !== undefined) xml += `                    <REASON>${cdata(e.reason)}</REASON>\n`;
    xml += '                </USER>\n';
  }
  return xml + '            </USER_LIST>\n';
}

/**
 * `PASSWORD_CHANGE_OUTPUT` (§8). `failures` renders the inferred `FAILURES` block; status is the
 * caller's choice (SUCCESS, WARNING or FAILED).
 */
export function passwordChangeOutput(
  stamp: ApiStamp,
  result: {
    status: 'SUCCESS' | 'WARNING' | 'FAILED';
    code?: number;
    message: string;
    changes?: readonly PasswordChangeEntry[];
    failures?: readonly PasswordChangeEntry[];
  },
): string {
  const number = result.code === undefined ? '' : ` number="${result.code}"`;
  const message = result.status === 'SUCCESS' ? escapeText(result.message) : cdata(result.message);
  let xml =
    head('PASSWORD_CHANGE_OUTPUT', 'password_change_output.dtd', stamp) +
    apiLine(stamp, '    ') +
    `    <RETURN status="${result.status}"${number}>\n` +
    `        <MESSAGE>${message}</MESSAGE>\n`;
  if (result.changes) {
    xml += `        <CHANGES count="${result.changes.length}">\n` + passwordUserList(result.changes) + '        </CHANGES>\n';
  }
  if (result.failures && result.failures.length > 0) {
    xml += `        <FAILURES count="${result.failures.length}">\n` + passwordUserList(result.failures) + '        </FAILURES>\n';
  }
  return xml + '    </RETURN>\n</PASSWORD_CHANGE_OUTPUT>\n';
}

/** `GENERIC_RETURN` (§2.2): auth problems, blocked calls (409), acceptEULA, internal errors. */
export function genericReturn(stamp: ApiStamp, status: 'SUCCESS' | 'FAILED', code: number | undefined, text: string): string {
  const number = code === undefined ? '' : ` number="${code}"`;
  return (
    head('GENERIC_RETURN', 'generic_return.dtd', stamp) +
    apiLine(stamp, '  ') +
    `  <RETURN status="${status}"${number}>${escapeText(text)}</RETURN>\n` +
    '</GENERIC_RETURN>\n'
  );
}

/** The user_list.php prologue, verbatim from the sample (§9): no space before `?>`, relative DTD. */
export const USER_LIST_PROLOGUE = '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE USER_LIST_OUTPUT SYSTEM "user_list_output.dtd">\n';

/** user_list.php error: `USER_LIST_OUTPUT/ERROR@number` (§9). */
export function userListError(code: number, text: string): string {
  return `${USER_LIST_PROLOGUE}<USER_LIST_OUTPUT>\n  <ERROR number="${code}">${escapeText(text)}</ERROR>\n</USER_LIST_OUTPUT>\n`;
}
