import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Backoff } from '../src/backoff.js';
import { CLOSE_TOO_SLOW, CLOSE_UNAUTHORIZED, LiveSocket, peekEventId, socketUrl } from '../src/socket.js';

/** Stands in for the browser WebSocket; the test plays the server through it. */
class FakeWebSocket {
  constructor(url, registry) {
    this.url = url;
    this.readyState = 0;
    this.closeCode = null;
    registry.push(this);
  }

  // Server side.
  accept() {
    this.readyState = 1;
    this.onopen?.({});
  }

  send(frame) {
    this.onmessage?.({ data: typeof frame === 'string' ? frame : JSON.stringify(frame) });
  }

  drop(code = 1006) {
    this.readyState = 3;
    this.onclose?.({ code });
  }

  // Client side. Browsers fire the close event later; synchronously is enough here.
  close(code = 1005) {
    this.closeCode = code;
    this.drop(code);
  }
}

const LOCATION = { protocol: 'http:', host: 'tracker.test' };

function harness(options = {}) {
  const sockets = [];
  const log = { statuses: [], envelopes: [], syncs: [], unauthorized: 0 };
  let online = true;
  const network = new EventTarget();
  const socket = new LiveSocket({
    path: '/ws/notifications/',
    WebSocketImpl: class extends FakeWebSocket {
      constructor(url) {
        super(url, sockets);
      }
    },
    location: LOCATION,
    backoff: new Backoff({ random: () => 0.5 }),
    isOnline: () => online,
    networkEvents: network,
    now: () => Date.now(),
    onStatus: (status) => log.statuses.push(status),
    onEnvelope: (envelope) => log.envelopes.push(envelope.id),
    onSync: (reason) => log.syncs.push(reason),
    onUnauthorized: () => {
      log.unauthorized += 1;
    },
    // Each event's frame runs at once unless a test holds the frames (see frames below).
    frames: { requestFrame: (frame) => frame() },
    ...options,
  });
  const current = () => sockets[sockets.length - 1];
  /** Accepts the newest socket and greets it like the server does. */
  const greet = (lastEventId) => {
    current().accept();
    current().send({ type: 'hello', last_event_id: lastEventId });
  };
  const event = (id, type = 'incident') => ({ id, type, op: 'updated', at: '2026-01-01T00:00:00Z', feature: { id: 1 } });
  return {
    socket,
    sockets,
    log,
    current,
    greet,
    event,
    network,
    setOnline(value) {
      online = value;
      network.dispatchEvent(new Event(value ? 'online' : 'offline'));
    },
  };
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe('socketUrl', () => {
  it('uses the page host, ws/wss by page scheme, and ?after= only when resuming', () => {
    expect(socketUrl(LOCATION, '/ws/notifications/', null)).toBe('ws://tracker.test/ws/notifications/');
    expect(socketUrl({ protocol: 'https:', host: 'x.test:8443' }, '/ws/notifications/', 42)).toBe(
      'wss://x.test:8443/ws/notifications/?after=42',
    );
    expect(socketUrl(LOCATION, '/ws/notifications/', 0)).toBe('ws://tracker.test/ws/notifications/?after=0');
  });
});

describe('LiveSocket', () => {
  it('connects, reports connected on hello and asks for the initial load once', () => {
    const t = harness();
    t.socket.start();
    expect(t.log.statuses).toEqual(['connecting']);
    expect(t.current().url).toBe('ws://tracker.test/ws/notifications/');
    t.greet(100);
    expect(t.log.statuses).toEqual(['connecting', 'connected']);
    expect(t.log.syncs).toEqual(['initial']);
    expect(t.socket.lastEventId).toBe(100);
  });

  it('applies new events in order and drops ids it has already applied', () => {
    const t = harness();
    t.socket.start();
    t.greet(100);
    for (const id of [101, 102, 102, 100, 99, 105, 103]) t.current().send(t.event(id));
    expect(t.log.envelopes).toEqual([101, 102, 105]);
    expect(t.socket.lastEventId).toBe(105);
  });

  it('reconnects after the backoff delay with ?after=<last applied id> and skips the overlap', () => {
    const t = harness();
    t.socket.start();
    t.greet(100);
    t.current().send(t.event(101));
    t.current().drop();
    expect(t.log.statuses.at(-1)).toBe('reconnecting');
    expect(t.sockets).toHaveLength(1);
    vi.advanceTimersByTime(249); // random 0.5 of the 500 ms ceiling
    expect(t.sockets).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(t.sockets).toHaveLength(2);
    expect(t.current().url).toBe('ws://tracker.test/ws/notifications/?after=101');

    t.greet(103);
    // The server replays what we missed; a duplicate of 101 is ignored.
    for (const id of [101, 102, 103]) t.current().send(t.event(id));
    expect(t.log.envelopes).toEqual([101, 102, 103]);
    expect(t.log.syncs).toEqual(['initial']);
    expect(t.log.statuses.at(-1)).toBe('connected');
  });

  it('on resync asks for a REST reload and continues from the hello id', () => {
    const t = harness();
    t.socket.start();
    t.greet(10);
    t.current().drop();
    vi.runOnlyPendingTimers();
    expect(t.current().url).toContain('?after=10');
    t.greet(5000);
    t.current().send({ type: 'resync' });
    expect(t.log.syncs).toEqual(['initial', 'resync']);
    expect(t.socket.lastEventId).toBe(5000);
    t.current().send(t.event(4999));
    t.current().send(t.event(5001));
    expect(t.log.envelopes).toEqual([5001]);
    t.current().drop();
    vi.runOnlyPendingTimers();
    expect(t.current().url).toContain('?after=5001');
  });

  it('reloads when the server log restarted below our position', () => {
    const t = harness();
    t.socket.start();
    t.greet(900);
    t.current().drop();
    vi.runOnlyPendingTimers();
    t.greet(3);
    expect(t.log.syncs).toEqual(['initial', 'reset']);
    t.current().send(t.event(4));
    expect(t.log.envelopes).toEqual([4]);
  });

  it('treats a hello without an id (empty log) as position 0', () => {
    const t = harness();
    t.socket.start();
    t.greet(null);
    expect(t.socket.lastEventId).toBe(0);
    t.current().drop();
    vi.runOnlyPendingTimers();
    expect(t.current().url).toContain('?after=0');
  });

  it('stops for good on close code 4401 and reports it', () => {
    const t = harness();
    t.socket.start();
    t.current().accept();
    t.current().drop(CLOSE_UNAUTHORIZED);
    expect(t.log.unauthorized).toBe(1);
    expect(t.log.statuses.at(-1)).toBe('offline');
    vi.advanceTimersByTime(120_000);
    t.setOnline(true);
    expect(t.sockets).toHaveLength(1);
  });

  it('after a too-slow close (4408) reconnects with backoff and resumes with ?after=<last applied id>', () => {
    const t = harness();
    t.socket.start();
    t.greet(10);
    for (const id of [11, 12]) t.current().send(t.event(id));
    t.current().drop(CLOSE_TOO_SLOW);
    expect(t.log.statuses.at(-1)).toBe('reconnecting');
    expect(t.log.unauthorized).toBe(0);
    expect(t.sockets).toHaveLength(1);
    vi.runOnlyPendingTimers();
    expect(t.sockets).toHaveLength(2);
    expect(t.current().url).toBe('ws://tracker.test/ws/notifications/?after=12');
    t.greet(14);
    for (const id of [13, 14]) t.current().send(t.event(id));
    expect(t.log.envelopes).toEqual([11, 12, 13, 14]);
    expect(t.log.syncs).toEqual(['initial']); // resumed from the log: no REST reload
    expect(t.log.statuses.at(-1)).toBe('connected');
  });

  it('goes offline after repeated failed attempts and back to connected on hello', () => {
    const t = harness({ offlineAfterFailures: 3 });
    t.socket.start();
    t.current().drop();
    expect(t.log.statuses.at(-1)).toBe('reconnecting');
    vi.runOnlyPendingTimers();
    t.current().drop();
    expect(t.log.statuses.at(-1)).toBe('reconnecting');
    vi.runOnlyPendingTimers();
    t.current().drop();
    expect(t.log.statuses.at(-1)).toBe('offline');
    vi.runOnlyPendingTimers();
    t.greet(1);
    expect(t.log.statuses).toEqual(['connecting', 'reconnecting', 'offline', 'connected']);
  });

  it('backs off further while attempts fail', () => {
    const t = harness();
    t.socket.start();
    const delays = [];
    for (let attempt = 0; attempt < 4; attempt += 1) {
      t.current().drop();
      const before = Date.now();
      const count = t.sockets.length;
      while (t.sockets.length === count) vi.advanceTimersByTime(1);
      delays.push(Date.now() - before);
    }
    expect(delays).toEqual([250, 500, 1000, 2000]);
  });

  it('resets the backoff after a stable connection but not after a short one', () => {
    const t = harness();
    t.socket.start();
    t.current().drop(); // attempt 1 used
    vi.runOnlyPendingTimers();
    t.greet(1);
    vi.advanceTimersByTime(1000); // short-lived
    t.current().drop();
    expect(t.socket.backoff.attempt).toBe(2);
    vi.runOnlyPendingTimers();
    t.greet(1);
    vi.advanceTimersByTime(60_000); // stable
    t.current().drop();
    expect(t.socket.backoff.attempt).toBe(1); // reset, then one delay drawn
  });

  it('reports offline when the browser loses the network and retries at once when it returns', () => {
    const t = harness();
    t.socket.start();
    t.greet(7);
    t.setOnline(false);
    expect(t.log.statuses.at(-1)).toBe('offline');
    expect(t.sockets[0].closeCode).not.toBeNull();
    t.setOnline(true);
    expect(t.sockets).toHaveLength(2);
    expect(t.current().url).toContain('?after=7');
    expect(t.log.statuses.at(-1)).toBe('reconnecting');
    t.greet(7);
    expect(t.log.statuses.at(-1)).toBe('connected');
    vi.runOnlyPendingTimers();
    expect(t.sockets).toHaveLength(2); // the pending retry was cancelled
  });

  it('ignores pings and malformed frames', () => {
    const t = harness();
    t.socket.start();
    t.greet(1);
    t.current().send({ type: 'ping' });
    t.current().send('not json');
    t.current().send(t.event(2));
    expect(t.log.envelopes).toEqual([2]);
    expect(t.log.statuses.at(-1)).toBe('connected');
  });

  it('stop() closes the socket and cancels reconnection', () => {
    const t = harness();
    t.socket.start();
    t.greet(1);
    t.socket.stop();
    expect(t.sockets[0].closeCode).toBe(1000);
    vi.advanceTimersByTime(120_000);
    t.setOnline(true);
    expect(t.sockets).toHaveLength(1);
  });
});

/** A harness whose frames run only when the test says so (as a busy browser paints late). */
function heldFrames(options = {}) {
  const frames = [];
  const batches = [];
  const t = harness({
    frames: { requestFrame: (frame) => frames.push(frame), budgetMs: Infinity, now: () => 0 },
    onBatch: (count) => batches.push(count),
    ...options,
  });
  const runFrame = () => frames.splice(0).forEach((frame) => frame());
  return { ...t, frames, batches, runFrame };
}

describe('LiveSocket batches', () => {
  it('applies the events received since the last frame in one batch, in order, then reports the batch', () => {
    const t = heldFrames();
    t.socket.start();
    t.greet(100);
    for (const id of [101, 102, 101, 103]) t.current().send(t.event(id));
    expect(t.log.envelopes).toEqual([]);
    expect(t.frames).toHaveLength(1); // one frame for the whole burst
    t.runFrame();
    expect(t.log.envelopes).toEqual([101, 102, 103]);
    expect(t.batches).toEqual([3]);
    expect(t.socket.lastEventId).toBe(103);
  });

  it('counts an event as seen only once applied: a reconnect before the frame resumes after the last applied', () => {
    const t = heldFrames();
    t.socket.start();
    t.greet(10);
    t.current().send(t.event(11));
    t.runFrame();
    for (const id of [12, 13]) t.current().send(t.event(id));
    expect(t.socket.lastEventId).toBe(11);
    t.current().drop();
    vi.runOnlyPendingTimers();
    expect(t.current().url).toBe('ws://tracker.test/ws/notifications/?after=11');
    t.greet(14);
    // The replay repeats the queued 12 and 13: dropped, they are applied once, from the queue.
    for (const id of [12, 13, 14]) t.current().send(t.event(id));
    t.runFrame();
    expect(t.log.envelopes).toEqual([11, 12, 13, 14]);
    expect(t.socket.lastEventId).toBe(14);
  });

  it('drops the queued events on a resync: the REST reload covers them', () => {
    const t = heldFrames();
    t.socket.start();
    t.greet(10);
    for (const id of [11, 12]) t.current().send(t.event(id));
    t.current().drop();
    vi.runOnlyPendingTimers();
    t.greet(500);
    t.current().send({ type: 'resync' });
    expect(t.socket.lastEventId).toBe(500);
    t.current().send(t.event(501));
    t.runFrame();
    expect(t.log.envelopes).toEqual([501]);
    expect(t.log.syncs).toEqual(['initial', 'resync']);
  });

  it('drops the queued events when the server log restarted below them', () => {
    const t = heldFrames();
    t.socket.start();
    t.greet(900);
    t.current().send(t.event(901));
    t.current().drop();
    vi.runOnlyPendingTimers();
    t.greet(3);
    expect(t.log.syncs).toEqual(['initial', 'reset']);
    t.current().send(t.event(4));
    t.runFrame();
    expect(t.log.envelopes).toEqual([4]);
    expect(t.socket.lastEventId).toBe(4);
  });

  it('parses queued frames only in their batch, and takes frames that do not start with the id as well', () => {
    const t = heldFrames();
    t.socket.start();
    t.greet(10);
    t.current().send('{"id":11,"type":"incident","op":"created","feature":{"id":1}}');
    t.current().send('{"type":"incident","id":12,"op":"created","feature":{"id":2}}');
    t.current().send('{"id":13,"type":"incident",broken');
    t.current().send('{"id":14,"type":"note","op":"created","feature":{"id":3}}');
    t.current().send('{"id":15,"type":"area","op":"created","feature":{"id":4}}');
    t.current().send('{"id":15,"type":"area","op":"created","feature":{"id":4}}');
    t.runFrame();
    // The malformed and the unknown frame are skipped; the position is the last event applied.
    expect(t.log.envelopes).toEqual([11, 12, 15]);
    expect(t.socket.lastEventId).toBe(15);
  });
});

describe('peekEventId', () => {
  it('reads the id an envelope frame starts with, and nothing else', () => {
    expect(peekEventId('{"id":1234,"type":"incident"}')).toBe(1234);
    expect(peekEventId('{"type":"hello","last_event_id":5}')).toBeNull();
    expect(peekEventId('{"id":"12","type":"x"}')).toBeNull();
    expect(peekEventId(' {"id":12,"type":"x"}')).toBeNull();
    expect(peekEventId('{"id":12}')).toBeNull();
    expect(peekEventId('not json')).toBeNull();
  });
});
