// Engine test harness: a copy of the example workflows, a real SQLite store in a temp dir, the
// Qualys sandbox on an ephemeral port, and an HTTP client, wired as the CLI wires them.
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpClient } from '../../src/http/index.js';
import { QualysSandbox, type SandboxOptions } from '../../src/sandbox/index.js';
import { openStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/types.js';
import { collectProjects, loadProject, projectDiagnostics, type LoadedProject } from '../../src/workflow/project.js';
import type { EngineDeps } from '../../src/engine/run.js';
import type { WorkflowFile } from '../../src/generated/workflow.js';

export const SANDBOX_ENV = { QUALYS_USERNAME: 'sandbox_mgr', QUALYS_PASSWORD: 'sandbox-password' };

export interface Harness {
  dir: string;
  project: LoadedProject;
  store: Store;
  sandbox: QualysSandbox;
  http: HttpClient;
  deps: EngineDeps;
  workflow(name: string): WorkflowFile;
  close(): Promise<void>;
}

export async function harness(opts: { sandbox?: SandboxOptions; env?: NodeJS.ProcessEnv; workflowsDir?: string; extra?: Record<string, string> } = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'skein-engine-'));
  cpSync(opts.workflowsDir ?? join(import.meta.dirname, '..', '..', 'workflows'), join(dir, 'workflows'), { recursive: true });
  for (const [name, text] of Object.entries(opts.extra ?? {})) writeFileSync(join(dir, 'workflows', name), text);
  const sandbox = new QualysSandbox({ seed: 7, ...opts.sandbox });
  const { url } = await sandbox.start({ port: 0, host: '127.0.0.1' });
  const [group] = collectProjects(['workflows'], { cwd: dir });
  const project = loadProject(group!, { cwd: dir });
  const errors = projectDiagnostics(project).filter((d) => d.severity === 'error');
  if (errors.length) throw new Error(`harness workflows invalid: ${JSON.stringify(errors)}`);
  project.config = { ...project.config, variables: { ...project.config.variables, qualys_api_url: url } };
  const store = await openStore(join(dir, 'state.db'), project.scope.objects);
  const http = new HttpClient({ retry: { backoffMs: 10, maxBackoffMs: 50 } });
  const deps: EngineDeps = { project, store, http, env: opts.env ?? SANDBOX_ENV, concurrency: 4 };
  return {
    dir,
    project,
    store,
    sandbox,
    http,
    deps,
    workflow(name) {
      const wf = project.workflows.find((w) => w.def?.name === name)?.def;
      if (!wf) throw new Error(`no workflow ${name}`);
      return wf;
    },
    async close() {
      await http.close();
      await store.close();
      await sandbox.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A realistic user record for the examples' rules. */
export function person(username: string, extra: Record<string, string> = {}): Record<string, string> {
  const [first, last] = username.split('.');
  return {
    username,
    email: `${username}@corp.test`,
    first_name: cap(first ?? 'Pat'),
    last_name: cap(last ?? 'Doe'),
    title: 'Engineer',
    phone: '+1 212 555 0100',
    address1: '500 Charles Avenue',
    city: 'New York',
    country: 'United States of America',
    state: 'New York',
    zip_code: '10004',
    status: 'Active',
    ...extra,
  };
}

const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
