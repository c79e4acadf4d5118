/**
 * The dashboard's client-side store: incidents, areas and active alerts keyed by id, plus the
 * rules for merging REST snapshots and live event envelopes into it. Pure (no DOM, no Leaflet):
 * every mutation returns the list of changes so the map and panels can update just those items.
 *
 * Alerts: the store holds the active ones (alertState, as the API's ?state=active: neither
 * cleared nor acknowledged), and only a bounded newest window of them; `alertTotal` is how many
 * the server has, from the last alerts page's count adjusted by live events (see loadAlertPage).
 *
 * Merge rules, which make the result independent of whether a REST snapshot or a live event
 * arrives first:
 *  - A deleted id, or an alert that left the active state (acknowledged or cleared, both final),
 *    is remembered and never re-added: ids are not reused, and a snapshot taken before the
 *    change may still contain the object.
 *  - A feature only replaces a stored one with a strictly newer `updated_at` (to the
 *    microsecond), so an older snapshot never overwrites a newer pushed version.
 *  - A replacing snapshot keeps items that live events touched after the snapshot was requested.
 */

/**
 * @typedef {'incident'|'area'|'alert'} Kind
 *
 * @typedef {object} Alert alert, in the REST shape (pushed alerts are normalised to it)
 * @property {number} id
 * @property {number} incident incident id
 * @property {number} area area id
 * @property {string} area_name
 * @property {string} incident_name
 * @property {string} severity
 * @property {string} created_at
 * @property {string|null} acknowledged_at
 * @property {string|null} acknowledged_by
 * @property {string|null} cleared_at
 *
 * @typedef {'active'|'acknowledged'|'cleared'} AlertState
 *
 * @typedef {object} Change what one operation did to the store
 * @property {Kind} kind
 * @property {'created'|'updated'|'deleted'} op what happened to the store entry: 'deleted' means it
 *   left the store (deleted, no longer active, or no longer in a replacing snapshot)
 * @property {number} id
 * @property {object} item the stored Feature or Alert (for 'deleted': the version it had)
 */

/**
 * @returns {object} an empty store; read it through the maps `incidents`, `areas`, `alerts`
 *   (active alerts only), each keyed by id, and `alertTotal` (null until an alerts page loaded)
 */
export function createState() {
  return {
    incidents: new Map(),
    areas: new Map(),
    alerts: new Map(),
    // Ids that were deleted (or, for alerts, left the active state); see the merge rules above.
    gone: { incident: new Set(), area: new Set(), alert: new Set() },
    // Per kind, id -> the `version` at which a live event last touched the item.
    touched: { incident: new Map(), area: new Map(), alert: new Map() },
    // Counts applied envelopes; a snapshot records it when requested (see snapshotVersion).
    version: 0,
    // Active alerts on the server: null until the first alerts page answers (the panel says
    // "loading", never "none"), then its count adjusted by live events.
    alertTotal: null,
  };
}

/**
 * The one definition of an alert's state, the same as the API's `?state=`.
 *
 * @param {{acknowledged_at?: string|null, cleared_at?: string|null}} alert REST or pushed alert
 * @returns {AlertState} 'cleared' once cleared (acknowledged or not), else 'acknowledged' once
 *   acknowledged, else 'active'
 */
export function alertState(alert) {
  if (alert.cleared_at) return 'cleared';
  return alert.acknowledged_at ? 'acknowledged' : 'active';
}

function addToAlertTotal(state, delta) {
  if (state.alertTotal !== null) state.alertTotal = Math.max(0, state.alertTotal + delta);
}

const COLLECTION = { incident: 'incidents', area: 'areas', alert: 'alerts' };

function itemsOf(state, kind) {
  return state[COLLECTION[kind]];
}

/**
 * @param {object} state
 * @returns {number} token to pass as `since` to loadItems for a snapshot requested now
 */
export function snapshotVersion(state) {
  return state.version;
}

/**
 * @param {string} text an ISO 8601 time, as the server writes it (up to 6 fractional digits)
 * @returns {number} microseconds since the epoch (NaN if unreadable). Date.parse stops at
 *   milliseconds, and two saves of one feature can be less than a millisecond apart.
 */
export function timeMicros(text) {
  const fraction = /\.(\d+)/.exec(text)?.[1] ?? '';
  return Date.parse(text) * 1000 + Number(fraction.padEnd(6, '0').slice(3, 6));
}

/** Features carry updated_at; a stored alert is only refreshed from its incident and area. */
function isFresher(kind, incoming, stored) {
  if (kind === 'alert') return false;
  const incomingTime = timeMicros(incoming.properties.updated_at);
  const storedTime = timeMicros(stored.properties.updated_at);
  if (Number.isNaN(incomingTime) || Number.isNaN(storedTime)) return true;
  return incomingTime > storedTime;
}

/** @returns {Change|null} */
function upsert(state, kind, item) {
  if (state.gone[kind].has(item.id)) return null;
  const items = itemsOf(state, kind);
  const stored = items.get(item.id);
  if (stored && !isFresher(kind, item, stored)) return null;
  items.set(item.id, item);
  return { kind, op: stored ? 'updated' : 'created', id: item.id, item };
}

