/**
 * HTML escaping for the few places where Leaflet takes an HTML string (tooltips).
 * Everything else builds DOM nodes with textContent and needs no escaping.
 */

const ENTITIES = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/**
 * @param {unknown} value any value; null and undefined become ''
 * @returns {string} text safe to place in HTML element content or a quoted attribute value
 */
export function escapeHtml(value) {
  return String(value ?? '').replace(/[&<>"']/g, (char) => ENTITIES[char]);
}
