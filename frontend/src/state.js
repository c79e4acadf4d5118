/**
 * The dashboard's client-side store: incidents, areas and open alerts keyed by id, plus the
 * rules for merging REST snapshots and live event envelopes into it. Pure (no DOM, no Leaflet):
 * every mutation returns the list of changes so the map and panels can update just those items.
 *
 * Merge rules, which make the result independent of whether a REST snapshot or a live event
 * arrives first:
 *  - A deleted (or acknowledged) id is remembered and never re-added: ids are not reused, and a
 *    snapshot taken before the deletion may still contain the object.
 *  - A feature only replaces a stored one with a strictly newer `updated_at`, so an older
 *    snapshot never overwrites a newer pushed version.
 *  - A replacing snapshot keeps items that live events touched after the snapshot was requested.
 */

/**
 * @typedef {'incident'|'area'|'alert'} Kind
 *
 * @typedef {object} Alert open alert, in the REST shape (pushed alerts are normalised to it)
 * @property {number} id
 * @property {number} incident incident id
 * @property {number} area area id
 * @property {string} area_name
 * @property {string} incident_name
 * @property {string} severity
 * @property {string} created_at
 * @property {string|null} acknowledged_at
 * @property {string|null} acknowledged_by
 *
 * @typedef {object} Change what one operation did to the store
 * @property {Kind} kind
 * @property {'created'|'updated'|'deleted'} op what happened to the store entry: 'deleted' means it
 *   left the store (deleted, acknowledged, or no longer in a replacing snapshot)
 * @property {number} id
 * @property {object} item the stored Feature or Alert (for 'deleted': the version it had)
 */

/**
 * @returns {object} an empty store; read it through the maps `incidents`, `areas`, `alerts`
 *   (open alerts only), each keyed by id
 */
export function createState() {
  return {
    incidents: new Map(),
    areas: new Map(),
    alerts: new Map(),
    // Ids that were deleted (or, for alerts, acknowledged); see the merge rules above.
    gone: { incident: new Set(), area: new Set(), alert: new Set() },
    // Per kind, id -> the `version` at which a live event last touched the item.
    touched: { incident: new Map(), area: new Map(), alert: new Map() },
    // Counts applied envelopes; a snapshot records it when requested (see snapshotVersion).
    version: 0,
  };
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

/** Features carry updated_at; alerts never change while open (acknowledging removes them). */
function isFresher(kind, incoming, stored) {
  if (kind === 'alert') return false;
  const incomingTime = Date.parse(incoming.properties.updated_at);
  const storedTime = Date.parse(stored.properties.updated_at);
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
 * Removes an object that no longer exists, or an alert that was acknowledged, and remembers
 * its id so no snapshot brings it back. Deleting an incident or area also closes its open
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
  // Open alerts are loaded regardless of the map view, so cascade even for an unloaded incident.
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
    const change = kind === 'alert' && item.acknowledged_at ? null : upsert(state, kind, item);
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
 * Converts an alert from an `alert` envelope to the REST shape.
 *
 * @param {{id: number, area: {id: number, name: string}, created_at: string,
 *          acknowledged_at: string|null, acknowledged_by: string|null}} pushed
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
  };
}

/**
 * Applies one live event envelope (already de-duplicated by the socket).
 *
 * @param {object} state
 * @param {{id: number, type: Kind, op: string, feature: object, alerts?: object[]}} envelope
 * @returns {Change[]} everything that changed; empty for stale or unknown envelopes.
 *   An `alert` envelope may yield an incident change (its feature) and one change per alert.
 */
export function applyEnvelope(state, envelope) {
  state.version += 1;
  const { type, op, feature } = envelope;
  if (type === 'incident' || type === 'area') return applyFeature(state, type, op, feature);
  if (type !== 'alert') return [];
  const changes = applyFeature(state, 'incident', 'updated', feature);
  for (const pushed of envelope.alerts ?? []) {
    const alert = normalizeAlert(pushed, feature);
    // 'created' announces new alerts; any other op means they were acknowledged.
    if (op === 'created' && !alert.acknowledged_at) {
      const change = upsert(state, 'alert', alert);
      state.touched.alert.set(alert.id, state.version);
      if (change) changes.push(change);
    } else {
      changes.push(...removeItem(state, 'alert', alert.id));
    }
  }
  return changes;
}

function applyFeature(state, kind, op, feature) {
  if (op === 'deleted') return removeItem(state, kind, feature.id);
  state.touched[kind].set(feature.id, state.version);
  const change = upsert(state, kind, feature);
  return change ? [change] : [];
}

/** Newest first: by created_at, then by id for equal timestamps. */
function byNewest(a, b) {
  const aTime = a.created_at ?? a.properties.created_at;
  const bTime = b.created_at ?? b.properties.created_at;
  return Date.parse(bTime) - Date.parse(aTime) || b.id - a.id;
}

/**
 * @param {object} state
 * @param {number} limit
 * @param {(feature: object) => boolean} [predicate] e.g. the panel filter
 * @returns {object[]} at most `limit` incident Features, newest first
 */
export function newestIncidents(state, limit, predicate = () => true) {
  return [...state.incidents.values()].filter(predicate).sort(byNewest).slice(0, limit);
}

/**
 * @param {object} state
 * @returns {Alert[]} open alerts, newest first
 */
export function openAlerts(state) {
  return [...state.alerts.values()].sort(byNewest);
}
