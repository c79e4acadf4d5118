/**
 * Reconnect delays: exponential backoff with "full jitter" (delay drawn uniformly from
 * [0, min(cap, base * 2^attempt))), so that after a server restart the dashboards of a
 * whole control room do not all reconnect in the same instant.
 */

/** Default schedule: first retry within 500 ms, never waiting more than 30 s. */
export const BACKOFF_DEFAULTS = Object.freeze({
  baseMs: 500,
  capMs: 30_000,
  // A connection that lived this long was healthy; its failure starts a fresh schedule.
  // Shorter-lived ones keep climbing, so a server that accepts and then drops us is not hammered.
  stableMs: 10_000,
});

export class Backoff {
  /**
   * @param {object} [options]
   * @param {number} [options.baseMs] ceiling of the first delay
   * @param {number} [options.capMs] largest ceiling
   * @param {number} [options.stableMs] connection lifetime after which the schedule resets
   * @param {() => number} [options.random] source of uniform numbers in [0, 1); injectable for tests
   */
  constructor({
    baseMs = BACKOFF_DEFAULTS.baseMs,
    capMs = BACKOFF_DEFAULTS.capMs,
    stableMs = BACKOFF_DEFAULTS.stableMs,
    random = Math.random,
  } = {}) {
    this.baseMs = baseMs;
    this.capMs = capMs;
    this.stableMs = stableMs;
    this.random = random;
    this.attempt = 0;
  }

  /**
   * @returns {number} upper bound (exclusive) of the next delay, in ms: min(cap, base * 2^attempt)
   */
  ceiling() {
    return Math.min(this.capMs, this.baseMs * 2 ** this.attempt);
  }

  /**
   * Consumes one attempt.
   *
   * @returns {number} whole milliseconds to wait, 0 <= delay < ceiling() as it was before the call
   */
  next() {
    const delay = Math.floor(this.random() * this.ceiling());
    this.attempt += 1;
    return delay;
  }

  /** Starts the schedule over: the next delay is again below baseMs. */
  reset() {
    this.attempt = 0;
  }

  /**
   * Reports how long the connection that just closed had been up.
   *
   * @param {number} lifetimeMs
   * @returns {boolean} true when that counted as stable and the schedule was reset
   */
  connectionLasted(lifetimeMs) {
    if (lifetimeMs < this.stableMs) return false;
    this.reset();
    return true;
  }
}
