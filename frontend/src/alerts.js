/**
 * How the dashboard loads and describes the active alerts: a bounded newest window with the
 * server's total, so the panel shows something within one small request however many alerts
 * there are, and never says "none" while any exist; and how new alerts are announced. Pure (no
 * DOM) so the rules are unit-tested.
 */

import { severityRank } from './severity.js';

/** Alerts per window step: the first load, and what each "Show more" adds. */
export const ALERT_PAGE_SIZE = 50;
/** The largest window: the API's largest page (beyond it, the count says how many are left). */
export const MAX_ALERT_WINDOW = 1000;

/**
 * @param {number} limit the window size
 * @returns {{state: 'active', page_size: number}} query of GET alerts/ for the newest `limit`
 *   active alerts (newest first) and their total count
 */
export function alertWindowParams(limit) {
  return { state: 'active', page_size: limit };
}

/**
 * @param {number} limit
 * @returns {number} the window after one "Show more"
 */
export function growAlertWindow(limit) {
  return Math.min(MAX_ALERT_WINDOW, limit + ALERT_PAGE_SIZE);
}

/**
 * @param {{loading: boolean, shown: number, total: number}} summary state.js alertSummary()
 * @param {number} limit the window size
 * @returns {boolean} alerts left the window (acknowledged, cleared) while the server has more
 *   than are shown: reload the window to fill it
 */
export function alertWindowNeedsRefill({ loading, shown, total }, limit) {
  return !loading && shown < Math.min(limit, total);
}

const COUNT = new Intl.NumberFormat();

/**
 * What the alerts panel says about its list.
 *
 * @param {{loading: boolean, shown: number, total: number}} summary state.js alertSummary()
 * @param {{limit: number, failed?: boolean}} options `failed`: the last load failed
 * @returns {{loading: boolean, text: string, count: string, empty: boolean, more: boolean}} still
 *   waiting for the first answer, the status line ('' when every alert is shown), the heading's
 *   count, whether to say "No open alerts" (only once the server answered that there are none)
 *   and whether "Show more" can add to the window
 */
export function alertsStatus({ loading, shown, total }, { limit, failed = false }) {
  if (loading) {
    const text = failed ? 'Alerts could not be loaded; retrying…' : 'Loading alerts…';
    return { loading, text, count: shown ? `(${COUNT.format(shown)}+)` : '', empty: false, more: false };
  }
  const count = total ? `(${COUNT.format(total)})` : '';
  if (total === 0) return { loading, text: '', count, empty: true, more: false };
  const text = shown < total ? `Showing ${COUNT.format(shown)} of ${COUNT.format(total)}` : '';
  return { loading, text, count, empty: false, more: shown < total && limit < MAX_ALERT_WINDOW };
}

/**
 * Up to this many new alerts arriving together (one batch of live events) get a toast each; more
 * get one summary toast: a storm must not stack toasts faster than anyone can read them.
 */
export const ANNOUNCE_EACH_MAX = 3;
/** Area names a summary toast lists before "and N more". */
const SUMMARY_AREAS = 3;

/**
 * @param {{severity: string, area_name: string}[]} alerts the new alerts of one batch, in order
 * @param {number} [eachMax]
 * @returns {{each: object[], summary: {title: string, message: string, severity: string}|null}}
 *   the alerts to announce one by one (all of them, when at most `eachMax`), or else none and the
 *   one summary: how many, the highest severity among them and the areas they are in
 */
export function announcements(alerts, eachMax = ANNOUNCE_EACH_MAX) {
  if (alerts.length <= eachMax) return { each: alerts, summary: null };
  const severity = alerts.reduce(
    (highest, alert) => (severityRank(alert.severity) > severityRank(highest) ? alert.severity : highest),
    alerts[0].severity,
  );
  const areas = [...new Set(alerts.map((alert) => alert.area_name))];
  const more = areas.length - SUMMARY_AREAS;
  const listed = areas.slice(0, SUMMARY_AREAS).join(', ') + (more > 0 ? ` and ${COUNT.format(more)} more` : '');
  return {
    each: [],
    summary: {
      title: `${COUNT.format(alerts.length)} new alerts`,
      message: `up to ${severity} in ${listed}`,
      severity,
    },
  };
}
