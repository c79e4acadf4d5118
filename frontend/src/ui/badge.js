/**
 * The connection badge in the header: its data-state mirrors LiveSocket's status.
 */

const LABELS = {
  connecting: 'Connecting…',
  connected: 'Live',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
};

const TITLES = {
  connecting: 'Opening the live connection',
  connected: 'Receiving live updates',
  reconnecting: 'Connection lost; retrying. The map may be out of date.',
  offline: 'No connection; retrying in the background. The map may be out of date.',
};

/**
 * @param {HTMLElement} element the badge (#connection-badge)
 * @param {import('../socket.js').SocketStatus} status
 */
export function renderBadge(element, status) {
  element.dataset.state = status;
  element.textContent = LABELS[status];
  element.title = TITLES[status];
}
