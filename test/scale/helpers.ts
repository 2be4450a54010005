// Shared plumbing of the scale-out tests: a fresh PostgreSQL database per test file (failing
// loudly, never skipping, when PostgreSQL is not there) and child processes that are always
// reaped in afterAll, even when a test fails half-way.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import pg from 'pg';

export const root = join(import.meta.dirname, '..', '..');
export const bin = join(root, 'bin', 'skein.js');
export const ADMIN = process.env.SKEIN_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  url: string;
  name: string;
  /** A client on the test database (closed by drop). */
  client: pg.Client;
  drop(): Promise<void>;
}

/** Creates an empty database; throws (the test fails) when PostgreSQL is unreachable. */
export async function createDatabase(prefix: string): Promise<TestDatabase> {
  const admin = new pg.Client({ connectionString: ADMIN, connectionTimeoutMillis: 5000 });
  admin.on('error', () => undefined);
  try {
    await admin.connect();
  } catch (err) {
    throw new Error(`PostgreSQL is not reachable at ${ADMIN} (${(err as Error).message}); start it as .ci/run does, or set SKEIN_TEST_PG_URL`);
  }
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const u = new URL(ADMIN);
  u.pathname = `/${name}`;
  const url = u.toString();
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  return {
    url,
    name,
    client,
    async drop() {
      await client.end().catch(() => undefined);
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
      await admin.end().catch(() => undefined);
    },
  };
}

/** Children started by this test file; reaped by killAll. */
const children = new Set<ChildProcess>();

export interface Started {
  child: ChildProcess;
  /** The last lines it wrote (stdout and stderr), for failure messages. */
  logs: () => string;
}

/** Spawns `skein ARGS...`; its output is read continuously (kept in a short tail). */
export function start(args: string[], opts: SpawnOptions): Started {
  const child = spawn(process.execPath, [bin, ...args], { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return { child, logs: tail(child) };
}

export const exited = (c: ChildProcess): Promise<void> =>
  new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r())));

/** SIGKILLs every child still running and waits for them. */
export async function killAll(): Promise<void> {
  const left = [...children];
  for (const c of left) c.kill('SIGKILL');
  await Promise.all(left.map(exited));
}

/** Resolves with the first capture group of the first line matching `re`; rejects if the child exits first. */
export function firstLineMatching(child: ChildProcess, stream: 'stdout' | 'stderr', re: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    createInterface({ input: child[stream]! }).on('line', (l) => {
      const m = re.exec(l);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (c, s) => reject(new Error(`${child.spawnargs.slice(2, 4).join(' ')} exited (${c ?? s}) before printing ${re}`)));
  });
}

/** Keeps the last lines a child wrote, for failure messages. */
export function tail(child: ChildProcess, lines = 30): () => string {
  const kept: string[] = [];
  for (const s of [child.stdout, child.stderr]) {
    if (!s) continue;
    createInterface({ input: s }).on('line', (l) => {
      kept.push(l);
      if (kept.length > lines) kept.shift();
    });
  }
  return () => kept.join('\n');
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
