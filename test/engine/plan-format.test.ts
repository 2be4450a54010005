// Plan text shows what an inline request sends besides its params: its own headers and its body.
import { describe, expect, it } from 'vitest';
import { formatPlanText } from '../../src/engine/plan-format.js';
import type { Plan } from '../../src/engine/plan.js';

const plan = (request: NonNullable<Plan['records'][number]['steps'][number]['request']>): Plan => ({
  workflow: 'w',
  enabled: true,
  trigger: { on: ['manual'] },
  considered: 1,
  matched: 1,
  missing: [],
  records: [{ key: 'ada', steps: [{ step: 'ticket', idempotent: false, request }] }],
});

describe('formatPlanText', () => {
  it('shows an inline request\'s own headers and JSON body, not the ones every request carries', () => {
    const text = formatPlanText(plan({
      method: 'POST',
      url: 'https://tickets.example/api',
      params: {},
      headers: { 'x-requested-with': 'skein', 'content-type': 'application/json', 'x-team': 'iam' },
      body: '{"user":"ada"}',
    }));
    expect(text).toContain('      header x-team: "iam"');
    expect(text).toContain('      body "{\\"user\\":\\"ada\\"}"');
    expect(text).not.toContain('x-requested-with');
    expect(text).not.toContain('content-type');
  });

  it('shows form params but no body line for a form request', () => {
    const text = formatPlanText(plan({ method: 'POST', url: 'https://q.example/msp/user.php?action=edit', params: { login: 'ada1' }, headers: { 'x-requested-with': 'skein' } }));
    expect(text).toContain('      login = "ada1"');
    expect(text).not.toMatch(/body|header/);
  });
});
