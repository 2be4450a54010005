// The one list of subcommands. A command's module is imported only when it runs, so `validate`
// never pays for SQLite or the HTTP client at start-up. Add a command by writing its module and
// listing it here with its one-line summary.
import type { Command } from '../command.js';

export interface CommandEntry {
  name: string;
  summary: string;
  load(): Promise<Command>;
}

export const commands: CommandEntry[] = [
  { name: 'validate', summary: 'check workflows and skein.yaml; point at file:line:col of every mistake', load: async () => (await import('./validate.js')).validateCommand },
  { name: 'plan', summary: 'show which records a workflow would act on and the exact requests (sends nothing)', load: async () => (await import('./plan.js')).planCommand },
  { name: 'run', summary: 'run a workflow now over records, or handle pending record events', load: async () => (await import('./run.js')).runCommand },
  { name: 'runs', summary: 'list runs and show one run with its records and steps', load: async () => (await import('./runs.js')).runsCommand },
  { name: 'records', summary: 'import, list, show, change and delete records in the state store', load: async () => (await import('./records.js')).recordsCommand },
  { name: 'daemon', summary: 'run schedules and record events continuously, with an HTTP API', load: async () => (await import('./daemon.js')).daemonCommand },
  { name: 'sandbox', summary: 'run a local Qualys API simulator (skein sandbox qualys)', load: async () => (await import('./sandbox.js')).sandboxCommand },
  { name: 'test', summary: 'run workflow tests (*.test.yaml) offline with canned responses', load: async () => (await import('./test.js')).testCommand },
  { name: 'init', summary: 'scaffold a workflows repository: skein.yaml, an example workflow, its test, CI', load: async () => (await import('./init.js')).initCommand },
];