/** @returns {Change} removal of a stored item, without remembering its id as gone */
function drop(state, kind, id) {
  const items = itemsOf(state, kind);
  const item = items.get(id);
  items.delete(id);
  state.touched[kind].delete(id);
  return { kind, op: 'deleted', id, item };
}

/**
 * Removes an object that no longer exists, or an alert that is no longer active, and remembers
 * its id so no snapshot brings it back. Deleting an incident or area also removes its active
 * alerts: the database cascades them away without an event of their own.
 *
 * @param {object} state
 * @param {Kind} kind
 * @param {number} id
 * @returns {Change[]} 'deleted' changes; empty when nothing was stored under that id
 */
export function removeItem(state, kind, id) {
  state.gone[kind].add(id);
  const changes = itemsOf(state, kind).has(id) ? [drop(state, kind, id)] : [];
  if (kind === 'alert') addToAlertTotal(state, -changes.length);
  // Active alerts are loaded regardless of the map view, so cascade even for an unloaded incident.
  if (kind !== 'alert') {
    for (const alert of state.alerts.values()) {
      if (alert[kind] === id) changes.push(...removeItem(state, 'alert', alert.id));
    }
  }
  return changes;
}

/**
 * Merges a REST snapshot into the store.
 *
 * @param {object} state
 * @param {Kind} kind
 * @param {object[]} items Features (incident, area) or Alerts
 * @param {object} [options]
 * @param {boolean} [options.replace] the snapshot is complete: drop stored items missing from it,
 *   except those live events touched after `since`
 * @param {number} [options.since] snapshotVersion() taken when the snapshot was requested
 * @returns {Change[]} one change per item created, updated or dropped
 */
export function loadItems(state, kind, items, { replace = false, since = state.version } = {}) {
  const changes = [];
  for (const item of items) {
    const change = kind === 'alert' && alertState(item) !== 'active' ? null : upsert(state, kind, item);
    if (change) changes.push(change);
  }
  if (replace) {
    const inSnapshot = new Set(items.map((item) => item.id));
    const touched = state.touched[kind];
    for (const id of [...itemsOf(state, kind).keys()]) {
      if (!inSnapshot.has(id) && !(touched.get(id) > since)) changes.push(drop(state, kind, id));
    }
  }
  return changes;
}

/**
 * Merges the newest page of active alerts (GET alerts/?state=active, newest first) and takes its
 * count as the total. The page is a bounded window: alerts beyond it stay counted, not stored.
 *
 * A live alert event that arrived while the request ran may or may not be in the page and its
 * count; the caller reloads after every such event (see alertsChangedSince), so the total is
 * exact once alerts stop changing.
 *
 * @param {object} state
 * @param {{count: number, results: Alert[]}} page
 * @param {{since?: number}} [options] snapshotVersion() taken when the page was requested
 * @returns {Change[]} as loadItems with replace (stored alerts missing from the window are
 *   dropped unless a live event touched them after `since`)
 */
export function loadAlertPage(state, page, { since = state.version } = {}) {
  const changes = loadItems(state, 'alert', page.results, { replace: true, since });
  state.alertTotal = page.count;
  return changes;
}

/**
 * @param {object} state
 * @returns {{loading: boolean, shown: number, total: number}} what the alerts panel says:
 *   loading until the first page answered, then `shown` of `total` active alerts
 */
export function alertSummary(state) {
  const shown = state.alerts.size;
  if (state.alertTotal === null) return { loading: true, shown, total: shown };
  // Live alerts newer than the page are stored at once; the next page counts them too.
  return { loading: false, shown, total: Math.max(state.alertTotal, shown) };
}

/**
 * Converts an alert from an `alert` envelope to the REST shape.
 *
 * @param {{id: number, area: {id: number, name: string}, created_at: string,
 *          acknowledged_at: string|null, acknowledged_by: string|null,
 *          cleared_at?: string|null}} pushed
 * @param {object} incident the envelope's incident Feature
 * @returns {Alert}
 */
export function normalizeAlert(pushed, incident) {
  return {
    id: pushed.id,
    incident: incident.id,
    area: pushed.area.id,
    area_name: pushed.area.name,
    incident_name: incident.properties.name,
    severity: incident.properties.severity,
    created_at: pushed.created_at,
    acknowledged_at: pushed.acknowledged_at ?? null,
    acknowledged_by: pushed.acknowledged_by ?? null,
    cleared_at: pushed.cleared_at ?? null,
  };
}

/**
 * Applies one live event envelope (already de-duplicated by the socket).
 *
 * @param {object} state
 * @param {{id: number, type: Kind, op: string, feature: object, alerts?: object[]}} envelope
 * @returns {Change[]} everything that changed; empty for stale or unknown envelopes.
 *   An `alert` envelope may yield an incident change (its feature) and one change per alert:
 *   an alert is stored while its pushed state is active and removed for good once it is not
 *   (whatever the op) or is deleted, so the store moves alerts between states as ?state= does.
 */
