/**
 * fetch wrapper for the Tracker REST API: JSON in and out, Django's CSRF header on unsafe
 * methods, errors as ApiError with the per-field messages DRF returns, and `next` pagination.
 */

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Keys DRF uses for messages that belong to no single form field. */
const GENERAL_KEYS = new Set(['detail', 'non_field_errors']);

/** A non-2xx response (or a network failure, with status 0). */
export class ApiError extends Error {
  /**
   * @param {number} status HTTP status, 0 when the request never got a response
   * @param {Record<string, string[]>} fields messages per field; general ones under 'detail'
   */
  constructor(status, fields) {
    super(summarizeErrors(fields));
    this.name = 'ApiError';
    this.status = status;
    this.fields = fields;
  }
}

/**
 * Normalises the API's error body, {"detail", "code", "errors": {"properties.name": ["msg"], ...}}:
 * field paths are reduced to their last segment so a form finds them by input name, and the
 * general `detail` is used only when no field is named.
 *
 * @param {unknown} body parsed JSON error body (anything else yields a generic message)
 * @param {number} status
 * @returns {Record<string, string[]>} at least one message
 */
export function fieldErrors(body, status) {
  const fields = {};
  const add = (key, messages) => {
    const field = GENERAL_KEYS.has(key) ? 'detail' : key;
    fields[field] = [...(fields[field] ?? []), ...[messages].flat().map(String)];
  };
  const errors = body && typeof body === 'object' ? body.errors : undefined;
  if (errors && typeof errors === 'object') {
    for (const [path, messages] of Object.entries(errors)) add(path.split('.').pop(), messages);
  } else if (body && typeof body === 'object' && body.detail) {
    add('detail', body.detail);
  }
  if (Object.keys(fields).length === 0) fields.detail = [defaultMessage(status)];
  return fields;
}

function defaultMessage(status) {
  if (status === 0) return 'The server could not be reached. Check the connection and try again.';
  if (status === 429) return 'Too many requests. Please wait a moment and try again.';
  return `The server answered with an error (HTTP ${status}).`;
}

/**
 * @param {Record<string, string[]>} fields
 * @returns {string} one line per field, general messages without a field prefix
 */
export function summarizeErrors(fields) {
  return Object.entries(fields)
    .map(([field, messages]) => (field === 'detail' ? messages.join(' ') : `${field}: ${messages.join(' ')}`))
    .join('\n');
}

/**
 * DRF builds `next` links as absolute URLs from the Host it saw, which behind a TLS-terminating
 * proxy can be http:// on an https:// page. Only the path and query are ours to follow.
 *
 * @param {string} url absolute or relative URL
 * @returns {string} path + query
 */
export function pathOf(url) {
  return url.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, '');
}

/**
 * @param {string} path
 * @param {Record<string, string|number|Array<string|number>|undefined|null>} [params] empty values
 *   are skipped; an array repeats the parameter once per element
 * @returns {string} path with an encoded query string
 */
export function withQuery(path, params = {}) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    for (const item of [value].flat()) {
      if (item != null && item !== '') query.append(key, String(item));
    }
  }
  const text = query.toString();
  return text ? `${path}${path.includes('?') ? '&' : '?'}${text}` : path;
}

/**
 * @param {object} options
 * @param {string} options.base API root from the page config, e.g. '/api/v1/'
 * @param {string} [options.csrfToken] sent as X-CSRFToken on unsafe methods
 * @param {typeof fetch} [options.fetchImpl]
 * @returns {{get: Function, post: Function, patch: Function, del: Function, getAll: Function}}
 *   each resolves to the parsed JSON body (null when empty) or rejects with ApiError; paths are
 *   relative to `base` (e.g. 'incidents/')
 */
export function createApi({ base, csrfToken, fetchImpl = (...args) => globalThis.fetch(...args) }) {
  /**
   * @param {string} method
   * @param {string} url absolute path (already joined with base)
   * @param {{body?: unknown, signal?: AbortSignal}} [options]
   * @returns {Promise<any>} parsed JSON body, or null for an empty (e.g. 204) response
   * @throws {ApiError} on a non-2xx response or a network failure;
   *   an AbortError propagates unchanged so callers can ignore superseded requests
   */
  async function request(method, url, { body, signal } = {}) {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (!SAFE_METHODS.has(method) && csrfToken) headers['X-CSRFToken'] = csrfToken;
    let response;
    try {
      response = await fetchImpl(url, {
        method,
        headers,
        credentials: 'same-origin',
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
    } catch (error) {
      if (error?.name === 'AbortError') throw error;
      throw new ApiError(0, fieldErrors(null, 0));
    }
    const text = await response.text();
    const data = text ? parseJson(text) : null;
    if (!response.ok) throw new ApiError(response.status, fieldErrors(data, response.status));
    return data;
  }

  const url = (path, params) => withQuery(`${base}${path}`, params);

  return {
    get: (path, params, options) => request('GET', url(path, params), options),
    post: (path, body, options) => request('POST', url(path), { ...options, body }),
    patch: (path, body, options) => request('PATCH', url(path), { ...options, body }),
    del: (path, options) => request('DELETE', url(path), options),

    /**
     * Fetches every page of a list endpoint by following `next`.
     *
     * @param {string} path
     * @param {object} [params]
     * @param {{signal?: AbortSignal}} [options]
     * @returns {Promise<object[]>} all `features` (FeatureCollection) or `results` (plain list)
     */
    async getAll(path, params, options) {
      const items = [];
      let next = url(path, params);
      while (next) {
        const page = await request('GET', next, options);
        items.push(...(page.features ?? page.results ?? []));
        next = page.next ? pathOf(page.next) : null;
      }
      return items;
    },
  };
}

/** An HTML error page (e.g. a proxy's 502) is not JSON; keep its status, drop the body. */
function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
