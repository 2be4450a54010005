// Logs: JSON lines by default, readable lines on a terminal, and secrets redacted in both.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/daemon/logger.js';

function capture(tty: boolean) {
  let text = '';
  const stream = Object.assign(new Writable({ write: (c, _e, cb) => ((text += String(c)), cb()) }), { isTTY: tty });
  return { stream, text: () => text };
}

const secrets = { workflow: 'w1', run: 'r1', record: 'ada', step: 'create', authorization: 'Basic c2VjcmV0', headers: { authorization: 'Basic c2VjcmV0' }, request: { password: 'hunter2!' } };

describe('daemon logger', () => {
  it('writes JSON lines with ids and redacts credentials and passwords by configuration', async () => {
    const out = capture(false);
    createLogger({ destination: out.stream }).info(secrets, 'step failed');
    await new Promise((r) => setImmediate(r));
    const line = JSON.parse(out.text().trim());
    expect(line).toMatchObject({ msg: 'step failed', workflow: 'w1', run: 'r1', record: 'ada', step: 'create', authorization: '[REDACTED]', headers: { authorization: '[REDACTED]' }, request: { password: '[REDACTED]' } });
    expect(out.text()).not.toMatch(/c2VjcmV0|hunter2/);
  });

  it('is readable on a terminal, still redacted', async () => {
    const out = capture(true);
    createLogger({ destination: out.stream }).warn(secrets, 'step failed');
    await new Promise((r) => setImmediate(r));
    expect(out.text()).toMatch(/^\d\d:\d\d:\d\d WARN  step failed  workflow=w1 run=r1 record=ada step=create authorization=\[REDACTED\]/);
    expect(out.text()).not.toMatch(/c2VjcmV0|hunter2/);
  });
});
