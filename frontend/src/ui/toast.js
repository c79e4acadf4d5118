/**
 * Transient notifications in the corner of the dashboard (new alerts, failed saves).
 */

import { severityColor } from '../severity.js';
import { h } from './dom.js';

/** Beyond this many, the oldest toasts go: a burst of alerts must not cover the map. */
const MAX_TOASTS = 4;

let stack = null;

function toastStack() {
  if (!stack?.isConnected) {
    // aria-live so screen readers announce alerts without moving focus away from the map.
    stack = h('div', { class: 'toast-stack', 'aria-live': 'polite' });
    document.body.append(stack);
  }
  return stack;
}

/**
 * @param {object} options
 * @param {string} options.title
 * @param {string} [options.message]
 * @param {'alert'|'error'|'info'} [options.tone] styles the toast (data-tone)
 * @param {string} [options.severity] colours the stripe and sets data-severity
 * @param {number} [options.timeoutMs] auto-dismiss delay
 * @param {() => void} [options.onActivate] clicking the body calls this, then dismisses
 * @returns {() => void} dismisses the toast early (safe to call twice)
 */
export function showToast({ title, message, tone = 'info', severity, timeoutMs = 8000, onActivate }) {
  const dismiss = () => {
    clearTimeout(timer);
    toast.remove();
  };
  const body = h(
    'button',
    {
      type: 'button',
      class: 'toast__body',
      onclick: () => {
        onActivate?.();
        dismiss();
      },
    },
    h('strong', { class: 'toast__title', text: title }),
    message ? h('span', { class: 'toast__message', text: message }) : null,
  );
  const toast = h(
    'div',
    { class: 'toast', role: tone === 'info' ? 'status' : 'alert', dataset: { tone, severity } },
    body,
    h('button', { type: 'button', class: 'toast__close', 'aria-label': 'Dismiss', text: '×', onclick: dismiss }),
  );
  // Through the CSSOM, not a style attribute, which a strict CSP (style-src 'self') blocks.
  if (severity) toast.style.borderLeftColor = severityColor(severity);
  const timer = setTimeout(dismiss, timeoutMs);
  const container = toastStack();
  container.append(toast);
  while (container.children.length > MAX_TOASTS) container.firstElementChild.remove();
  return dismiss;
}
