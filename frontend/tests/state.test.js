import { describe, expect, it } from 'vitest';
import {
  alertState,
  alertSummary,
  applyEnvelope,
  createState,
  loadAlertPage,
  loadItems,
  netChanges,
  newestIncidents,
  normalizeAlert,
  openAlerts,
  removeItem,
  snapshotVersion,
  timeMicros,
} from '../src/state.js';

const T0 = '2026-11-21T10:00:00Z';
const T1 = '2026-11-21T10:05:00Z';
const T2 = '2026-11-21T10:10:00Z';

function incident(id, { updated = T0, created = T0, severity = 'high', status = 'open', name = `incident ${id}` } = {}) {
  return {
    type: 'Feature',
    id,
    geometry: { type: 'Point', coordinates: [13.4, 52.5] },
    properties: { name, description: '', severity, status, reported_publicly: false, reporter: 'demo', created_at: created, updated_at: updated, url: `/incidents/${id}/` },
  };
}

function area(id, { updated = T0, threshold = 'medium' } = {}) {
  return {
    type: 'Feature',
    id,
    geometry: { type: 'Polygon', coordinates: [[[13, 52], [14, 52], [14, 53], [13, 52]]] },
    properties: { name: `area ${id}`, threshold, owner: 'demo', created_at: T0, updated_at: updated },
  };
}

function restAlert(id, { incidentId = 1, areaId = 9 } = {}) {
  return { id, incident: incidentId, area: areaId, area_name: `area ${areaId}`, incident_name: `incident ${incidentId}`, severity: 'high', created_at: T0, acknowledged_at: null, acknowledged_by: null };
}

function pushedAlert(id, { areaId = 9, acknowledged = false } = {}) {
  return {
    id,
    area: { id: areaId, name: `area ${areaId}`, threshold: 'medium' },
    created_at: T0,
    acknowledged_at: acknowledged ? T1 : null,
    acknowledged_by: acknowledged ? 'dispatcher' : null,
  };
}

let nextEventId = 1;
const envelope = (type, op, feature, extra = {}) => ({ id: nextEventId++, type, op, at: T0, feature, ...extra });

const summary = (changes) => changes.map(({ kind, op, id }) => `${kind}:${op}:${id}`);

describe('applyEnvelope: incidents and areas', () => {
  for (const kind of ['incident', 'area']) {
    const make = kind === 'incident' ? incident : area;
    const collection = kind === 'incident' ? 'incidents' : 'areas';

    it(`${kind} created adds it`, () => {
      const state = createState();
      const changes = applyEnvelope(state, envelope(kind, 'created', make(1)));
      expect(summary(changes)).toEqual([`${kind}:created:1`]);
      expect(changes[0].item).toEqual(make(1));
      expect(state[collection].get(1)).toEqual(make(1));
    });

    it(`${kind} updated replaces it with the newer version`, () => {
      const state = createState();
      applyEnvelope(state, envelope(kind, 'created', make(1)));
      const changes = applyEnvelope(state, envelope(kind, 'updated', make(1, { updated: T1 })));
      expect(summary(changes)).toEqual([`${kind}:updated:1`]);
      expect(state[collection].get(1).properties.updated_at).toBe(T1);
    });

    it(`${kind} updated for an unknown id adds it (it may be outside the loaded view)`, () => {
      const state = createState();
      expect(summary(applyEnvelope(state, envelope(kind, 'updated', make(3))))).toEqual([`${kind}:created:3`]);
    });

    it(`${kind} deleted removes it and it never comes back`, () => {
      const state = createState();
      applyEnvelope(state, envelope(kind, 'created', make(1)));
      const changes = applyEnvelope(state, envelope(kind, 'deleted', make(1)));
      expect(summary(changes)).toEqual([`${kind}:deleted:1`]);
      expect(changes[0].item).toEqual(make(1));
      expect(state[collection].has(1)).toBe(false);
      // A snapshot requested before the deletion still lists it.
      expect(loadItems(state, kind, [make(1)])).toEqual([]);
      expect(applyEnvelope(state, envelope(kind, 'updated', make(1, { updated: T2 })))).toEqual([]);
      expect(state[collection].has(1)).toBe(false);
    });

    it(`${kind} deleted for an unknown id changes nothing`, () => {
      expect(applyEnvelope(createState(), envelope(kind, 'deleted', make(5)))).toEqual([]);
    });
  }

  it('ignores envelopes of unknown type', () => {
    const state = createState();
    expect(applyEnvelope(state, envelope('bogus', 'created', incident(1)))).toEqual([]);
  });

  it('does not let an older version overwrite a newer one', () => {
    const state = createState();
    applyEnvelope(state, envelope('incident', 'updated', incident(1, { updated: T2 })));
    expect(applyEnvelope(state, envelope('incident', 'updated', incident(1, { updated: T1 })))).toEqual([]);
    expect(state.incidents.get(1).properties.updated_at).toBe(T2);
  });
});

