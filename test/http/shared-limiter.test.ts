// The shared limiter: several runners (here several HttpClients, each with its own slot
// connection, as separate processes would have) against one Qualys sandbox limited to 2
// concurrent calls never exceed 2 together, a limit block pauses all of them, and a runner that
// dies frees its slots at once.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpClient, Limiter } from '../../src/http/index.js';
import { SharedLimiter } from '../../src/http/shared-limiter.js';
import { parseRateLimit, QualysSandbox } from '../../src/sandbox/index.js';
import { openStore } from '../../src/store/index.js';
import type { SlotLocks, Store } from '../../src/store/types.js';
import { freshPgDatabase, type PgDatabase } from '../helpers/pg.js';
import { testObjects } from '../store/helpers.js';

let db: PgDatabase;
let store: Store;
let sandbox: QualysSandbox;
let base: string;
const open: Array<{ close(): Promise<void> }> = [];

beforeAll(async () => {
  db = await freshPgDatabase('skein_limiter');
  store = await openStore(db.url, testObjects());
  sandbox = new QualysSandbox({ seed: 3, limits: { concurrency: 2 } });
  sandbox.setLatency(15);
  ({ url: base } = await sandbox.start({ port: 0, host: '127.0.0.1' }));
});

afterAll(async () => {
  for (const o of open.splice(0)) await o.close().catch(() => undefined);
  await sandbox?.stop();
  await store?.close();
  await db?.drop();
});

async function runner(): Promise<{ http: HttpClient; slots: SlotLocks }> {
  const slots = await store.openSlotLocks!();
  const http = new HttpClient({ limiter: SharedLimiter.over(slots), retry: { attempts: 1 } });
  open.push(http, slots);
  return { http, slots };
}

const list = (http: HttpClient) =>
  http.send(
    { method: 'GET', url: `${base}/msp/user_list.php`, headers: { authorization: `Basic ${Buffer.from('sandbox_mgr:sandbox-password').toString('base64')}`, 'x-requested-with': 'skein-test' } },
    { idempotent: true, limiterKey: 'qualys:user_list.php' },
  );

describe('SharedLimiter on PostgreSQL', () => {
  it('three runners at 8 calls each stay within the vendor limit of 2 together: no 409', async () => {
    const runners = await Promise.all([runner(), runner(), runner()]);
    // Learn the vendor limit (2) first, as a runner does from its first answer.
    for (const r of runners) await list(r.http);
    const before = sandbox.stats().byScript['user_list.php']!;
    await Promise.all(runners.flatMap((r) => Array.from({ length: 8 }, async () => Promise.all([list(r.http), list(r.http)]))));
    const after = sandbox.stats().byScript['user_list.php']!;
    expect(after.requests - before.requests).toBe(48);
    expect(after.blocked409).toBe(0);
    expect(after.maxConcurrentSeen).toBe(2);
  });

  it("a limit block one runner gets pauses the key for the others: they wait instead of drawing their own 409", async () => {
    sandbox.reset();
    sandbox.setLatency(0);
    sandbox.setLimits({ concurrency: 2, rate: parseRateLimit('3/2') });
    try {
      // Someone outside skein spends the budget; runner a's call then draws the one 409 and waits it out.
      const outsider = new HttpClient({ retry: { attempts: 1 } });
      open.push(outsider);
      for (let i = 0; i < 3; i++) await outsider.send({ method: 'GET', url: `${base}/msp/user_list.php`, headers: { authorization: `Basic ${Buffer.from('sandbox_mgr:sandbox-password').toString('base64')}` } }, { idempotent: true });
      const a = await runner();
      const b = await runner();
      a.http = new HttpClient({ limiter: SharedLimiter.over(a.slots), retry: { attempts: 3, backoffMs: 10 } });
      open.push(a.http);
      const first = list(a.http);
      await expect.poll(() => store.getKv('limiter-pause:qualys:user_list.php'), { timeout: 3000 }).not.toBeNull();
      expect(sandbox.stats().byScript['user_list.php']!.blocked409).toBe(1);
      // b has seen no headers at all; without the shared pause it would send now and be blocked too.
      const started = Date.now();
      await list(b.http);
      await first;
      expect(Date.now() - started).toBeGreaterThan(300);
      expect(sandbox.stats().byScript['user_list.php']!.blocked409).toBe(1);
    } finally {
      sandbox.setLimits({ concurrency: 2 });
      sandbox.setLatency(15);
    }
  });

  it('without the shared slots the same three runners do exceed it (the test can fail)', async () => {
    sandbox.reset();
    const clients = [0, 1, 2].map(() => new HttpClient({ limiter: new Limiter(), retry: { attempts: 1 } }));
    open.push(...clients);
    for (const c of clients) await list(c);
    const results = await Promise.allSettled(clients.flatMap((c) => Array.from({ length: 8 }, () => list(c))));
    expect(results.some((r) => r.status === 'rejected')).toBe(true);
    expect(sandbox.stats().byScript['user_list.php']!.blocked409).toBeGreaterThan(0);
  });

  it("a runner that dies frees its slots at once; a waiting caller can give up through its signal", async () => {
    const a = await runner();
    const b = await runner();
    const slot = async (r: { slots: SlotLocks }, held: number[]) => (await r.slots.take('k', 2, held)).slot;
    expect(await slot(a, [])).toBe(0);
    expect(await slot(a, [0])).toBe(1);
    expect(await slot(b, [])).toBeNull();
    // Waiting for a slot: aborting rejects and leaves nothing held.
    const limiter = new SharedLimiter({ acquire: async () => () => undefined, stats: () => ({ limit: 2 }) as never, keys: () => [] }, b.slots);
    const ac = new AbortController();
    const waiting = limiter.acquire('k', ac.signal);
    setTimeout(() => ac.abort(new Error('gave up')), 50);
    await expect(waiting).rejects.toThrow('gave up');
    // Kill a's connection the way a SIGKILL would: the server drops its locks.
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'skein-slots' AND pid IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2 GROUP BY pid HAVING COUNT(*) = 2)");
    await admin.end();
    await expect.poll(() => slot(b, []), { timeout: 5000 }).toBe(0);
    expect(await slot(b, [0])).toBe(1);
    await b.slots.give('k', 0);
    await b.slots.give('k', 1);
  });
});
