/**
 * Tiny DOM builder. All text goes in through text nodes, never innerHTML, so user-supplied
 * names and descriptions are displayed literally and cannot inject markup.
 */

/**
 * @param {string} tag
 * @param {object} [props] `class`, `text`, `dataset` (object; null entries skipped), `on<event>`
 *   listeners; any other
 *   key becomes an attribute (true -> present and empty, null/false/undefined -> absent)
 * @param {...(Node|string|number|null|false|Array)} children strings become text nodes
 * @returns {HTMLElement}
 */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value == null || value === false) continue;
    if (key === 'class') element.className = value;
    else if (key === 'text') element.textContent = value;
    else if (key === 'dataset') {
      for (const [name, data] of Object.entries(value)) if (data != null) element.dataset[name] = data;
    }
    else if (key.startsWith('on')) element.addEventListener(key.slice(2), value);
    else element.setAttribute(key, value === true ? '' : value);
  }
  element.append(...children.flat().filter((child) => child != null && child !== false));
  return element;
}

/**
 * Finds an element the template should provide, creating it if the template left it out, so a
 * missing container degrades the layout rather than the whole page.
 *
 * @param {string} id
 * @param {() => HTMLElement} create builds (and inserts) the element when it is missing
 * @returns {HTMLElement}
 */
export function ensureElement(id, create) {
  return document.getElementById(id) ?? create();
}

const TIME_FORMAT = new Intl.DateTimeFormat(undefined, { dateStyle: 'short', timeStyle: 'short' });

/**
 * @param {string} iso ISO 8601 timestamp
 * @returns {string} short local date and time; '' for a missing or unparsable value
 */
export function formatTime(iso) {
  const time = Date.parse(iso);
  return Number.isNaN(time) ? '' : TIME_FORMAT.format(time);
}

/** Which item each node of a syncList was rendered from. */
const renderedFrom = new WeakMap();

/**
 * Makes `list`'s children show `items` in order, re-rendering only items that are new or were
 * replaced (compared by identity); unchanged nodes are reused, so a disabled button or an
 * open <details> keeps its state across updates.
 *
 * @param {HTMLElement} list
 * @param {object[]} items
 * @param {(item: object) => string|number} key
 * @param {(item: object) => HTMLElement} render
 */
export function syncList(list, items, key, render) {
  const byKey = new Map([...list.children].map((node) => [node.dataset.key, node]));
  const nodes = items.map((item) => {
    const existing = byKey.get(String(key(item)));
    if (existing && renderedFrom.get(existing) === item) return existing;
    const node = render(item);
    node.dataset.key = key(item);
    renderedFrom.set(node, item);
    return node;
  });
  list.replaceChildren(...nodes);
}