describe('applyEnvelope: alerts', () => {
  it('created adds the open alerts and refreshes the incident', () => {
    const state = createState();
    const feature = incident(1, { updated: T1 });
    const changes = applyEnvelope(state, envelope('alert', 'created', feature, { alerts: [pushedAlert(50), pushedAlert(51, { areaId: 10 })] }));
    expect(summary(changes)).toEqual(['incident:created:1', 'alert:created:50', 'alert:created:51']);
    expect(state.alerts.get(50)).toEqual(normalizeAlert(pushedAlert(50), feature));
    expect(state.alerts.get(51)).toMatchObject({ id: 51, incident: 1, area: 10, area_name: 'area 10', incident_name: 'incident 1', severity: 'high' });
  });

  it('created for an alert already loaded over REST is not news', () => {
    const state = createState();
    loadItems(state, 'alert', [restAlert(50)]);
    loadItems(state, 'incident', [incident(1)]);
    expect(applyEnvelope(state, envelope('alert', 'created', incident(1), { alerts: [pushedAlert(50)] }))).toEqual([]);
  });

  it('updated (acknowledged) removes the alert from the open set for good', () => {
    const state = createState();
    applyEnvelope(state, envelope('alert', 'created', incident(1), { alerts: [pushedAlert(50)] }));
    const changes = applyEnvelope(state, envelope('alert', 'updated', incident(1), { alerts: [pushedAlert(50, { acknowledged: true })] }));
    expect(summary(changes)).toEqual(['alert:deleted:50']);
    expect(state.alerts.size).toBe(0);
    expect(loadItems(state, 'alert', [restAlert(50)])).toEqual([]);
  });

  it('deleting an incident or an area closes its open alerts', () => {
    const state = createState();
    loadItems(state, 'alert', [restAlert(50, { incidentId: 1, areaId: 9 }), restAlert(51, { incidentId: 2, areaId: 9 }), restAlert(52, { incidentId: 3, areaId: 8 })]);
    // Incident 1 was never loaded (outside the view), its alert still goes.
    expect(summary(applyEnvelope(state, envelope('incident', 'deleted', incident(1))))).toEqual(['alert:deleted:50']);
    expect(summary(applyEnvelope(state, envelope('area', 'deleted', area(9))))).toEqual(['alert:deleted:51']);
    expect([...state.alerts.keys()]).toEqual([52]);
  });
});

describe('loadItems (REST snapshots)', () => {
  it('merges by default and reports only real changes', () => {
    const state = createState();
    expect(summary(loadItems(state, 'incident', [incident(1), incident(2)]))).toEqual(['incident:created:1', 'incident:created:2']);
    expect(summary(loadItems(state, 'incident', [incident(1), incident(2, { updated: T1 }), incident(3)]))).toEqual([
      'incident:updated:2',
      'incident:created:3',
    ]);
  });

  it('keeps a newer pushed version over an older snapshot', () => {
    const state = createState();
    applyEnvelope(state, envelope('incident', 'updated', incident(1, { updated: T2, status: 'closed' })));
    expect(loadItems(state, 'incident', [incident(1, { updated: T1 })])).toEqual([]);
    expect(state.incidents.get(1).properties.status).toBe('closed');
  });

  it('replace drops items missing from the snapshot but keeps ones pushed after it was requested', () => {
    const state = createState();
    loadItems(state, 'incident', [incident(1), incident(2)]);
    applyEnvelope(state, envelope('incident', 'created', incident(3)));
    const since = snapshotVersion(state);
    applyEnvelope(state, envelope('incident', 'created', incident(4))); // arrives while the request runs
    const changes = loadItems(state, 'incident', [incident(2)], { replace: true, since });
    expect(summary(changes).sort()).toEqual(['incident:deleted:1', 'incident:deleted:3']);
    expect([...state.incidents.keys()].sort()).toEqual([2, 4]);
    // Dropped because it was out of the snapshot, not deleted: it may come back.
    expect(summary(loadItems(state, 'incident', [incident(1)]))).toEqual(['incident:created:1']);
  });

  it('never loads acknowledged alerts as open', () => {
    const state = createState();
    expect(loadItems(state, 'alert', [{ ...restAlert(7), acknowledged_at: T1 }])).toEqual([]);
  });
});

