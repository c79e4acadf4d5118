import { describe, expect, it, vi } from 'vitest';
import { ApiError, createApi, fieldErrors, pathOf, withQuery } from '../src/api.js';

/** A fetch double answering each call with the next queued [status, body] pair. */
function fakeFetch(...responses) {
  return vi.fn(async () => {
    const [status, body] = responses.shift();
    const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
    return { ok: status >= 200 && status < 300, status, text: async () => text };
  });
}

describe('createApi', () => {
  it('sends CSRF token and JSON body on unsafe requests, same-origin credentials always', async () => {
    const fetchImpl = fakeFetch([201, { id: 3 }], [200, { ok: true }]);
    const api = createApi({ base: '/api/v1/', csrfToken: 'tok', fetchImpl });
    expect(await api.post('areas/', { name: 'x' })).toEqual({ id: 3 });
    const [url, init] = fetchImpl.mock.calls[0];
    expect(url).toBe('/api/v1/areas/');
    expect(init).toMatchObject({ method: 'POST', credentials: 'same-origin', body: '{"name":"x"}' });
    expect(init.headers).toMatchObject({ 'X-CSRFToken': 'tok', 'Content-Type': 'application/json' });

    await api.get('alerts/', { acknowledged: 'false' });
    const [getUrl, getInit] = fetchImpl.mock.calls[1];
    expect(getUrl).toBe('/api/v1/alerts/?acknowledged=false');
    expect(getInit.credentials).toBe('same-origin');
    expect(getInit.headers['X-CSRFToken']).toBeUndefined();
  });

  it('returns null for an empty 204 response', async () => {
    const api = createApi({ base: '/api/v1/', csrfToken: 't', fetchImpl: fakeFetch([204, undefined]) });
    expect(await api.del('areas/4/')).toBeNull();
  });

  it('follows next links (as paths) and concatenates features or results', async () => {
    const fetchImpl = fakeFetch(
      [200, { type: 'FeatureCollection', count: 3, next: 'http://tracker.test/api/v1/incidents/?page=2&page_size=2', features: [{ id: 1 }, { id: 2 }] }],
      [200, { type: 'FeatureCollection', count: 3, next: null, features: [{ id: 3 }] }],
      [200, { count: 1, next: null, results: [{ id: 9 }] }],
    );
    const api = createApi({ base: '/api/v1/', fetchImpl });
    expect(await api.getAll('incidents/', { in_bbox: '1,2,3,4', page_size: 2 })).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }]);
    expect(fetchImpl.mock.calls.map(([url]) => url)).toEqual([
      '/api/v1/incidents/?in_bbox=1%2C2%2C3%2C4&page_size=2',
      '/api/v1/incidents/?page=2&page_size=2',
    ]);
    expect(await api.getAll('alerts/')).toEqual([{ id: 9 }]);
  });

  it('turns a 400 into an ApiError naming the fields', async () => {
    const api = createApi({ base: '/api/v1/', fetchImpl: fakeFetch([400, { detail: 'Invalid input.', code: 'invalid', errors: { geometry: ['Invalid polygon.'], 'properties.name': ['Required.'] } }]) });
    const error = await api.post('areas/', {}).catch((e) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(400);
    expect(error.fields).toEqual({ geometry: ['Invalid polygon.'], name: ['Required.'] });
    expect(error.message).toBe('geometry: Invalid polygon.\nname: Required.');
  });

  it('reports throttling and unreachable servers with readable messages', async () => {
    const throttled = createApi({ base: '/', fetchImpl: fakeFetch([429, { detail: 'Request was throttled.' }]) });
    expect((await throttled.post('report/', {}).catch((e) => e)).message).toBe('Request was throttled.');
    const proxyError = createApi({ base: '/', fetchImpl: fakeFetch([502, '<html>Bad gateway</html>']) });
    expect((await proxyError.get('x/').catch((e) => e)).message).toBe('The server answered with an error (HTTP 502).');
    const down = createApi({ base: '/', fetchImpl: vi.fn().mockRejectedValue(new TypeError('Failed to fetch')) });
    const error = await down.get('x/').catch((e) => e);
    expect(error.status).toBe(0);
    expect(error.message).toMatch(/could not be reached/);
  });

  it('lets aborts through unchanged', async () => {
    const abort = Object.assign(new Error('aborted'), { name: 'AbortError' });
    const api = createApi({ base: '/', fetchImpl: vi.fn().mockRejectedValue(abort) });
    expect(await api.get('x/').catch((e) => e)).toBe(abort);
  });
});

describe('helpers', () => {
  it('maps the API error body to input names, general messages to detail', () => {
    const body = {
      detail: 'Invalid input.',
      code: 'invalid',
      errors: { 'properties.name': ['Too long.'], geometry: ['Expected a Point.'], non_field_errors: ['Nope.'] },
    };
    expect(fieldErrors(body, 400)).toEqual({ name: ['Too long.'], geometry: ['Expected a Point.'], detail: ['Nope.'] });
    expect(fieldErrors({ detail: 'Not found.', code: 'not_found' }, 404)).toEqual({ detail: ['Not found.'] });
    expect(fieldErrors(null, 429).detail[0]).toMatch(/Too many requests/);
  });

  it('reduces absolute URLs to path and query', () => {
    expect(pathOf('http://a.test:8000/api/v1/x/?page=2')).toBe('/api/v1/x/?page=2');
    expect(pathOf('/api/v1/x/?page=2')).toBe('/api/v1/x/?page=2');
  });

  it('builds query strings, skipping empty values', () => {
    expect(withQuery('/x/', { a: 1, b: null, c: '', d: 'y z' })).toBe('/x/?a=1&d=y+z');
    expect(withQuery('/x/?p=1', { a: 2 })).toBe('/x/?p=1&a=2');
    expect(withQuery('/x/')).toBe('/x/');
  });

  it('repeats a parameter once per element of an array value', () => {
    expect(withQuery('/x/', { severity: ['high', 'urgent'], a: [] })).toBe('/x/?severity=high&severity=urgent');
  });
});
