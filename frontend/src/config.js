/**
 * Page configuration handed over by Django's json_script, so no inline script is needed
 * under the strict CSP (script-src 'self').
 */

/** Id of the `<script type="application/json">` element the templates render. */
export const CONFIG_ELEMENT_ID = 'tracker-config';

/**
 * Reads and parses the page configuration.
 *
 * @param {Document} [doc]
 * @returns {object} the parsed config object (see README.md for its keys)
 * @throws {Error} when the element is missing, so a template mistake fails loudly at start-up
 */
export function readConfig(doc = document) {
  const element = doc.getElementById(CONFIG_ELEMENT_ID);
  if (!element) {
    throw new Error(`Tracker: missing <script type="application/json" id="${CONFIG_ELEMENT_ID}">`);
  }
  return JSON.parse(element.textContent);
}
