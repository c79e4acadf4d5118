/**
 * Severity scale shared with the backend (lowest first) and the colours used on the map.
 */

/** Severity names in ascending order; an area's threshold is one of these. */
export const SEVERITIES = Object.freeze(['info', 'low', 'medium', 'high', 'urgent']);

/** Colour per severity, chosen to read on both light tiles and the plain fallback background. */
export const SEVERITY_COLORS = Object.freeze({
  info: '#2563eb',
  low: '#16a34a',
  medium: '#ca8a04',
  high: '#ea580c',
  urgent: '#dc2626',
});

const MUTED_COLOR = '#6b7280';

/**
 * @param {string} severity
 * @returns {number} position on the scale (0 = info), or -1 for an unknown name
 */
export function severityRank(severity) {
  return SEVERITIES.indexOf(severity);
}

/**
 * @param {string} severity
 * @returns {string} CSS colour; unknown severities get the muted grey rather than failing
 */
export function severityColor(severity) {
  return SEVERITY_COLORS[severity] ?? MUTED_COLOR;
}

/**
 * Path style for an incident marker. Closed incidents stay visible (a dispatcher wants to see
 * what happened nearby) but are muted so open ones stand out.
 *
 * @param {{severity: string, status: string}} properties incident Feature properties
 * @returns {{radius: number, color: string, fillColor: string, fillOpacity: number, opacity: number, weight: number}}
 */
export function incidentStyle({ severity, status }) {
  const color = severityColor(severity);
  const base = { radius: 4 + Math.max(0, severityRank(severity)), fillColor: color, weight: 1 };
  return status === 'closed'
    ? { ...base, color: MUTED_COLOR, fillOpacity: 0.2, opacity: 0.5 }
    : { ...base, color: '#111827', fillOpacity: 0.85, opacity: 0.9 };
}
