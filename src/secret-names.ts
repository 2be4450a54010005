// Names that mark a value as a secret by themselves (a header `X-Api-Key`, a query `token=`):
// such values are shown masked in plans and run history, and validate refuses them written into
// YAML. And the spellings a secret value takes once encoded, to cut it out of text wherever it is.

/**
 * A name segment (split at `-`, `_` or `.`) such as authorization, token, secret, password,
 * api-key, key, signature, cookie or session.
 */
const SECRET_NAME = /(?:^|[-_.])(?:authorization|auth|token|secret|password|passwd|pwd|pw|api[-_]?key|apikey|key|signature|sig|cookie|session)(?:$|[-_.])/i;

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/**
 * Secret values shorter than this are not cut out of text: a one- to three-character value would
 * mangle every text it occurs in by chance, and no vendor accepts such a password or token anyway.
 */
export const MIN_SECRET_LENGTH = 4;

/**
 * The spellings a secret may take in a request or an echoed answer: as is, URL- and
 * form-encoded, escaped inside a JSON string and inside XML text.
 */
export function secretForms(secret: string): string[] {
  const xml = secret.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  const json = JSON.stringify(secret).slice(1, -1);
  const uri = [encodeURIComponent(secret), encodeURI(secret), new URLSearchParams({ x: secret }).toString().slice(2)];
  const forms = [
    secret,
    ...uri,
    // Percent-escapes in lower case (%2f), as some servers write them.
    ...uri.map((u) => u.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase())),
    json,
    // PHP's json_encode escapes "/", which most Basic base64 strings hold.
    json.replace(/\//g, '\\/'),
    xml,
    xml.replace(/'/g, '&apos;'),
    xml.replace(/'/g, '&#39;'),
  ];
  return [...new Set(forms.filter((f) => f !== ''))];
}

/** Replaces every one of `forms` in `text` with `by`. */
export function replaceForms(text: string, forms: readonly string[], by: string): string {
  let out = text;
  for (const f of forms) if (out.includes(f)) out = out.split(f).join(by);
  return out;
}
