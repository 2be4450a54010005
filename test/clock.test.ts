import { describe, expect, it } from 'vitest';
import { isoNow } from '../src/clock.js';

describe('isoNow', () => {
  it('is the wall clock as ISO 8601 text, the same text within one millisecond', () => {
    const before = Date.now();
    const a = isoNow();
    const after = Date.now();
    expect(a).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(Date.parse(a)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(a)).toBeLessThanOrEqual(after);
    // Spin into the next millisecond: the text moves with the clock.
    const t = Date.now();
    while (Date.now() === t);
    expect(Date.parse(isoNow())).toBeGreaterThan(t);
  });
});
