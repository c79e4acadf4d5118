import { describe, expect, it } from 'vitest';
import {
  ALERT_PAGE_SIZE,
  ANNOUNCE_EACH_MAX,
  MAX_ALERT_WINDOW,
  alertWindowNeedsRefill,
  announcements,
  alertWindowParams,
  alertsStatus,
  growAlertWindow,
} from '../src/alerts.js';

const count = (n) => new Intl.NumberFormat().format(n);

describe('alertsStatus: never "none" while alerts exist (defect 6)', () => {
  it('says loading, not empty, until the server answered', () => {
    const status = alertsStatus({ loading: true, shown: 0, total: 0 }, { limit: ALERT_PAGE_SIZE });
    expect(status).toMatchObject({ loading: true, text: 'Loading alerts…', empty: false, more: false });
  });

  it('says it is retrying, still not empty, after a failed first load', () => {
    const status = alertsStatus({ loading: true, shown: 0, total: 0 }, { limit: ALERT_PAGE_SIZE, failed: true });
    expect(status).toMatchObject({ loading: true, empty: false });
    expect(status.text).toMatch(/could not be loaded; retrying/);
  });

  it('shows the window of the total, and offers more', () => {
    const status = alertsStatus({ loading: false, shown: 50, total: 73436 }, { limit: 50 });
    expect(status).toEqual({ loading: false, text: `Showing 50 of ${count(73436)}`, count: `(${count(73436)})`, empty: false, more: true });
  });

  it('offers no more once the window is the largest page', () => {
    expect(alertsStatus({ loading: false, shown: MAX_ALERT_WINDOW, total: 5000 }, { limit: MAX_ALERT_WINDOW }).more).toBe(false);
  });

  it('says nothing more when everything is shown, and empty only for a total of zero', () => {
    expect(alertsStatus({ loading: false, shown: 3, total: 3 }, { limit: 50 })).toEqual({ loading: false, text: '', count: '(3)', empty: false, more: false });
    expect(alertsStatus({ loading: false, shown: 0, total: 0 }, { limit: 50 })).toMatchObject({ empty: true, count: '' });
    expect(alertsStatus({ loading: false, shown: 0, total: 12 }, { limit: 50 })).toMatchObject({ empty: false, text: 'Showing 0 of 12' });
  });
});

describe('the alerts window', () => {
  it('asks for the newest active alerts, one window at a time', () => {
    expect(alertWindowParams(50)).toEqual({ state: 'active', page_size: 50 });
    expect(growAlertWindow(ALERT_PAGE_SIZE)).toBe(2 * ALERT_PAGE_SIZE);
    expect(growAlertWindow(MAX_ALERT_WINDOW - 10)).toBe(MAX_ALERT_WINDOW);
  });

  it('is refilled when alerts left it while the server has more', () => {
    expect(alertWindowNeedsRefill({ loading: false, shown: 49, total: 73435 }, 50)).toBe(true);
    expect(alertWindowNeedsRefill({ loading: false, shown: 50, total: 73436 }, 50)).toBe(false);
    expect(alertWindowNeedsRefill({ loading: false, shown: 3, total: 3 }, 50)).toBe(false);
    expect(alertWindowNeedsRefill({ loading: true, shown: 0, total: 0 }, 50)).toBe(false);
  });
});

describe('announcements: a burst of alerts is one toast', () => {
  const alert = (id, severity, area) => ({ id, severity, area_name: area });

  it('announces up to ANNOUNCE_EACH_MAX alerts one by one, in order', () => {
    const alerts = [alert(1, 'low', 'Retiro'), alert(2, 'high', 'Once'), alert(3, 'medium', 'Retiro')];
    expect(ANNOUNCE_EACH_MAX).toBe(3);
    expect(announcements(alerts)).toEqual({ each: alerts, summary: null });
    expect(announcements([])).toEqual({ each: [], summary: null });
  });

  it('summarises more: how many, the highest severity and the areas, at most three named', () => {
    const areas = ['Retiro', 'Once', 'Retiro', 'Palermo', 'Boedo', 'Flores'];
    const severities = ['low', 'medium', 'urgent', 'high', 'info', 'low'];
    const alerts = areas.map((area, i) => alert(i, severities[i], area));
    expect(announcements(alerts)).toEqual({
      each: [],
      summary: { title: '6 new alerts', message: 'up to urgent in Retiro, Once, Palermo and 2 more', severity: 'urgent' },
    });
    const four = alerts.slice(0, 4);
    expect(announcements(four).summary.message).toBe('up to urgent in Retiro, Once, Palermo');
    expect(announcements(alerts.slice(0, 2), 1).summary.title).toBe('2 new alerts');
  });
});
