/**
 * Entry point of the live dashboard: wires the REST API, the live socket, the store, the map
 * layers and the side panel together. The page passes its settings in #tracker-config.
 *
 * A view with more incidents than CLUSTER_THRESHOLD is drawn as the server's clusters: each load
 * asks for the view's clusters first and fetches the individual incidents only when few enough.
 *
 * Test hook: window.trackerDebug = {map, state, socket, layers: {incidents, areas}} lets the
 * end-to-end tests inspect what is drawn (e.g. layers.incidents.visibleCount(), .mode).
 */

import './styles/app.css';
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
import { applyEnvelope, createState, loadItems, newestIncidents, openAlerts, removeItem, snapshotVersion } from './state.js';
import { renderBadge } from './ui/badge.js';
import { ensureElement, h } from './ui/dom.js';
import { createPanel } from './ui/panel.js';
import { showToast } from './ui/toast.js';

const LOGIN_URL = '/accounts/login/?next=/';
/** Incidents per request; `next` links fetch the rest. */
const PAGE_SIZE = 1000;
const NEWEST_LIMIT = 50;
const MOVE_DEBOUNCE_MS = 300;
/** How long live incident events in a clustered view are gathered before the clusters are refetched. */
const CLUSTER_REFRESH_MS = 1000;
/** How long the first load waits for the socket's hello before loading without it. */
const SOCKET_GRACE_MS = 3000;

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
  function scheduleRender() {
    if (renderQueued) return;
    renderQueued = true;
    requestAnimationFrame(() => {
      renderQueued = false;
      panel.renderAlerts(openAlerts(state));
      panel.renderIncidents(newestIncidents(state, NEWEST_LIMIT, isVisible));
    });
  }

  function announce(alert) {
    areasLayer.highlight(alert.area);
    showToast({
      title: `Alert: ${alert.incident_name}`,
      message: `${alert.severity} in ${alert.area_name}`,
      tone: 'alert',
      severity: alert.severity,
      onActivate: () => incidentsLayer.openPopup(alert.incident),
    });
  }

  /**
   * Mirrors store changes on the map and panels.
   * @param {import('./state.js').Change[]} changes
   * @param {{live?: boolean}} [options] live: they came from the socket, so new alerts are news
   */
  function apply(changes, { live = false } = {}) {
    for (const change of changes) {
      const layer = layers[change.kind];
      if (layer) {
        if (change.op === 'deleted') layer.remove(change.id);
        else layer.upsert(change.item);
      } else if (live && change.op === 'created') {
        announce(change.item);
      }
    }
    if (changes.length) scheduleRender();
  }

  let incidentLoad = null;
  /**
   * Loads the current view: its clusters when it holds more incidents (passing the filter) than
   * the threshold, with the newest of them for the side panel; otherwise its incidents. A newer
   * call aborts an older one still running, inheriting its `replace` so a superseded full reload
   * still drops stale incidents.
   */
  async function loadIncidents({ replace = false } = {}) {
    const load = { controller: new AbortController(), replace: replace || Boolean(incidentLoad?.replace) };
    incidentLoad?.controller.abort();
    incidentLoad = load;
    const since = snapshotVersion(state);
    const options = { signal: load.controller.signal };
    const selected = filterParams(filter);
    try {
      if (selected === null) {
        // Nothing passes the filter: hidden markers stay as they are, clusters are none.
        if (incidentsLayer.mode === 'clusters') incidentsLayer.showClusters([]);
        return;
      }
      const view = { in_bbox: bboxParam(map.getBounds()), ...selected };
      const zoom = Math.round(map.getZoom()); // the API takes whole zoom levels
      const clusters = await api.get('incidents/clusters/', { ...view, zoom }, options);
      let features;
      if (viewMode(clusters.count) === 'clusters') {
        incidentsLayer.showClusters(clusters.features);
        const newest = { ...view, ordering: '-created_at', page_size: NEWEST_LIMIT };
        features = (await api.get('incidents/', newest, options)).features;
      } else {
        features = await api.getAll('incidents/', { ...view, page_size: PAGE_SIZE }, options);
        incidentsLayer.showPoints();
      }
      apply(loadItems(state, 'incident', features, { replace: load.replace, since }));
    } catch (error) {
      if (error.name !== 'AbortError') reportError('Incidents could not be loaded', error);
    } finally {
      if (incidentLoad === load) incidentLoad = null;
    }
  }

  async function loadAll(kind, path, params) {
    const since = snapshotVersion(state);
    try {
      apply(loadItems(state, kind, await api.getAll(path, params), { replace: true, since }));
    } catch (error) {
      reportError(`The ${kind}s could not be loaded`, error);
    }
  }

  let loaded = false;
  function reloadEverything() {
    loaded = true;
    loadAll('area', 'areas/');
    loadAll('alert', 'alerts/', { acknowledged: 'false' });
    loadIncidents({ replace: true });
  }

  const reloadView = debounce(() => loadIncidents(), MOVE_DEBOUNCE_MS);
  map.on('moveend', reloadView);
  const refreshClusters = debounce(() => loadIncidents(), CLUSTER_REFRESH_MS);

  /**
   * In clustered mode the counts come from the server: an incident event at a point of the view
   * (where it is now, or where the store had it) schedules a refetch of the clusters.
   */
  function refreshClustersFor(envelope) {
    if (incidentsLayer.mode !== 'clusters' || envelope.type !== 'incident') return;
    const bounds = map.getBounds();
    const before = state.incidents.get(envelope.feature.id);
    const inView = [envelope.feature, before].some(
      (feature) => feature && bounds.contains(toLatLng(feature.geometry.coordinates)),
    );
    if (inView) refreshClusters();
  }

  const socket = new LiveSocket({
    path: config.ws,
    onEnvelope: (envelope) => {
      refreshClustersFor(envelope);
      apply(applyEnvelope(state, envelope), { live: true });
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
