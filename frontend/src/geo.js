/**
 * Conversions between GeoJSON ([lon, lat], RFC 7946) and Leaflet ([lat, lon]) coordinates.
 * Kept free of Leaflet so the axis order is tested in one place.
 */

import { MAX_LAT, MAX_LON } from './limits.js';

/**
 * @param {[number, number]} position GeoJSON position [lon, lat]
 * @returns {[number, number]} Leaflet [lat, lon]
 */
export function toLatLng([lon, lat]) {
  return [lat, lon];
}

/**
 * @param {{lat: number, lng: number}} latLng Leaflet LatLng
 * @returns {{type: 'Point', coordinates: [number, number]}} GeoJSON Point geometry
 */
export function pointGeometry({ lat, lng }) {
  return { type: 'Point', coordinates: [lng, lat] };
}

/**
 * Leaflet rings for a GeoJSON Polygon. The closing position is dropped because Leaflet
 * polygons are implicitly closed and geoman would otherwise show a duplicate vertex.
 *
 * @param {{type: 'Polygon', coordinates: number[][][]}} geometry
 * @returns {number[][][]} rings of [lat, lon]
 */
export function polygonLatLngs(geometry) {
  return geometry.coordinates.map((ring) => {
    const open = ringIsClosed(ring) ? ring.slice(0, -1) : ring;
    return open.map(toLatLng);
  });
}

function ringIsClosed(ring) {
  const first = ring[0];
  const last = ring[ring.length - 1];
  return ring.length > 1 && first[0] === last[0] && first[1] === last[1];
}

/** Decimal places Leaflet's toGeoJSON() keeps by default (about 0.1 m). */
const PRECISION = 6;

/**
 * Whether two geometries describe the same shape at Leaflet's export precision. Used to
 * recognise the echo of our own edit, so the polygon being edited is not reset under the user.
 *
 * @param {{coordinates: unknown}} a GeoJSON geometry
 * @param {{coordinates: unknown}} b GeoJSON geometry
 * @returns {boolean}
 */
export function sameGeometry(a, b) {
  const round = (value) =>
    Array.isArray(value) ? value.map(round) : Number(value.toFixed(PRECISION));
  return a.type === b.type && JSON.stringify(round(a.coordinates)) === JSON.stringify(round(b.coordinates));
}

/**
 * The `in_bbox` query value for the visible map. Leaflet's bounds run past ±180° when the
 * world is zoomed out and repeats; the API wants real coordinates.
 *
 * @param {{getWest(): number, getSouth(): number, getEast(): number, getNorth(): number}} bounds
 * @returns {string} 'minLon,minLat,maxLon,maxLat'
 */
export function bboxParam(bounds) {
  const clamp = (value, limit) => Math.min(limit, Math.max(-limit, value));
  return [
    clamp(bounds.getWest(), MAX_LON),
    clamp(bounds.getSouth(), MAX_LAT),
    clamp(bounds.getEast(), MAX_LON),
    clamp(bounds.getNorth(), MAX_LAT),
  ].join(',');
}
