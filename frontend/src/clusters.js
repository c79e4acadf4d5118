/**
 * When the dashboard draws clusters instead of individual incidents, and how a cluster looks.
 * Pure (no DOM, no Leaflet) so the rules are unit-tested.
 */

import { severityColor } from './severity.js';

/**
 * Above this many incidents in the view the map shows the server's clusters: loading and
 * drawing more individual markers takes seconds and megabytes (2,000 is two API pages).
 */
export const CLUSTER_THRESHOLD = 2000;

/**
 * @param {number} count incidents in the view (the clusters answer's top-level `count`)
 * @param {number} [threshold]
 * @returns {'points'|'clusters'} how to draw the view
 */
export function viewMode(count, threshold = CLUSTER_THRESHOLD) {
  return count > threshold ? 'clusters' : 'points';
}

const MIN_SIZE = 24;
const MAX_SIZE = 56;

/**
 * @param {number} count
 * @returns {string} the count as a marker label fits it: 999, 1.2k, 12k
 */
export function formatCount(count) {
  if (count < 1000) return String(count);
  if (count < 10_000) return `${(Math.floor(count / 100) / 10).toFixed(1).replace(/\.0$/, '')}k`;
  return `${Math.floor(count / 1000)}k`;
}

/**
 * Look of a cluster marker: its diameter grows with the logarithm of the count (a cluster of
 * 10,000 must not cover the map), its colour is the highest severity in it, and one holding no
 * open incident is muted like a closed incident.
 *
 * @param {{count: number, max_severity: string, open: number}} properties cluster Feature properties
 * @returns {{size: number, color: string, muted: boolean, label: string, title: string}}
 */
export function clusterStyle({ count, max_severity: maxSeverity, open }) {
  const size = Math.min(MAX_SIZE, Math.round(MIN_SIZE + 8 * Math.log10(Math.max(1, count))));
  return {
    size,
    color: severityColor(maxSeverity),
    muted: open === 0,
    label: formatCount(count),
    title: `${count} incident${count === 1 ? '' : 's'}, ${open} open, highest severity ${maxSeverity}`,
  };
}
