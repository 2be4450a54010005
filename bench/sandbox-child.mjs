// Runs the Qualys sandbox in its own process for benchmarks: N Active users with logins
// bench0000.., limits off. Prints the URL on stdout, then serves until killed.
import { QualysSandbox } from '../dist/sandbox/index.js';

const n = Number(process.argv[2] ?? 10000);
const sandbox = new QualysSandbox({ seed: 1 });
for (let i = 0; i < n; i++) {
  sandbox.addUser({ login: `bench${String(i).padStart(5, '0')}`, role: 'scanner', first_name: 'Bench', last_name: `User${i}`, email: `bench${i}@corp.test`, status: 'Active' });
}
const { url } = await sandbox.start({ port: 0, host: '127.0.0.1' });
process.stdout.write(url + '\n');
process.on('SIGTERM', async () => {
  const stats = sandbox.stats();
  await sandbox.stop();
  process.stderr.write(JSON.stringify({ requests: stats.requests }) + '\n');
  process.exit(0);
});
