// The wall clock as ISO 8601 text, the form every stored timestamp takes. A run stamps each record
// several times (start, step start and end, store writes) within the same few milliseconds, and
// formatting a Date costs about a microsecond: the text is formatted once per millisecond.

let lastMs = Number.NaN;
let lastText = '';

/** `new Date().toISOString()`, formatted at most once per millisecond. */
export function isoNow(): string {
  const ms = Date.now();
  if (ms !== lastMs) {
    lastMs = ms;
    lastText = new Date(ms).toISOString();
  }
  return lastText;
}
