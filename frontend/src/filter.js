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
