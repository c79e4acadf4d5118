/**
 * Entry point of the live dashboard: wires the REST API, the live socket, the store, the map
 * layers and the side panel together. The page passes its settings in #tracker-config.
 *
 * A view with more incidents than CLUSTER_THRESHOLD is drawn as the server's clusters: each load
 * asks for the view's clusters first and fetches the individual incidents only when few enough.
 *
 * Nothing is loaded whole: the alerts panel loads the newest window of active alerts with their
 * total (alerts.js); live events move alerts and the total at once, and the window is reloaded
 * at most every ALERT_REFRESH_MS after them, so the count is the server's again as soon as alert
 * events pause. Incidents are loaded per view (bounded by the cluster threshold) and areas per
 * view, at most AREA_LIMIT of them.
 *
 * Live events apply in batches, one per animation frame (LiveSocket): the map and the panels are
 * updated once per batch with its net changes, and a burst of new alerts is announced by one
 * summary toast, so a storm of thousands of events never freezes the screen.
 *
 * Test hook: window.trackerDebug = {map, state, socket, layers: {incidents, areas}} lets the
 * end-to-end tests inspect what is drawn (e.g. layers.incidents.visibleCount(), .mode).
 */

import './styles/app.css';
import {
  ALERT_PAGE_SIZE,
  alertWindowNeedsRefill,
  alertWindowParams,
  alertsStatus,
  announcements,
  growAlertWindow,
} from './alerts.js';
import { createApi } from './api.js';
import { readConfig } from './config.js';
import { viewMode } from './clusters.js';
import { filterParams, matchesFilter, showAllFilter } from './filter.js';
import { bboxParam, toLatLng } from './geo.js';
import { AreasLayer } from './map/areas-layer.js';
import { createBaseMap } from './map/base-map.js';
import { enableAreaDrawing } from './map/draw.js';
import { IncidentsLayer } from './map/incidents-layer.js';
import { LiveSocket } from './socket.js';
import {
  alertSummary,
  applyEnvelope,
  createState,
  loadAlertPage,
  loadItems,
  netChanges,
  newestIncidents,
  openAlerts,
  removeItem,
  snapshotVersion,
} from './state.js';
import { renderBadge } from './ui/badge.js';
import { ensureElement, h } from './ui/dom.js';
import { createPanel } from './ui/panel.js';
import { showToast } from './ui/toast.js';

const LOGIN_URL = '/accounts/login/?next=/';
/** Incidents per request; `next` links fetch the rest. */
const PAGE_SIZE = 1000;
const NEWEST_LIMIT = 50;
/** Areas per view; a view with more says so and asks to zoom in. */
const AREA_LIMIT = 500;
const MOVE_DEBOUNCE_MS = 300;
/** How long live incident events in a clustered view are gathered before the clusters are refetched. */
const CLUSTER_REFRESH_MS = 1000;
/** How long the first load waits for the socket's hello before loading without it. */
const SOCKET_GRACE_MS = 3000;
/** The alerts window is reloaded at most this often while alert events come in. */
const ALERT_REFRESH_MS = 2000;
/** After a failed alerts load, the next try. */
const ALERT_RETRY_MS = 5000;