describe('removeItem', () => {
  it('removes an acknowledged alert and reports it once', () => {
    const state = createState();
    loadItems(state, 'alert', [restAlert(7)]);
    expect(summary(removeItem(state, 'alert', 7))).toEqual(['alert:deleted:7']);
    expect(removeItem(state, 'alert', 7)).toEqual([]);
  });
});

describe('selectors', () => {
  it('lists the newest incidents first, filtered and limited', () => {
    const state = createState();
    loadItems(state, 'incident', [
      incident(1, { created: T0 }),
      incident(2, { created: T2, severity: 'low' }),
      incident(3, { created: T1 }),
      incident(4, { created: T1 }),
    ]);
    expect(newestIncidents(state, 10).map((f) => f.id)).toEqual([2, 4, 3, 1]);
    expect(newestIncidents(state, 2, (f) => f.properties.severity === 'high').map((f) => f.id)).toEqual([4, 3]);
  });

  it('selects the same newest incidents as sorting them all, in any arrival order', () => {
    const state = createState();
    // 500 incidents over 40 distinct times (ties broken by id), arriving shuffled.
    const ids = [...Array(500).keys()].map((i) => i + 1);
    let seed = 7;
    const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    for (let i = ids.length - 1; i > 0; i -= 1) {
      const j = Math.floor(random() * (i + 1));
      [ids[i], ids[j]] = [ids[j], ids[i]];
    }
    const createdOf = (id) => new Date(Date.parse(T0) + (id % 40) * 1000).toISOString();
    loadItems(state, 'incident', ids.map((id) => incident(id, { created: createdOf(id), severity: id % 3 ? 'high' : 'low' })));
    const sorted = [...state.incidents.values()]
      .sort((a, b) => Date.parse(b.properties.created_at) - Date.parse(a.properties.created_at) || b.id - a.id);
    const high = (f) => f.properties.severity === 'high';
    expect(newestIncidents(state, 50).map((f) => f.id)).toEqual(sorted.slice(0, 50).map((f) => f.id));
    expect(newestIncidents(state, 50, high).map((f) => f.id)).toEqual(sorted.filter(high).slice(0, 50).map((f) => f.id));
    expect(newestIncidents(state, 1000)).toHaveLength(500);
    expect(newestIncidents(state, 0)).toEqual([]);
  });

  it('lists open alerts newest first', () => {
    const state = createState();
    loadItems(state, 'alert', [{ ...restAlert(1), created_at: T0 }, { ...restAlert(2), created_at: T2 }, { ...restAlert(3), created_at: T1 }]);
    expect(openAlerts(state).map((a) => a.id)).toEqual([2, 3, 1]);
  });
});

describe('alert states (the API ?state=)', () => {
  const cleared = (alert) => ({ ...alert, cleared_at: T2 });
  const acknowledged = (alert) => ({ ...alert, acknowledged_at: T1, acknowledged_by: 'dispatcher' });

  it('alertState: cleared whether acknowledged or not, else acknowledged, else active', () => {
    expect(alertState(restAlert(1))).toBe('active');
    expect(alertState(acknowledged(restAlert(1)))).toBe('acknowledged');
    expect(alertState(cleared(restAlert(1)))).toBe('cleared');
    expect(alertState(cleared(acknowledged(restAlert(1))))).toBe('cleared');
    expect(alertState(pushedAlert(1))).toBe('active');
  });

  it('a pushed clear removes the alert for good, as ?state=active drops it (defect 1)', () => {
    const state = createState();
    loadAlertPage(state, { count: 1, results: [restAlert(50)] });
    const changes = applyEnvelope(state, envelope('alert', 'updated', incident(1, { updated: T1, status: 'closed' }), {
      alerts: [{ ...pushedAlert(50), cleared_at: T1 }],
    }));
    expect(summary(changes)).toEqual(['incident:created:1', 'alert:deleted:50']);
    expect(alertSummary(state)).toEqual({ loading: false, shown: 0, total: 0 });
    // A reload that raced the clear (its snapshot still lists the alert) does not bring it back.
    expect(loadItems(state, 'alert', [restAlert(50)])).toEqual([]);
  });

  it('never loads cleared alerts as open', () => {
    const state = createState();
    expect(loadItems(state, 'alert', [cleared(restAlert(7)), acknowledged(restAlert(8))])).toEqual([]);
  });

  it('normalises a pushed alert to the REST shape, cleared_at included', () => {
    expect(Object.keys(normalizeAlert(pushedAlert(50), incident(1))).sort()).toEqual(Object.keys(restAlert(50)).concat('cleared_at').sort());
  });

  it('an incident or area change refreshes what its stored alerts show, as REST shows it', () => {
    const state = createState();
    loadItems(state, 'alert', [restAlert(50, { incidentId: 1, areaId: 9 }), restAlert(51, { incidentId: 2, areaId: 9 })]);
    const renamed = incident(1, { updated: T1, name: 'renamed', severity: 'urgent' });
    const changes = applyEnvelope(state, envelope('incident', 'updated', renamed));
    expect(summary(changes)).toEqual(['incident:created:1', 'alert:updated:50']);
    expect(state.alerts.get(50)).toMatchObject({ incident_name: 'renamed', severity: 'urgent' });
    const areaRenamed = { ...area(9, { updated: T1 }), properties: { ...area(9).properties, name: 'Centro', updated_at: T1 } };
    expect(summary(applyEnvelope(state, envelope('area', 'updated', areaRenamed)))).toEqual(['area:created:9', 'alert:updated:50', 'alert:updated:51']);
    expect(openAlerts(state).map((alert) => alert.area_name)).toEqual(['Centro', 'Centro']);
    // Nothing alert-visible changed: no alert change.
    expect(summary(applyEnvelope(state, envelope('incident', 'updated', { ...renamed, properties: { ...renamed.properties, updated_at: T2 } })))).toEqual(['incident:updated:1']);
  });
});