export function applyEnvelope(state, envelope) {
  state.version += 1;
  const { type, op, feature } = envelope;
  if (type === 'incident' || type === 'area') return applyFeature(state, type, op, feature);
  if (type !== 'alert') return [];
  const changes = applyFeature(state, 'incident', 'updated', feature);
  for (const pushed of envelope.alerts ?? []) {
    const alert = normalizeAlert(pushed, feature);
    state.touched.alert.set(alert.id, state.version);
    if (op !== 'deleted' && alertState(alert) === 'active') {
      const change = upsert(state, 'alert', alert);
      if (change) changes.push(change);
      // A new alert adds one; an alert already stored (the page had it) was counted there.
      if (change?.op === 'created' && op === 'created') addToAlertTotal(state, 1);
    } else {
      // A deleted alert carries its last state; any other event changes one of acknowledged
      // and cleared, so an alert now both was not active before it either.
      const wasActive = op === 'deleted' ? alertState(alert) === 'active' : !(alert.acknowledged_at && alert.cleared_at);
      changes.push(...leaveActive(state, alert.id, wasActive));
    }
  }
  return changes;
}

/** An alert that is no longer active, or no longer exists: out of the store and the total, for good. */
function leaveActive(state, id, wasActive) {
  if (state.gone.alert.has(id)) return [];
  if (state.alerts.has(id)) return removeItem(state, 'alert', id);
  // Outside the loaded window: counted in the total until now if it was active.
  if (wasActive) addToAlertTotal(state, -1);
  state.gone.alert.add(id);
  return [];
}

function applyFeature(state, kind, op, feature) {
  if (op === 'deleted') return removeItem(state, kind, feature.id);
  state.touched[kind].set(feature.id, state.version);
  const change = upsert(state, kind, feature);
  return change ? [change, ...refreshAlertsOf(state, kind, feature)] : [];
}

/** What an alert shows of its incident and of its area (the REST alert's names and severity). */
const SHOWN_FROM = {
  incident: (feature) => ({ incident_name: feature.properties.name, severity: feature.properties.severity }),
  area: (feature) => ({ area_name: feature.properties.name }),
};

/**
 * A stored alert shows its incident's name and severity and its area's name, as REST does now:
 * a newer incident or area version refreshes the alerts that point at it.
 *
 * @returns {Change[]} one 'updated' change per alert that now shows something else
 */
function refreshAlertsOf(state, kind, feature) {
  const shown = SHOWN_FROM[kind](feature);
  const changes = [];
  for (const alert of state.alerts.values()) {
    if (alert[kind] !== feature.id || Object.entries(shown).every(([key, value]) => alert[key] === value)) continue;
    const item = { ...alert, ...shown };
    state.alerts.set(item.id, item);
    changes.push({ kind: 'alert', op: 'updated', id: item.id, item });
  }
  return changes;
}

// created_at in ms per stored item: items are replaced, never mutated, so the parse holds.
const createdMs = new WeakMap();
function createdTime(item) {
  let time = createdMs.get(item);
  if (time === undefined) {
    time = Date.parse(item.created_at ?? item.properties.created_at);
    createdMs.set(item, time);
  }
  return time;
}

/** Newest first: by created_at, then by id for equal timestamps. */
function byNewest(a, b) {
  return createdTime(b) - createdTime(a) || b.id - a.id;
}

/**
 * @param {object} state
 * @param {number} limit
 * @param {(feature: object) => boolean} [predicate] e.g. the panel filter
 * @returns {object[]} at most `limit` incident Features, newest first
 */
export function newestIncidents(state, limit, predicate = () => true) {
  // A selection of the newest `limit`, not a sort of every incident: the panel asks after every
  // batch of live events, and the store may hold thousands.
  const newest = [];
  if (limit <= 0) return newest;
  for (const feature of state.incidents.values()) {
    if (newest.length === limit && byNewest(feature, newest[limit - 1]) >= 0) continue;
    if (!predicate(feature)) continue;
    let at = newest.length;
    while (at > 0 && byNewest(feature, newest[at - 1]) < 0) at -= 1;
    newest.splice(at, 0, feature);
    if (newest.length > limit) newest.pop();
  }
  return newest;
}

/**
 * @param {object} state
 * @returns {Alert[]} the stored active alerts, newest first
 */
export function openAlerts(state) {
  return [...state.alerts.values()].sort(byNewest);
}

/**
 * What a batch of changes did in the end, one change per item, so a batch redraws each marker
 * and announces each alert once however often events touched it.
 *
 * @param {Change[]} changes in the order they happened
 * @returns {Change[]} per kind and id, in the order of each item's first change: the last change
 *   (its latest item), with op 'created' when the item was new to the store in the batch; none
 *   when it was new and left again (the store and the screen are as before the batch)
 */
export function netChanges(changes) {
  const net = new Map();
  for (const change of changes) {
    const key = `${change.kind}:${change.id}`;
    const earlier = net.get(key);
    if (earlier?.op === 'created' && change.op === 'deleted') net.delete(key);
    // Setting a key already present keeps its place in the Map's order.
    else net.set(key, earlier?.op === 'created' ? { ...change, op: 'created' } : change);
  }
  return [...net.values()];
}