function debounce(fn, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

function reportError(title, error) {
  showToast({ title, message: error.message, tone: 'error', timeoutMs: 12000 });
  if (error.name !== 'ApiError') console.error(error);
}

/**
 * Makes a loader of which only the latest call counts: a newer call aborts an older one still
 * running and inherits its `replace`, so a superseded full reload still drops stale items.
 *
 * @param {string} failure toast title when a load fails (an abort is not a failure)
 * @param {(load: {signal: AbortSignal, replace: boolean}) => Promise<void>} run one load
 * @returns {(options?: {replace?: boolean}) => Promise<void>} settles when that load is done
 */
function latestOnly(failure, run) {
  let current = null;
  return async ({ replace = false } = {}) => {
    const load = { controller: new AbortController(), replace: replace || Boolean(current?.replace) };
    current?.controller.abort();
    current = load;
    try {
      await run({ signal: load.controller.signal, replace: load.replace });
    } catch (error) {
      if (error.name !== 'AbortError') reportError(failure, error);
    } finally {
      if (current === load) current = null;
    }
  };
}

function main() {
  const config = readConfig();
  const api = createApi({ base: config.api, csrfToken: config.csrfToken });
  const mapElement = document.getElementById('map');
  const map = createBaseMap(mapElement, config);
  const state = createState();
  const incidentsLayer = new IncidentsLayer(map);
  const areasLayer = new AreasLayer(map);
  const layers = { incident: incidentsLayer, area: areasLayer };

  const sidePanel = ensureElement('side-panel', () => {
    const aside = h('aside', { id: 'side-panel' });
    mapElement.after(aside);
    return aside;
  });
  const badge = ensureElement('connection-badge', () => {
    const span = h('span', { id: 'connection-badge', class: 'badge' });
    (document.querySelector('header') ?? document.body).append(span);
    return span;
  });

  let filter = showAllFilter();
  const isVisible = (feature) => matchesFilter(feature, filter);

  const panel = createPanel(sidePanel, {
    onShowMoreAlerts() {
      alertLimit = growAlertWindow(alertLimit);
      loadAlerts();
    },
    async onAcknowledge(alertId) {
      try {
        const alert = await api.post(`alerts/${alertId}/acknowledge/`);
        apply(removeItem(state, 'alert', alert.id));
      } catch (error) {
        reportError('The alert was not acknowledged', error);
        throw error;
      }
    },
    onSelectIncident: (id) => incidentsLayer.openPopup(id),
    onFilterChange(next) {
      filter = next;
      incidentsLayer.setFilter(isVisible);
      scheduleRender();
      // The server counts and clusters with the filter (and sends the incidents it newly shows).
      reloadView();
    },
  });

  // Panels re-render at most once per frame: a resync or a burst of events yields many changes.
  let renderQueued = false;
  function renderPanels() {
    renderQueued = false;
    const summary = alertSummary(state);
    panel.renderAlerts(openAlerts(state), alertsStatus(summary, { limit: alertLimit, failed: alertLoadFailed }));
    panel.renderIncidents(newestIncidents(state, NEWEST_LIMIT, isVisible));
    if (alertWindowNeedsRefill(summary, alertLimit)) scheduleAlertRefresh();
  }
  function scheduleRender() {
    if (renderQueued) return;
    renderQueued = true;
    requestAnimationFrame(() => {
      if (renderQueued) renderPanels();
    });
  }

  /** Highlights the areas of new live alerts and toasts them: one by one, or a burst as one summary. */
  function announce(alerts) {
    for (const areaId of new Set(alerts.map((alert) => alert.area))) areasLayer.highlight(areaId);
    const { each, summary } = announcements(alerts);
    for (const alert of each) {
      showToast({
        title: `Alert: ${alert.incident_name}`,
        message: `${alert.severity} in ${alert.area_name}`,
        tone: 'alert',
        severity: alert.severity,
        onActivate: () => incidentsLayer.openPopup(alert.incident),
      });
    }
    if (summary) showToast({ ...summary, tone: 'alert' });
  }

  /**
   * Mirrors store changes on the map and panels, each item once (its net change).
   * @param {import('./state.js').Change[]} changes
   * @param {{live?: boolean}} [options] live: they came from the socket, so new alerts are news
   */
  function apply(changes, { live = false } = {}) {
    const created = [];
    for (const change of netChanges(changes)) {
      const layer = layers[change.kind];
      if (layer) {
        if (change.op === 'deleted') layer.remove(change.id);
        else layer.upsert(change.item);
      } else if (live && change.op === 'created') {
        created.push(change.item);
      }
    }
    if (created.length) announce(created);
    if (changes.length) scheduleRender();
  }

  /**
   * Loads the current view: its clusters when it holds more incidents (passing the filter) than
   * the threshold, with the newest of them for the side panel; otherwise its incidents.
   */
  const loadIncidents = latestOnly('Incidents could not be loaded', async ({ signal, replace }) => {
    const since = snapshotVersion(state);
    const selected = filterParams(filter);
    if (selected === null) {
      // Nothing passes the filter: hidden markers stay as they are, clusters are none.
      if (incidentsLayer.mode === 'clusters') incidentsLayer.showClusters([]);
      return;
    }
    const view = { in_bbox: bboxParam(map.getBounds()), ...selected };
    const zoom = Math.round(map.getZoom()); // the API takes whole zoom levels
    const clusters = await api.get('incidents/clusters/', { ...view, zoom }, { signal });
    let features;
    if (viewMode(clusters.count) === 'clusters') {
      incidentsLayer.showClusters(clusters.features);
      const newest = { ...view, ordering: '-created_at', page_size: NEWEST_LIMIT };
      features = (await api.get('incidents/', newest, { signal })).features;
    } else {
      features = await api.getAll('incidents/', { ...view, page_size: PAGE_SIZE }, { signal });
      incidentsLayer.showPoints();
    }
    apply(loadItems(state, 'incident', features, { replace, since }));
  });

  let areasIncomplete = false;
  /** Loads the areas intersecting the view, at most AREA_LIMIT (a full reload drops those out of view). */
  const loadAreas = latestOnly('The areas could not be loaded', async ({ signal, replace }) => {
    const since = snapshotVersion(state);
    const params = { in_bbox: bboxParam(map.getBounds()), page_size: AREA_LIMIT };
    const page = await api.get('areas/', params, { signal });
    apply(loadItems(state, 'area', page.features, { replace, since }));
    const incomplete = page.count > page.features.length;
    if (incomplete && !areasIncomplete) {
      showToast({
        title: 'Not every area is drawn',
        message: `This view has ${page.count.toLocaleString()} areas; ${page.features.length.toLocaleString()} are drawn. Zoom in to see the rest.`,
        timeoutMs: 8000,
      });
    }
    areasIncomplete = incomplete;
  });

  let alertLimit = ALERT_PAGE_SIZE;
  let alertLoadFailed = false;
  let alertLoad = null;
  /**
   * Loads the newest `alertLimit` active alerts and their total; a newer call aborts an older one
   * still running (the newer answer is at least as recent).
   */
  async function loadAlerts() {
    alertLoad?.abort();
    const controller = new AbortController();
    alertLoad = controller;
    const since = snapshotVersion(state);
    try {
      const page = await api.get('alerts/', alertWindowParams(alertLimit), { signal: controller.signal });
      alertLoadFailed = false;
      apply(loadAlertPage(state, page, { since }));
      scheduleRender(); // the total may change with no alert added or removed
    } catch (error) {
      if (error.name === 'AbortError') return;
      // One toast per outage, not per retry; the panel says it is retrying meanwhile.
      if (!alertLoadFailed) reportError('The alerts could not be loaded', error);
      alertLoadFailed = true;
      scheduleRender();
      scheduleAlertRefresh(ALERT_RETRY_MS);
    } finally {
      if (alertLoad === controller) alertLoad = null;
    }
  }

  let alertRefreshTimer = null;
  /**
   * Reloads the alerts window once, `delayMs` from the first call (later calls join it): a
   * steady stream of alert events reloads it every ALERT_REFRESH_MS, not never (a debounce) or
   * per event; an event that arrives while a load runs schedules the next, so the last answer
   * includes every event.
   */
  function scheduleAlertRefresh(delayMs = ALERT_REFRESH_MS) {
    if (alertRefreshTimer !== null) return;
    alertRefreshTimer = setTimeout(() => {
      alertRefreshTimer = null;
      loadAlerts();
    }, delayMs);
  }

  let loaded = false;
  function reloadEverything() {
    loaded = true;
    loadAreas({ replace: true });
    loadAlerts();
    loadIncidents({ replace: true });
  }

  const reloadView = debounce(() => loadIncidents(), MOVE_DEBOUNCE_MS);
  map.on('moveend', reloadView);
  map.on('moveend', debounce(() => loadAreas(), MOVE_DEBOUNCE_MS));
  const refreshClusters = debounce(() => loadIncidents(), CLUSTER_REFRESH_MS);

  /**
   * In clustered mode the counts come from the server: whether an incident event is at a point
   * of the view (where it is now, or where the store had it), so that the clusters are refetched.
   * Call it before the store applies the event.
   */
  function changesClusters(envelope) {
    if (incidentsLayer.mode !== 'clusters' || envelope.type !== 'incident') return false;
    const bounds = map.getBounds();
    const before = state.incidents.get(envelope.feature.id);
    return [envelope.feature, before].some(
      (feature) => feature && bounds.contains(toLatLng(feature.geometry.coordinates)),
    );
  }

  // What the current batch of live events did, drawn once at its end (onBatch).
  const batch = { changes: [], clusters: false, alerts: false };
  const socket = new LiveSocket({
    path: config.ws,
    onEnvelope: (envelope) => {
      batch.clusters ||= changesClusters(envelope);
      batch.changes.push(...applyEnvelope(state, envelope));
      // Alert events, and deletes that cascade to alerts outside the window, change the total.
      batch.alerts ||= envelope.type === 'alert' || envelope.op === 'deleted';
    },
    onBatch: () => {
      const { changes, clusters, alerts } = batch;
      Object.assign(batch, { changes: [], clusters: false, alerts: false });
      apply(changes, { live: true });
      if (clusters) refreshClusters();
      if (alerts) scheduleAlertRefresh();
      // In this frame, not the next: the batch is what the frame shows.
      if (renderQueued) renderPanels();
    },
    onStatus: (status) => renderBadge(badge, status),
    // Loading after the hello (not before) guarantees that no event falls between the
    // snapshot and the stream.
    onSync: reloadEverything,
    onUnauthorized: () => window.location.assign(LOGIN_URL),
  });
  socket.start();
  // Without a socket the map would stay empty; show the data anyway, just not live.
  setTimeout(() => {
    if (!loaded) reloadEverything();
  }, SOCKET_GRACE_MS);

  if (config.user?.isStaff) {
    enableAreaDrawing({
      map,
      areasLayer,
      api,
      formHost: panel.areaFormHost,
      onSaved: (feature) => apply(loadItems(state, 'area', [feature])),
      onDeleted: (id) => apply(removeItem(state, 'area', id)),
      onError: (error) => reportError('The area change was not saved', error),
    });
  }

  window.trackerDebug = { map, state, socket, layers: { incidents: incidentsLayer, areas: areasLayer } };
}

main();
