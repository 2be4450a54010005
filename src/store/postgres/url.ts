// Hiding the password of a PostgreSQL URL in messages. Its own module, without the driver:
// SQLite runs load it (for their errors) and never load pg.

/** `postgres://user:secret@host/db` -> `postgres://user:***@host/db` (also bare `//:secret@`). */
export function redactUrl(s: string): string {
  // The password runs to the last @ before the host (a raw @ in it is common), and may also be
  // given as a query parameter.
  return s.replace(/\/\/([^:@/\s]*):[^/\s]*@/g, '//$1:***@').replace(/([?&](?:ssl)?password=)[^&#\s]*/gi, '$1***');
}
