/**
 * Areas of interest: one outlined polygon per area, coloured by its alert threshold.
 */

import L from 'leaflet';
import { escapeHtml } from '../escape.js';
import { polygonLatLngs, sameGeometry } from '../geo.js';
import { severityColor } from '../severity.js';

const HIGHLIGHT_MS = 6000;

/**
 * @param {object} feature area Feature
 * @returns {object} Leaflet path style: outline in the threshold colour, faint fill
 */
export function areaStyle(feature) {
  const color = severityColor(feature.properties.threshold);
  return { color, weight: 3, opacity: 0.9, fillColor: color, fillOpacity: 0.06 };
}

/**
 * Class of every area path. The SVG paths lie above the incidents' canvas, so app.css lets
 * only their outline take the pointer: a click inside an area must reach the incident there.
 * While geoman edits areas, the `areas-editing` class on the map container makes the whole
 * shape grabbable again.
 */
export const AREA_PATH_CLASS = 'area-path';

const HIGHLIGHT_STYLE = { weight: 5, opacity: 1, fillOpacity: 0.3 };

export class AreasLayer {
  /**
   * @param {L.Map} map
   */
  constructor(map) {
    this.map = map;
    /** @type {Map<number, L.Polygon>} */
    this.polygons = new Map();
    this.highlightTimers = new Map();
    // SVG rather than the map's default canvas: areas are few, and geoman's vertex editing
    // and dragging work on SVG paths.
    this.renderer = L.svg();
    /** Parent of every area polygon; geoman fires its pm:* layer events on it too. */
    this.group = L.featureGroup().addTo(map);
  }

  /**
   * Adds the area or updates its shape, style and tooltip.
   *
   * @param {object} feature area Feature with a Polygon geometry
   */
  upsert(feature) {
    let polygon = this.polygons.get(feature.id);
    if (!polygon) {
      polygon = L.polygon(polygonLatLngs(feature.geometry), {
        ...areaStyle(feature),
        renderer: this.renderer,
        className: AREA_PATH_CLASS,
      });
      polygon.bindTooltip('', { sticky: true });
      this.polygons.set(feature.id, polygon);
      this.group.addLayer(polygon);
    } else if (!sameGeometry(polygon.toGeoJSON().geometry, feature.geometry)) {
      this.reshape(polygon, feature.geometry);
    }
    polygon.feature = feature;
    if (!this.highlightTimers.has(feature.id)) polygon.setStyle(areaStyle(feature));
    const { name, threshold, owner } = feature.properties;
    polygon.setTooltipContent(
      `<strong>${escapeHtml(name)}</strong><br>alerts from ${escapeHtml(threshold)}${owner ? ` · ${escapeHtml(owner)}` : ''}`,
    );
  }

  /**
   * Replaces the vertices. A polygon in geoman's edit mode keeps handles for the old vertices,
   * so editing is restarted around the change.
   */
  reshape(polygon, geometry) {
    const editing = polygon.pm?.enabled();
    if (editing) polygon.pm.disable();
    polygon.setLatLngs(polygonLatLngs(geometry));
    if (editing) polygon.pm.enable();
  }

  /** @param {number} id removes the polygon; unknown ids are ignored */
  remove(id) {
    const polygon = this.polygons.get(id);
    if (!polygon) return;
    this.group.removeLayer(polygon);
    this.polygons.delete(id);
    clearTimeout(this.highlightTimers.get(id));
    this.highlightTimers.delete(id);
  }

  /**
   * Puts the area back to its stored feature, e.g. after the server rejected an edit.
   *
   * @param {object} feature area Feature
   */
  restore(feature) {
    this.remove(feature.id);
    this.upsert(feature);
  }

  /**
   * @param {L.Layer} polygon a layer from a geoman event
   * @returns {number|null} its area id if this layer drew it, else null (e.g. a fresh draft)
   */
  idOf(polygon) {
    return this.polygons.get(polygon.feature?.id) === polygon ? polygon.feature.id : null;
  }

  /**
   * Draws attention to an area for a few seconds (on a new alert inside it).
   *
   * @param {number} id
   * @returns {boolean} false when the area is not loaded
   */
  highlight(id) {
    const polygon = this.polygons.get(id);
    if (!polygon) return false;
    clearTimeout(this.highlightTimers.get(id));
    polygon.setStyle(HIGHLIGHT_STYLE).bringToFront();
    this.highlightTimers.set(
      id,
      setTimeout(() => {
        this.highlightTimers.delete(id);
        polygon.setStyle(areaStyle(polygon.feature));
      }, HIGHLIGHT_MS),
    );
    return true;
  }
}
