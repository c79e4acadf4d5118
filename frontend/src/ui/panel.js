/**
 * The dashboard's side panel: open (active) alerts with Acknowledge buttons, how many there are
 * and "Show more", the incident filter, and the newest incidents.
 */

import { SEVERITIES } from '../severity.js';
import { formatTime, h, syncList } from './dom.js';
import { severityDot } from './severity-dot.js';

function checkbox(group, value, label, swatch) {
  return h('label', { class: 'filter-option' }, h('input', { type: 'checkbox', name: group, value, checked: true }), swatch, label);
}

/**
 * Builds the panel inside `container` (replacing its content).
 *
 * @param {HTMLElement} container e.g. #side-panel
 * @param {object} handlers
 * @param {(alertId: number) => Promise<unknown>} handlers.onAcknowledge settles when done;
 *   the button stays disabled meanwhile and is re-enabled if it rejects
 * @param {() => void} handlers.onShowMoreAlerts asks for a larger alerts window
 * @param {(incidentId: number) => void} handlers.onSelectIncident
 * @param {(filter: import('../filter.js').IncidentFilter) => void} handlers.onFilterChange
 *   called when a checkbox changes; all boxes start checked (showAllFilter)
 * @returns {{areaFormHost: HTMLElement,
 *   renderAlerts: (alerts: object[], status: ReturnType<typeof import('../alerts.js').alertsStatus>) => void,
 *   renderIncidents: (features: object[]) => void}}
 */
export function createPanel(container, { onAcknowledge, onShowMoreAlerts, onSelectIncident, onFilterChange }) {
  const areaFormHost = h('section', { id: 'area-form-host', class: 'panel-section', hidden: true });

  const alertCount = h('span', { class: 'count' });
  const alertList = h('ul', { class: 'item-list' });
  // Until the server has answered the panel says "loading", never "none" (alertsStatus).
  const alertStatus = h('p', { class: 'list-status', role: 'status', text: 'Loading alerts…' });
  const showMore = h('button', { type: 'button', class: 'button button--small', dataset: { action: 'more-alerts' }, text: 'Show more', hidden: true });
  showMore.addEventListener('click', () => onShowMoreAlerts());
  const alertsSection = h(
    'section',
    { id: 'alerts-panel', class: 'panel-section', dataset: { empty: 'false', loading: 'true' } },
    h('h2', {}, 'Open alerts ', alertCount),
    alertStatus,
    alertList,
    showMore,
    h('p', { class: 'empty', text: 'No open alerts.' }),
  );

  const filterForm = h(
    'form',
    { class: 'panel-section filters', 'aria-label': 'Filter incidents' },
    h('fieldset', {}, h('legend', { text: 'Severity' }),
      SEVERITIES.map((severity) => checkbox('severity', severity, severity, severityDot(severity)))),
    h('fieldset', {}, h('legend', { text: 'Status' }),
      checkbox('status', 'open', 'open'), checkbox('status', 'closed', 'closed')),
  );
  filterForm.addEventListener('change', () => {
    const checked = (name) =>
      new Set([...filterForm.elements].filter((input) => input.name === name && input.checked).map((input) => input.value));
    onFilterChange({ severities: checked('severity'), statuses: checked('status') });
  });

  const incidentList = h('ul', { class: 'item-list' });
  const incidentsSection = h(
    'section',
    { id: 'incidents-panel', class: 'panel-section' },
    h('h2', { text: 'Newest incidents' }),
    incidentList,
    h('p', { class: 'empty', text: 'No incidents in view.' }),
  );

  container.replaceChildren(areaFormHost, alertsSection, filterForm, incidentsSection);

  async function acknowledge(button, alertId) {
    button.disabled = true;
    try {
      await onAcknowledge(alertId);
    } catch {
      // The caller reports the failure; the alert stays open, so allow another try.
      button.disabled = false;
    }
  }

  function renderAlert(alert) {
    const button = h('button', { type: 'button', class: 'button button--small', dataset: { action: 'acknowledge' }, text: 'Acknowledge' });
    button.addEventListener('click', () => acknowledge(button, alert.id));
    return h(
      'li',
      { class: 'item item--alert', dataset: { alertId: alert.id, severity: alert.severity } },
      h('button', { type: 'button', class: 'item__main', onclick: () => onSelectIncident(alert.incident) },
        severityDot(alert.severity),
        h('span', { class: 'item__title', text: alert.incident_name }),
        h('span', { class: 'item__meta', text: `in ${alert.area_name} · ${formatTime(alert.created_at)}` })),
      button,
    );
  }

  function renderIncident(feature) {
    const { name, severity, status, created_at: createdAt } = feature.properties;
    return h(
      'li',
      { class: `item item--${status}`, dataset: { incidentId: feature.id, severity } },
      h('button', { type: 'button', class: 'item__main', onclick: () => onSelectIncident(feature.id) },
        severityDot(severity),
        h('span', { class: 'item__title', text: name }),
        h('span', { class: 'item__meta', text: `${severity} · ${status} · ${formatTime(createdAt)}` })),
    );
  }

  return {
    areaFormHost,
    /**
     * @param {object[]} alerts the loaded active alerts, in display order
     * @param {{loading: boolean, text: string, count: string, empty: boolean, more: boolean}} status
     *   alertsStatus()
     */
    renderAlerts(alerts, status) {
      syncList(alertList, alerts, (alert) => alert.id, renderAlert);
      alertCount.textContent = status.count;
      alertStatus.textContent = status.text;
      alertStatus.hidden = !status.text;
      showMore.hidden = !status.more;
      alertsSection.dataset.empty = String(status.empty);
      alertsSection.dataset.loading = String(status.loading);
    },
    /** @param {object[]} features incident Features, in display order */
    renderIncidents(features) {
      syncList(incidentList, features, (feature) => feature.id, renderIncident);
      incidentsSection.dataset.empty = String(features.length === 0);
    },
  };
}