describe('the alerts window and its total', () => {
  it('is loading (not empty) until a page answers, then holds the window and the count', () => {
    const state = createState();
    expect(alertSummary(state)).toEqual({ loading: true, shown: 0, total: 0 });
    const changes = loadAlertPage(state, { count: 73436, results: [restAlert(2), restAlert(1)] });
    expect(summary(changes)).toEqual(['alert:created:2', 'alert:created:1']);
    expect(alertSummary(state)).toEqual({ loading: false, shown: 2, total: 73436 });
  });

  it('live events move the total as they move alerts between states', () => {
    const state = createState();
    loadAlertPage(state, { count: 10, results: [restAlert(9), restAlert(8)] });
    applyEnvelope(state, envelope('alert', 'created', incident(1), { alerts: [pushedAlert(11)] }));
    expect(alertSummary(state)).toEqual({ loading: false, shown: 3, total: 11 });
    // Acknowledged in the window, then cleared: one step out of active.
    applyEnvelope(state, envelope('alert', 'updated', incident(1), { alerts: [pushedAlert(9, { acknowledged: true })] }));
    applyEnvelope(state, envelope('alert', 'updated', incident(1), { alerts: [{ ...pushedAlert(9, { acknowledged: true }), cleared_at: T2 }] }));
    expect(alertSummary(state)).toEqual({ loading: false, shown: 2, total: 10 });
    // Outside the window: acknowledged, or cleared, leaves active; cleared after acknowledged does not.
    applyEnvelope(state, envelope('alert', 'updated', incident(1), { alerts: [pushedAlert(3, { acknowledged: true })] }));
    applyEnvelope(state, envelope('alert', 'updated', incident(1), { alerts: [{ ...pushedAlert(4), cleared_at: T2 }] }));
    applyEnvelope(state, envelope('alert', 'updated', incident(1), { alerts: [{ ...pushedAlert(3, { acknowledged: true }), cleared_at: T2 }] }));
    expect(alertSummary(state).total).toBe(8);
    // Acknowledging from the panel and then hearing about it counts once.
    removeItem(state, 'alert', 8);
    applyEnvelope(state, envelope('alert', 'updated', incident(1), { alerts: [pushedAlert(8, { acknowledged: true })] }));
    expect(alertSummary(state)).toEqual({ loading: false, shown: 1, total: 7 });
  });

  it('a deleted alert leaves the store and, if it was active, the total', () => {
    const state = createState();
    loadAlertPage(state, { count: 5, results: [restAlert(50)] });
    expect(summary(applyEnvelope(state, envelope('alert', 'deleted', incident(1), { alerts: [pushedAlert(50)] })))).toEqual(['incident:created:1', 'alert:deleted:50']);
    applyEnvelope(state, envelope('alert', 'deleted', incident(1), { alerts: [pushedAlert(3)] })); // outside the window
    applyEnvelope(state, envelope('alert', 'deleted', incident(1), { alerts: [pushedAlert(4, { acknowledged: true })] }));
    expect(alertSummary(state)).toEqual({ loading: false, shown: 0, total: 3 });
    expect(loadItems(state, 'alert', [restAlert(50), restAlert(3)])).toEqual([]);
  });

  it('a created event for an alert the page already had is not counted twice', () => {
    const state = createState();
    loadAlertPage(state, { count: 1, results: [restAlert(5)] });
    applyEnvelope(state, envelope('alert', 'created', incident(1), { alerts: [pushedAlert(5)] }));
    expect(alertSummary(state).total).toBe(1);
  });

  it('deleting an incident takes its stored alerts out of the total', () => {
    const state = createState();
    loadAlertPage(state, { count: 5, results: [restAlert(50, { incidentId: 1 }), restAlert(51, { incidentId: 2 })] });
    applyEnvelope(state, envelope('incident', 'deleted', incident(1)));
    expect(alertSummary(state)).toEqual({ loading: false, shown: 1, total: 4 });
  });

  it('a newer page replaces the window and its count, keeping alerts pushed while it loaded', () => {
    const state = createState();
    loadAlertPage(state, { count: 3, results: [restAlert(3), restAlert(2), restAlert(1)] });
    const since = snapshotVersion(state);
    applyEnvelope(state, envelope('alert', 'created', incident(1), { alerts: [pushedAlert(4)] }));
    const changes = loadAlertPage(state, { count: 2, results: [restAlert(3), restAlert(2)] }, { since });
    expect(summary(changes)).toEqual(['alert:deleted:1']);
    expect(alertSummary(state)).toEqual({ loading: false, shown: 3, total: 3 });
  });
});

