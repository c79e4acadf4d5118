/**
 * The coloured dot that stands for a severity in lists, popups and filters.
 */

import { severityColor } from '../severity.js';
import { h } from './dom.js';

/**
 * @param {string} severity
 * @returns {HTMLElement} decorative span (hidden from screen readers; show the name as text too)
 */
export function severityDot(severity) {
  const dot = h('span', { class: 'severity-dot', 'aria-hidden': 'true' });
  // Through the CSSOM, not a style attribute, which a strict CSP (style-src 'self') blocks.
  dot.style.backgroundColor = severityColor(severity);
  return dot;
}
