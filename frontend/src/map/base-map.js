/**
 * The Leaflet map both pages start from: view from the config, OSM-style tile layer.
 */

import L from 'leaflet';
import { toLatLng } from '../geo.js';

/**
 * Creates the map with the canvas renderer as default for vector layers, which is what keeps
 * ten thousand circle markers responsive (one <canvas> instead of one SVG node each).
 * Tiles are decoration: a failed tile download leaves grey squares and nothing else depends
 * on them, so the dashboard keeps working without internet access.
 *
 * @param {HTMLElement|string} element the map container (or its id)
 * @param {{center: [number, number], zoom: number, tileUrl: string, tileAttribution?: string}} config
 *   page config; center is GeoJSON [lon, lat]
 * @returns {L.Map}
 */
export function createBaseMap(element, config) {
  const map = L.map(element, { preferCanvas: true }).setView(toLatLng(config.center), config.zoom);
  L.tileLayer(config.tileUrl, {
    // The attribution comes from our own settings, not from users, so its HTML is trusted.
    attribution: config.tileAttribution ?? '',
    maxZoom: 19,
  }).addTo(map);
  return map;
}
