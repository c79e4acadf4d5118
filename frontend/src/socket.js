/**
 * LiveSocket: the dashboard's connection to /ws/notifications/. It resumes where it left off
 * (?after=<last applied event id>), drops duplicates, reconnects with jittered backoff and
 * reports a connection status for the badge. Browser globals are injectable for tests.
 *
 * Events are applied in batches, one per animation frame (FrameQueue): a surge of thousands
 * arrives as thousands of frames, and applying each on arrival would leave the page no time to
 * paint. An event counts as seen (lastEventId, the resume position) only once it was applied.
 * Even the JSON parse waits for the batch: the browser dispatches the frames that arrived
 * together in one task, so on arrival an event frame is only queued, by the id it starts with.
 */

import { Backoff } from './backoff.js';
import { FrameQueue } from './frame-queue.js';

/** @typedef {'connecting'|'connected'|'reconnecting'|'offline'} SocketStatus */

/** Close code the server uses for an unauthenticated socket; reconnecting cannot help. */
export const CLOSE_UNAUTHORIZED = 4401;
/**
 * Close code the server uses when this client fell too far behind the live stream (it stopped
 * reading: a frozen tab, a bad network). Like a dropped connection or 4503 (server unavailable), it
 * means: reconnect with backoff and resume with ?after=<last applied id>; the server replays the rest.
 * The backoff matters here: a client that keeps falling behind must not be replayed in a tight loop.
 */
export const CLOSE_TOO_SLOW = 4408;

const ENVELOPE_TYPES = new Set(['incident', 'area', 'alert']);
const NORMAL_CLOSURE = 1000;

/**
 * @param {{protocol: string, host: string}} location page location
 * @param {string} path socket path, e.g. '/ws/notifications/'
 * @param {number|null} afterId last applied event id, or null for a fresh start
 * @returns {string} ws(s):// URL on the page's own host, with ?after= when resuming
 */
export function socketUrl(location, path, afterId) {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const query = afterId == null ? '' : `?after=${encodeURIComponent(afterId)}`;
  return `${scheme}://${location.host}${path}${query}`;
}

/**
 * @param {string} text a frame as received
 * @returns {number|null} the event id of an envelope frame, read without parsing it (the server
 *   writes "id" first: {"id":N,...}); null for any other text, which is then parsed on arrival
 */
