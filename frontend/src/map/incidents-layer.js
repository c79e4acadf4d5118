/**
 * Incident markers: one canvas circle marker per incident, kept in sync by id; or, for a view
 * holding too many incidents to draw one by one, the server's clusters (mode 'clusters').
 */

import L from 'leaflet';
import { clusterStyle } from '../clusters.js';
import { toLatLng } from '../geo.js';
import { incidentStyle } from '../severity.js';
import { formatTime, h } from '../ui/dom.js';
import { severityDot } from '../ui/severity-dot.js';

/**
 * @param {object} feature incident Feature
 * @returns {HTMLElement} popup content; user text is set as text, never parsed as HTML
 */
export function incidentPopupContent(feature) {
  const { name, description, severity, status, reporter, created_at: createdAt, url } = feature.properties;
  return h(
    'div',
    { class: 'incident-popup', dataset: { incidentId: feature.id } },
    h('strong', { class: 'incident-popup__name', text: name }),
    h('div', { class: 'incident-popup__meta' },
      severityDot(severity),
      ` ${severity} · ${status} · ${formatTime(createdAt)}`,
      reporter ? ` · ${reporter}` : ''),
    description ? h('p', { class: 'incident-popup__description', text: description }) : null,
    url ? h('a', { href: url, text: 'Details' }) : null,
  );
}

/**
 * @param {object} feature cluster Feature ({count, max_severity, open} properties)
 * @returns {L.Marker} a round label showing the count, coloured by the highest severity
 */
function clusterMarker(feature) {
  const { size, color, muted, label, title } = clusterStyle(feature.properties);
  const element = h('div', { class: 'incident-cluster', title, dataset: { count: feature.properties.count, muted } },
    label);
  // Set through the CSSOM: the page's CSP refuses style attributes.
  element.style.setProperty('--cluster-color', color);
  const icon = L.divIcon({ html: element, className: 'incident-cluster-icon', iconSize: [size, size] });
  const marker = L.marker(toLatLng(feature.geometry.coordinates), { icon, keyboard: false, pmIgnore: true });
  marker.feature = feature;
  return marker;
}

/** Zoom levels a click on a cluster zooms in by. */
const CLUSTER_ZOOM_STEP = 2;

export class IncidentsLayer {
  /**
   * @param {L.Map} map a map created with preferCanvas, so the markers share one canvas
   */
  constructor(map) {
    this.map = map;
    /** @type {Map<number, L.CircleMarker>} every known incident, shown or filtered out */
    this.markers = new Map();
    this.filter = () => true;
    // One group and one popup for all markers: per-marker handlers and popups would cost
    // tens of thousands of objects at the sizes this layer must handle.
    this.group = L.featureGroup().addTo(map);
    this.popup = L.popup({ maxWidth: 280 });
    /** Incident whose popup was opened last, so updates can refresh or close it. */
    this.popupIncidentId = null;
    this.group.on('click', (event) => this.openPopup(event.propagatedFrom.feature.id));
    /** 'points': the incident markers are shown; 'clusters': the clusters of the last view. */
    this.mode = 'points';
    this.clusters = L.featureGroup();
    this.clusterTotal = 0;
    this.clusters.on('click', (event) => {
      this.map.setView(event.propagatedFrom.getLatLng(), Math.min(this.map.getZoom() + CLUSTER_ZOOM_STEP,
        this.map.getMaxZoom()));
    });
  }

  /**
   * Draws the incident markers (kept up to date in either mode) instead of clusters.
   */
  showPoints() {
    if (this.mode === 'points') return;
    this.mode = 'points';
    this.clusters.clearLayers().remove();
    this.clusterTotal = 0;
    this.group.addTo(this.map);
  }

  /**
   * Draws clusters instead of the incident markers, replacing any drawn before.
   *
   * @param {object[]} features cluster Features of the view, as the API returns them
   */
  showClusters(features) {
    this.mode = 'clusters';
    this.group.remove();
    this.clusters.clearLayers();
    for (const feature of features) this.clusters.addLayer(clusterMarker(feature));
    this.clusterTotal = features.reduce((sum, feature) => sum + feature.properties.count, 0);
    this.clusters.addTo(this.map);
  }

  /**
   * Adds the incident or moves/restyles its marker.
   *
   * @param {object} feature incident Feature with a Point geometry
   */
  upsert(feature) {
    const latLng = toLatLng(feature.geometry.coordinates);
    let marker = this.markers.get(feature.id);
    if (marker) {
      marker.setLatLng(latLng).setStyle(incidentStyle(feature.properties));
    } else {
      // pmIgnore: the area editor (geoman) must neither edit incidents nor attach its
      // per-layer helpers to thousands of markers.
      marker = L.circleMarker(latLng, { ...incidentStyle(feature.properties), pmIgnore: true });
      this.markers.set(feature.id, marker);
    }
    marker.feature = feature;
    this.show(marker);
    if (this.popup.isOpen() && this.popupIncidentId === feature.id) this.openPopup(feature.id);
  }

  /** @param {number} id removes the marker; unknown ids are ignored */
  remove(id) {
    const marker = this.markers.get(id);
    if (!marker) return;
    this.group.removeLayer(marker);
    this.markers.delete(id);
    if (this.popupIncidentId === id) this.map.closePopup(this.popup);
  }

  /**
   * @param {(feature: object) => boolean} predicate incidents it rejects are hidden, not removed
   */
  setFilter(predicate) {
    this.filter = predicate;
    for (const marker of this.markers.values()) this.show(marker);
  }

  show(marker) {
    const visible = this.filter(marker.feature);
    if (visible && !this.group.hasLayer(marker)) this.group.addLayer(marker);
    else if (!visible && this.group.hasLayer(marker)) this.group.removeLayer(marker);
  }

  /**
   * @returns {number} incidents drawn: markers passing the filter, or in clusters mode the
   *   incidents the drawn clusters hold
   */
  visibleCount() {
    return this.mode === 'clusters' ? this.clusterTotal : this.group.getLayers().length;
  }

  /**
   * Opens the popup of an incident (e.g. picked from the side panel); Leaflet pans the map
   * to show it.
   *
   * @param {number} id
   * @returns {boolean} false when the incident is not loaded
   */
  openPopup(id) {
    const marker = this.markers.get(id);
    if (!marker) return false;
    this.popupIncidentId = id;
    this.popup.setLatLng(marker.getLatLng()).setContent(incidentPopupContent(marker.feature)).openOn(this.map);
    return true;
  }
}
