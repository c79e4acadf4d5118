/**
 * FrameQueue: work items applied in order, in batches of one animation frame each. A storm of
 * thousands of live events must not freeze the page: each frame applies items only for a time
 * budget, ends the batch once (the caller redraws and re-renders then, not per item) and leaves
 * the rest to the next frame, so the browser paints and handles input in between.
 * Scheduling and the clock are injectable for tests.
 */

/** Time per frame spent applying items: half a 60 Hz frame, leaving the rest for the batch's redraw and paint. */
export const FRAME_BUDGET_MS = 8;

/**
 * A page hidden after a frame was requested gets that frame only when shown again; this timer
 * runs the callback meanwhile, so a background tab keeps applying events.
 */
export const HIDDEN_FALLBACK_MS = 1000;

/**
 * Calls `callback` once: at the browser's next animation frame while the page is visible. A
 * hidden page gets no animation frames, so there a zero-delay timer stands in (and, for a page
 * hidden while it waits, a HIDDEN_FALLBACK_MS one): the events still apply and the position
 * advances in a background tab, where isHidden() lifts the budget since nobody watches.
 *
 * @param {() => void} callback
 */
export function nextFrame(callback) {
  let called = false;
  const once = () => {
    if (called) return;
    called = true;
    callback();
  };
  if (globalThis.document?.hidden || typeof globalThis.requestAnimationFrame !== 'function') {
    setTimeout(once, 0);
  } else {
    globalThis.requestAnimationFrame(once);
    setTimeout(once, HIDDEN_FALLBACK_MS);
  }
}

const noop = () => {};

export class FrameQueue {
  /**
   * @param {object} options
   * @param {(item: any) => void} options.apply applies one item; called in push order, once per item
   * @param {(count: number) => void} [options.endBatch] called once after each frame's items
   *   (count >= 1), before the frame is painted
   * @param {number} [options.budgetMs] a frame stops taking items once this much time has passed
   *   (it always takes at least one, so the queue progresses however slow an item is)
   * @param {(callback: () => void) => void} [options.requestFrame]
   * @param {() => boolean} [options.isHidden] while true, a frame drains everything queued
   * @param {() => number} [options.now] a millisecond clock
   */
  constructor({
    apply,
    endBatch = noop,
    budgetMs = FRAME_BUDGET_MS,
    requestFrame = nextFrame,
    isHidden = () => globalThis.document?.hidden === true,
    now = () => globalThis.performance.now(),
  }) {
    Object.assign(this, { apply, endBatch, budgetMs, requestFrame, isHidden, now });
    this.items = [];
    /** Index of the next item to apply; items before it are done (compacted per frame). */
    this.head = 0;
    this.frameRequested = false;
  }

  /** @returns {number} items queued and not yet applied */
  get length() {
    return this.items.length - this.head;
  }

  /** Queues `item` behind the others; a frame to apply it is requested if none is. */
  push(item) {
    this.items.push(item);
    if (!this.frameRequested) {
      this.frameRequested = true;
      this.requestFrame(() => this.#frame());
    }
  }

  /** Drops every item not yet applied (a frame already requested then finds nothing to do). */
  clear() {
    this.items = [];
    this.head = 0;
  }

  #frame() {
    this.frameRequested = false;
    if (this.length === 0) return;
    const deadline = this.isHidden() ? Infinity : this.now() + this.budgetMs;
    let count = 0;
    try {
      do {
        // Taken off before applying: an item that throws is not applied again.
        const item = this.items[this.head];
        this.head += 1;
        count += 1;
        this.apply(item);
      } while (this.length > 0 && this.now() < deadline);
    } finally {
      this.items = this.items.slice(this.head);
      this.head = 0;
      if (this.length > 0 && !this.frameRequested) {
        this.frameRequested = true;
        this.requestFrame(() => this.#frame());
      }
      this.endBatch(count);
    }
  }
}
