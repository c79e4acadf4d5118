import { describe, expect, it } from 'vitest';
import { Backoff, BACKOFF_DEFAULTS } from '../src/backoff.js';

/** A random source that always returns `value`, for reading the schedule's ceilings. */
const constant = (value) => () => value;

describe('Backoff', () => {
  it('doubles the ceiling from 500 ms and caps it at 30 s', () => {
    const backoff = new Backoff();
    const ceilings = Array.from({ length: 10 }, () => {
      const ceiling = backoff.ceiling();
      backoff.next();
      return ceiling;
    });
    expect(ceilings).toEqual([500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000]);
    expect(BACKOFF_DEFAULTS).toMatchObject({ baseMs: 500, capMs: 30000 });
  });

  it('draws each delay uniformly below the ceiling (full jitter)', () => {
    expect(new Backoff({ random: constant(0) }).next()).toBe(0);
    expect(new Backoff({ random: constant(0.5) }).next()).toBe(250);
    // Math.random() never returns 1, so the ceiling itself is never reached.
    expect(new Backoff({ random: constant(0.999999) }).next()).toBe(499);
  });

  it('keeps real random delays within [0, ceiling)', () => {
    const backoff = new Backoff();
    for (let attempt = 0; attempt < 50; attempt += 1) {
      const ceiling = backoff.ceiling();
      const delay = backoff.next();
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(ceiling);
      expect(Number.isInteger(delay)).toBe(true);
    }
  });

  it('never exceeds the cap, even after many attempts', () => {
    const backoff = new Backoff({ random: constant(0.999999) });
    for (let attempt = 0; attempt < 2000; attempt += 1) expect(backoff.next()).toBeLessThan(30000);
  });

  it('reset() starts the schedule over', () => {
    const backoff = new Backoff({ random: constant(0.5) });
    backoff.next();
    backoff.next();
    backoff.next();
    backoff.reset();
    expect(backoff.attempt).toBe(0);
    expect(backoff.next()).toBe(250);
  });

  it('resets only after a connection that stayed up for stableMs', () => {
    const backoff = new Backoff({ stableMs: 10000 });
    backoff.next();
    backoff.next();
    expect(backoff.connectionLasted(9999)).toBe(false);
    expect(backoff.attempt).toBe(2);
    expect(backoff.connectionLasted(10000)).toBe(true);
    expect(backoff.attempt).toBe(0);
  });
});
