// Text shown to people (terminal tables, error messages) that may carry bytes from outside.

/** Control characters (ESC starts terminal escape sequences), tab and line feed excepted. */
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/** Shows control characters as `\uXXXX` escapes so that they never reach a terminal raw. */
export function escapeControl(text: string): string {
  return text.replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