describe('freshness to the microsecond', () => {
  it('takes a version saved less than a millisecond after the stored one, and not the reverse', () => {
    const state = createState();
    loadItems(state, 'incident', [incident(1, { updated: '2026-11-21T10:00:00.123400Z', severity: 'low' })]);
    applyEnvelope(state, envelope('incident', 'updated', incident(1, { updated: '2026-11-21T10:00:00.123900Z' })));
    expect(state.incidents.get(1).properties.severity).toBe('high');
    loadItems(state, 'incident', [incident(1, { updated: '2026-11-21T10:00:00.1235Z', severity: 'low' })]);
    expect(state.incidents.get(1).properties.severity).toBe('high');
  });

  it('reads whole seconds and fewer digits', () => {
    expect(timeMicros('2026-11-21T10:00:00Z')).toBe(Date.parse('2026-11-21T10:00:00Z') * 1000);
    expect(timeMicros('2026-11-21T10:00:00.5Z') - timeMicros('2026-11-21T10:00:00.000001Z')).toBe(499999);
  });
});

describe('netChanges: one change per item for a batch', () => {
  it('keeps the last version of an item, as created when it was new in the batch, in first-change order', () => {
    const state = createState();
    loadItems(state, 'incident', [incident(1)]);
    const changes = [
      ...applyEnvelope(state, envelope('incident', 'created', incident(2))),
      ...applyEnvelope(state, envelope('incident', 'updated', incident(1, { updated: T1 }))),
      ...applyEnvelope(state, envelope('incident', 'updated', incident(2, { updated: T1, name: 'renamed' }))),
      ...applyEnvelope(state, envelope('incident', 'updated', incident(1, { updated: T2 }))),
    ];
    expect(summary(changes)).toEqual(['incident:created:2', 'incident:updated:1', 'incident:updated:2', 'incident:updated:1']);
    const net = netChanges(changes);
    expect(summary(net)).toEqual(['incident:created:2', 'incident:updated:1']);
    expect(net[0].item.properties.name).toBe('renamed');
    expect(net[1].item.properties.updated_at).toBe(T2);
  });

  it('drops an item created and deleted in the same batch, keeps a deletion of an older one', () => {
    const state = createState();
    loadItems(state, 'incident', [incident(1)]);
    const changes = [
      ...applyEnvelope(state, envelope('incident', 'created', incident(2))),
      ...applyEnvelope(state, envelope('incident', 'updated', incident(1, { updated: T1 }))),
      ...applyEnvelope(state, envelope('incident', 'deleted', incident(2))),
      ...applyEnvelope(state, envelope('incident', 'deleted', incident(1, { updated: T1 }))),
    ];
    expect(summary(netChanges(changes))).toEqual(['incident:deleted:1']);
    expect(netChanges([])).toEqual([]);
  });

  it('keeps kinds apart: an incident and an alert with the same id', () => {
    const state = createState();
    const changes = applyEnvelope(state, envelope('alert', 'created', incident(5), { alerts: [pushedAlert(5)] }));
    expect(summary(netChanges(changes))).toEqual(['incident:created:5', 'alert:created:5']);
  });
});
