// Hiding the password in URLs shown to people: PostgreSQL state URLs and vendor base URLs
// (`http://user:secret@host`, whose user info becomes Basic auth). No driver import: SQLite runs use it.

/** `postgres://user:secret@host/db` -> `postgres://user:***@host/db` (also bare `//:secret@`). */
export function redactUrl(s: string): string {
  // The password runs to the last @ before the host (a raw @ in it is common), and may also be
  // given as a query parameter.
  // A URL missing its scheme (`user:secret@host`, an error case) is masked too.
  return s
    .replace(/\/\/([^:@/\s]*):[^/\s]*@/g, '//$1:***@')
    .replace(/^([^:@/\s]*):[^/\s@]+@/, '$1:***@')
    .replace(/([?&](?:ssl)?password=)[^&#\s]*/gi, '$1***');
}
