// Runs one skein CLI command in-process and reports its wall time and peak RSS (for benchmarks).
import { main } from '../dist/cli/main.js';

const args = process.argv.slice(2);
const sink = { write: () => true };
const t0 = performance.now();
const code = await main(args, { stdout: sink, stderr: process.stderr, env: process.env, cwd: process.cwd() });
const ms = performance.now() - t0;
console.log(JSON.stringify({ ms, code, maxRssKb: process.resourceUsage().maxRSS }));
