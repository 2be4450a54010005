// Request parameters: query string and x-www-form-urlencoded body merged, the last duplicate wins,
// names are case-sensitive (reference §1.4).

/** Parameter name -> value, in first-seen order. */
export type Params = ReadonlyMap<string, string>;

/** Merges the query string and then the form body (so a body value overrides the query). */
export function parseParams(query: string, body: string | undefined): Params {
  const out = new Map<string, string>();
  if (query !== '') for (const [k, v] of new URLSearchParams(query)) out.set(k, v);
  if (body !== undefined && body !== '') for (const [k, v] of new URLSearchParams(body)) out.set(k, v);
  return out;
}

/** Whether a request body should be read as a form (also when the client sent no Content-Type). */
export function isFormBody(contentType: string | undefined): boolean {
  return contentType === undefined || contentType === '' || contentType.toLowerCase().startsWith('application/x-www-form-urlencoded');
}
