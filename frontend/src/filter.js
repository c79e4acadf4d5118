/**
 * The dashboard's client-side incident filter (severity checkboxes, open/closed).
 * Filtering happens in the browser so toggling a checkbox never waits for the server.
 */

import { SEVERITIES } from './severity.js';

/**
 * @typedef {object} IncidentFilter
 * @property {Set<string>} severities severities to show
 * @property {Set<string>} statuses statuses to show ('open', 'closed')
 */

/** @returns {IncidentFilter} a filter that shows everything */
export function showAllFilter() {
  return { severities: new Set(SEVERITIES), statuses: new Set(['open', 'closed']) };
}

/**
 * @param {{properties: {severity: string, status: string}}} feature incident Feature
 * @param {IncidentFilter} filter
 * @returns {boolean} whether the incident should be shown
 */
export function matchesFilter(feature, filter) {
  const { severity, status } = feature.properties;
  return filter.severities.has(severity) && filter.statuses.has(status);
}

/**
 * The API query parameters that select the incidents the filter shows, so the server can count
 * and cluster exactly those.
 *
 * @param {IncidentFilter} filter
 * @returns {{severity?: string[], status?: string}|null} parameters (none when everything is
 *   shown); null when the filter shows nothing, so there is nothing to ask for
 */
export function filterParams(filter) {
  if (filter.severities.size === 0 || filter.statuses.size === 0) return null;
  const params = {};
  if (filter.severities.size < SEVERITIES.length) params.severity = SEVERITIES.filter((s) => filter.severities.has(s));
  if (filter.statuses.size === 1) [params.status] = filter.statuses;
  return params;
}