export function peekEventId(text) {
  const match = /^\{"id":(\d+),/.exec(text);
  return match ? Number(match[1]) : null;
}

/** @returns {object|null} the envelope of a queued frame (text or parsed), null if it is none */
function envelopeOf(frame) {
  let envelope = frame;
  if (typeof frame === 'string') {
    try {
      envelope = JSON.parse(frame);
    } catch {
      return null;
    }
  }
  return ENVELOPE_TYPES.has(envelope?.type) ? envelope : null;
}

const noop = () => {};

export class LiveSocket {
  /**
   * @param {object} options
   * @param {string} options.path socket path from the page config (`ws`)
   * @param {(envelope: object) => void} [options.onEnvelope] each new event, in id order, once;
   *   called inside a batch
   * @param {(count: number) => void} [options.onBatch] after each batch of onEnvelope calls
   *   (count of them), in the same frame: the time to redraw what the batch changed
   * @param {(status: SocketStatus) => void} [options.onStatus] called on every status change
   * @param {(reason: 'initial'|'resync'|'reset') => void} [options.onSync] the client must
   *   (re)load its state over REST: on the first hello, on a server resync, or when the server's
   *   event log restarted below our position
   * @param {() => void} [options.onUnauthorized] the server closed with 4401; the socket has stopped
   * @param {typeof WebSocket} [options.WebSocketImpl]
   * @param {{protocol: string, host: string}} [options.location]
   * @param {Backoff} [options.backoff]
   * @param {() => boolean} [options.isOnline] the browser's idea of connectivity
   * @param {EventTarget|null} [options.networkEvents] source of 'online'/'offline' events
   * @param {number} [options.offlineAfterFailures] consecutive failed attempts before 'offline'
   * @param {() => number} [options.now]
   * @param {object} [options.frames] FrameQueue options for the batches (requestFrame, budgetMs, ...)
   */
  constructor({
    path,
    onEnvelope = noop,
    onBatch = noop,
    onStatus = noop,
    onSync = noop,
    onUnauthorized = noop,
    WebSocketImpl = globalThis.WebSocket,
    location = globalThis.location,
    backoff = new Backoff(),
    isOnline = () => globalThis.navigator?.onLine !== false,
    networkEvents = globalThis.window ?? null,
    offlineAfterFailures = 4,
    now = Date.now,
    frames = {},
  }) {
    Object.assign(this, { path, onEnvelope, onBatch, onStatus, onSync, onUnauthorized });
    Object.assign(this, { WebSocketImpl, location, backoff, isOnline, networkEvents });
    Object.assign(this, { offlineAfterFailures, now });

    /** Id of the last event applied (or the hello baseline); null before the first hello. */
    this.lastEventId = null;
    /** Id of the last event received: applied, or queued to be. Newer ids only are queued. */
    this.receivedId = null;
    this.pending = new FrameQueue({
      ...frames,
      apply: (frame) => {
        // A malformed frame must not take the live feed down; the next event still applies.
        const envelope = envelopeOf(frame);
        if (!envelope) return;
        this.lastEventId = envelope.id;
        this.onEnvelope(envelope);
      },
      endBatch: (count) => this.onBatch(count),
    });
    /** last_event_id of the current connection's hello; a resync resumes from it. */
    this.helloLastId = null;
    /** @type {SocketStatus|null} */
    this.status = null;
    /** The current WebSocket, or null while waiting to reconnect. */
    this.ws = null;
    this.stopped = true;
    this.synced = false;
    this.failures = 0;
    this.retryTimer = null;
    this.handleOnline = () => this.#reconnectNow();
    this.handleOffline = () => this.#dropConnection();
  }

  /** Opens the connection; does nothing if already started. */
  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.networkEvents?.addEventListener('online', this.handleOnline);
    this.networkEvents?.addEventListener('offline', this.handleOffline);
    this.#setStatus(this.synced ? 'reconnecting' : 'connecting');
    this.#connect();
  }

  /** Closes the connection and cancels any reconnect; lastEventId is kept for a later start(). */
  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.networkEvents?.removeEventListener('online', this.handleOnline);
    this.networkEvents?.removeEventListener('offline', this.handleOffline);
    const ws = this.ws;
    this.ws = null;
    ws?.close(NORMAL_CLOSURE);
  }

  #connect() {
    this.retryTimer = null;
    const ws = new this.WebSocketImpl(socketUrl(this.location, this.path, this.lastEventId));
    const attempt = { ws, openedAt: null, greeted: false };
    this.ws = ws;
    ws.onopen = () => {
      attempt.openedAt = this.now();
    };
    ws.onmessage = (event) => {
      if (ws === this.ws) this.#receive(attempt, event.data);
    };
    // An error is always followed by a close event, which does the bookkeeping.
    ws.onclose = (event) => {
      if (ws === this.ws) this.#closed(attempt, event);
    };
  }

  #receive(attempt, data) {
    const id = peekEventId(data);
    if (id !== null) {
      this.#queue(id, data);
      return;
    }
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      // One malformed frame must not take the live feed down; the next event still applies.
      return;
    }
    if (message.type === 'hello') this.#hello(attempt, message);
    else if (message.type === 'resync') this.#resync();
    else if (ENVELOPE_TYPES.has(message.type)) this.#queue(message.id, message);
    // 'ping' only keeps proxies from timing the connection out; it needs no answer.
  }

  #hello(attempt, { last_event_id: serverLastId }) {
    attempt.greeted = true;
    this.failures = 0;
    // An empty event log may report null: every future event is newer than 0.
    this.helloLastId = serverLastId ?? 0;
    this.#setStatus('connected');
    if (!this.synced) {
      this.synced = true;
      this.#restartAt(this.helloLastId, 'initial');
    } else if (this.helloLastId < this.receivedId) {
      // The server's log restarted (e.g. database restored): our position means nothing there,
      // and keeping it would drop every new event as a duplicate.
      this.#restartAt(this.helloLastId, 'reset');
    }
  }

  #resync() {
    // The server will not replay what we missed; after the REST reload we are current as of
    // this connection's hello, and it streams everything newer.
    this.#restartAt(this.helloLastId, 'resync');
  }

  /**
   * The REST reload the caller does now stands for every event up to `id`: events still queued
   * (all of them older, from an earlier connection) are dropped, not applied after it.
   */
  #restartAt(id, reason) {
    this.pending.clear();
    this.lastEventId = id;
    this.receivedId = id;
    this.onSync(reason);
  }

  /** @param {number} id @param {string|object} frame its text, or the envelope if already parsed */
  #queue(id, frame) {
    // Resuming with ?after=<last applied> overlaps with what is still queued; ids only increase.
    if (this.receivedId != null && id <= this.receivedId) return;
    this.receivedId = id;
    this.pending.push(frame);
  }

  #closed(attempt, event) {
    this.ws = null;
    if (event.code === CLOSE_UNAUTHORIZED) {
      this.stop();
      this.#setStatus('offline');
      this.onUnauthorized();
      return;
    }
    if (this.stopped) return;
    if (attempt.greeted) this.backoff.connectionLasted(this.now() - attempt.openedAt);
    else this.failures += 1;
    const offline = !this.isOnline() || this.failures >= this.offlineAfterFailures;
    this.#setStatus(offline ? 'offline' : 'reconnecting');
    this.retryTimer = setTimeout(() => this.#connect(), this.backoff.next());
  }

  /** The browser regained its network: retry at once instead of waiting out the backoff. */
  #reconnectNow() {
    if (this.stopped || this.ws) return;
    clearTimeout(this.retryTimer);
    this.backoff.reset();
    this.#setStatus('reconnecting');
    this.#connect();
  }

  /**
   * The browser lost its network. A socket can look open for minutes after that, so close it
   * now; the close handler schedules the retries and reports 'offline'.
   */
  #dropConnection() {
    if (this.stopped) return;
    this.#setStatus('offline');
    this.ws?.close();
  }

  #setStatus(status) {
    if (status === this.status) return;
    this.status = status;
    this.onStatus(status);
  }
}
