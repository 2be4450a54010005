// Rule evaluation benchmark: the example rules over 100,000 in-memory records (target <= 0.5 s),
// next to a hand-written JavaScript predicate doing the same tests.
import { compileRule } from '../dist/conditions/evaluate.js';
import { BUILTIN_USER_FIELDS } from '../dist/workflow/objects.js';

const N = 100_000;
const fields = { ...BUILTIN_USER_FIELDS, qualys_login: { type: 'string' }, qualys_status: { type: 'string' } };
const statuses = ['Active', 'Inactive', 'Leaver', 'Contractor'];
const records = Array.from({ length: N }, (_, i) => ({
  record: {
    username: `u${i}`, email: `u${i}@corp.test`, status: statuses[i % 4], qualys_login: i % 3 ? `q${i}` : '',
    qualys_status: i % 2 ? 'Active' : 'Inactive', department: i % 5 ? 'Sales' : 'IT',
    end_date: new Date(Date.UTC(2026, 0, 1) + (i % 700) * 86400000).toISOString().slice(0, 10),
  },
}));
const rule = {
  all: [
    { field: 'status', in: ['Inactive', 'Leaver'] },
    { field: 'qualys_login', is_not_empty: true },
    { field: 'qualys_status', equals: 'Active' },
    { any: [{ field: 'end_date', before: 'now-30d' }, { not: { field: 'email', matches: '^admin' } }] },
  ],
};
const hand = (r) => {
  const f = r.record;
  return (f.status === 'Inactive' || f.status === 'Leaver') && f.qualys_login !== '' && f.qualys_status === 'Active' &&
    (Date.parse(f.end_date) < Date.now() - 30 * 86400000 || !/^admin/.test(f.email));
};

function time(fn) {
  const t0 = performance.now();
  let n = 0;
  for (const r of records) if (fn(r)) n++;
  return { ms: performance.now() - t0, n };
}

export async function main() {
  const t0 = performance.now();
  const pred = compileRule(rule, { fields });
  const compileMs = performance.now() - t0;
  time(pred);
  time(hand);
  const ours = time(pred);
  const base = time(hand);
  console.log(`rules: ${N.toLocaleString('en')} records, deactivate-style rule tree (5 leaves, in/all/any/not, relative date, regex)`);
  console.log(`  skein compileRule + evaluate: ${ours.ms.toFixed(1)} ms (${ours.n} match; compile ${compileMs.toFixed(2)} ms) (target <= 500 ms)`);
  console.log(`  hand-written JS predicate:    ${base.ms.toFixed(1)} ms (${base.n} match)`);
  if (ours.n !== base.n) console.log('  MISMATCH: the two predicates disagree');
}
