// Baseline for the run benchmark: the same N deactivate requests with bare undici at the same
// concurrency, no rules, templates, XML parsing or store. Prints elapsed ms and max RSS.
import { Pool } from 'undici';

const [url, nText, concText] = process.argv.slice(2);
const n = Number(nText);
const conc = Number(concText);
const origin = new URL(url).origin;
const pool = new Pool(origin, { connections: conc });
const auth = 'Basic ' + Buffer.from('sandbox_mgr:sandbox-password').toString('base64');
let next = 0;
let ok = 0;
const t0 = performance.now();
await Promise.all(Array.from({ length: conc }, async () => {
  while (next < n) {
    const i = next++;
    const res = await pool.request({
      method: 'POST',
      path: '/msp/user.php?action=deactivate',
      headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded', 'x-requested-with': 'bench' },
      body: new URLSearchParams({ login: `bench${String(i).padStart(5, '0')}` }).toString(),
    });
    const text = await res.body.text();
    if (res.statusCode === 200 && text.includes('SUCCESS')) ok++;
  }
}));
const ms = performance.now() - t0;
await pool.close();
console.log(JSON.stringify({ ms, ok, maxRssKb: process.resourceUsage().maxRSS }));
