import { afterEach, describe, expect, it, vi } from 'vitest';
import { FrameQueue, HIDDEN_FALLBACK_MS, nextFrame } from '../src/frame-queue.js';

/**
 * A queue on a fake clock and fake frames: each applied item takes `cost(item)` ms of the clock.
 */
function harness({ budgetMs = 8, cost = () => 1, hidden = false } = {}) {
  let clock = 0;
  const frames = [];
  const applied = [];
  const batches = [];
  const queue = new FrameQueue({
    apply: (item) => {
      applied.push(item);
      clock += cost(item);
    },
    endBatch: (count) => batches.push({ count, applied: applied.length }),
    budgetMs,
    requestFrame: (frame) => frames.push(frame),
    isHidden: () => hidden,
    now: () => clock,
  });
  const runFrame = () => {
    const due = frames.splice(0);
    due.forEach((frame) => frame());
    return due.length;
  };
  return { queue, frames, applied, batches, runFrame };
}

describe('FrameQueue', () => {
  it('applies nothing until a frame, and requests one frame however many items are queued', () => {
    const t = harness();
    for (let i = 0; i < 5; i += 1) t.queue.push(i);
    expect(t.applied).toEqual([]);
    expect(t.frames).toHaveLength(1);
    expect(t.queue.length).toBe(5);
    t.runFrame();
    expect(t.applied).toEqual([0, 1, 2, 3, 4]);
    expect(t.batches).toEqual([{ count: 5, applied: 5 }]);
    expect(t.frames).toHaveLength(0);
  });

  it('stops a frame at its time budget and goes on in the next, in order, one batch end per frame', () => {
    const t = harness({ budgetMs: 8, cost: () => 3 });
    for (let i = 0; i < 10; i += 1) t.queue.push(i);
    t.runFrame();
    // 3 items reach 9 ms, past the 8 ms budget: the frame ends there.
    expect(t.applied).toEqual([0, 1, 2]);
    expect(t.batches).toEqual([{ count: 3, applied: 3 }]);
    expect(t.frames).toHaveLength(1);
    while (t.runFrame());
    expect(t.applied).toEqual([...Array(10).keys()]);
    expect(t.batches.map((batch) => batch.count)).toEqual([3, 3, 3, 1]);
    expect(t.queue.length).toBe(0);
  });

  it('applies at least one item per frame, however slow it is', () => {
    const t = harness({ budgetMs: 8, cost: () => 50 });
    t.queue.push('a');
    t.queue.push('b');
    t.runFrame();
    expect(t.applied).toEqual(['a']);
    t.runFrame();
    expect(t.applied).toEqual(['a', 'b']);
  });

  it('items pushed while a frame runs wait for the next frame if the budget is spent', () => {
    const t = harness({ budgetMs: 2, cost: () => 1 });
    t.queue.push(1);
    t.queue.push(2);
    t.runFrame();
    t.queue.push(3);
    expect(t.frames).toHaveLength(1);
    t.runFrame();
    expect(t.applied).toEqual([1, 2, 3]);
  });

  it('drains everything in one frame while the page is hidden', () => {
    const t = harness({ budgetMs: 8, cost: () => 5, hidden: true });
    for (let i = 0; i < 100; i += 1) t.queue.push(i);
    t.runFrame();
    expect(t.applied).toHaveLength(100);
    expect(t.batches).toEqual([{ count: 100, applied: 100 }]);
  });

  it('clear() drops what is not applied yet; a frame already requested then does nothing', () => {
    const t = harness({ budgetMs: 1, cost: () => 1 });
    for (let i = 0; i < 4; i += 1) t.queue.push(i);
    t.runFrame();
    t.queue.clear();
    expect(t.queue.length).toBe(0);
    t.runFrame();
    expect(t.applied).toEqual([0]);
    expect(t.batches).toHaveLength(1);
    t.queue.push(9);
    t.runFrame();
    expect(t.applied).toEqual([0, 9]);
  });

  it('an item that throws is not applied again; the batch still ends and the rest follow', () => {
    const t = harness();
    const queue = new FrameQueue({
      apply: (item) => {
        if (item === 'bad') throw new Error('bad item');
        t.applied.push(item);
      },
      endBatch: (count) => t.batches.push(count),
      requestFrame: (frame) => t.frames.push(frame),
      isHidden: () => false,
      now: () => 0,
    });
    for (const item of ['a', 'bad', 'b']) queue.push(item);
    expect(() => t.runFrame()).toThrow('bad item');
    expect(t.batches).toEqual([2]);
    t.runFrame();
    expect(t.applied).toEqual(['a', 'b']);
  });
});

describe('nextFrame', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.useRealTimers();
  });

  function browser({ hidden }) {
    vi.useFakeTimers();
    const frames = [];
    vi.stubGlobal('document', { hidden });
    vi.stubGlobal('requestAnimationFrame', (frame) => frames.push(frame));
    return frames;
  }

  it('runs at the next animation frame while the page is visible, once', () => {
    const frames = browser({ hidden: false });
    const callback = vi.fn();
    nextFrame(callback);
    expect(callback).not.toHaveBeenCalled();
    frames.forEach((frame) => frame());
    expect(callback).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(HIDDEN_FALLBACK_MS);
    expect(callback).toHaveBeenCalledTimes(1);
  });

  it('runs on a timer while the page is hidden, or once it was hidden after asking', () => {
    const frames = browser({ hidden: true });
    const hiddenCallback = vi.fn();
    nextFrame(hiddenCallback);
    expect(frames).toHaveLength(0);
    vi.advanceTimersByTime(0);
    expect(hiddenCallback).toHaveBeenCalledTimes(1);

    vi.stubGlobal('document', { hidden: false });
    const laterHidden = vi.fn();
    nextFrame(laterHidden);
    // The page is hidden now: its frame never comes, the fallback timer runs it.
    vi.advanceTimersByTime(HIDDEN_FALLBACK_MS - 1);
    expect(laterHidden).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(laterHidden).toHaveBeenCalledTimes(1);
    frames.forEach((frame) => frame());
    expect(laterHidden).toHaveBeenCalledTimes(1);
  });
});
