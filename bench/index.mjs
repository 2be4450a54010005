// `npm run bench -- NAME`: runs one benchmark (or all). Figures are printed side by side with
// their baseline in the same run; nothing here is a test assertion.
const benches = {
  validate: () => import('./validate.mjs'),
  run: () => import('./run.mjs'),
  rules: () => import('./rules.mjs'),
  store: () => import('./store.mjs'),
  daemon: () => import('./daemon.mjs'),
  events: () => import('./events.mjs'),
  cluster: () => import('./cluster.mjs'),
  claims: () => import('./claims.mjs'),
};
const names = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const chosen = names.length ? names : Object.keys(benches);
for (const n of chosen) {
  if (!benches[n]) {
    console.error(`unknown benchmark "${n}"; benchmarks: ${Object.keys(benches).join(', ')}`);
    process.exit(2);
  }
}
for (const n of chosen) {
  const mod = await benches[n]();
  await mod.main(process.argv.slice(2));
}
