/**
 * The contract test, replayed in the browser's own store: sequences recorded by the Python contract test
 * (tests/contract/test_contract.py) against the real server, each an initial REST snapshot, then per step
 * the envelopes the WebSocket pushed and a fresh REST snapshot. Loading the initial snapshot as the
 * dashboard does and applying the envelopes must give, after every step, what the fresh snapshot shows:
 * the incidents, the areas and the active alerts with their total.
 *
 * Replays the committed fixtures (fixtures/contract/) and, when `make test` has just run pytest, every
 * sequence of that run (../test-artifacts/contract/).
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { alertSummary, applyEnvelope, createState, loadAlertPage, loadItems, openAlerts } from '../src/state.js';

const SOURCES = [
  new URL('./fixtures/contract/', import.meta.url),
  new URL('../../test-artifacts/contract/', import.meta.url),
];

function sequences() {
  return SOURCES.flatMap((url) => {
    const dir = fileURLToPath(url);
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .filter((name) => name.endsWith('.json'))
      .sort()
      .map((name) => [`${url.pathname.split('/').at(-2)}/${name}`, JSON.parse(readFileSync(dir + name, 'utf8'))]);
  });
}

// The API's ?state=active, written out here rather than taken from state.js, which is what is under test.
const isActive = (alert) => alert.cleared_at === null && alert.acknowledged_at === null;
const byId = (a, b) => a.id - b.id;

function activeAlertPage(snapshot) {
  const results = snapshot.alerts.filter(isActive).sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at) || b.id - a.id);
  return { count: results.length, results };
}

/** What the store shows, in the snapshot's shape (sorted by id). */
function shown(state) {
  return {
    incidents: [...state.incidents.values()].sort(byId),
    areas: [...state.areas.values()].sort(byId),
    alerts: openAlerts(state).sort(byId),
    alertTotal: alertSummary(state).total,
  };
}

function expected(snapshot) {
  const active = snapshot.alerts.filter(isActive).sort(byId);
  return { incidents: snapshot.incidents, areas: snapshot.areas, alerts: active, alertTotal: active.length };
}

const recorded = sequences();

describe('contract: the store after the pushed envelopes equals a fresh REST snapshot', () => {
  it('has sequences to replay', () => {
    expect(recorded.length).toBeGreaterThan(0);
  });

  it.each(recorded)('%s', (_name, sequence) => {
    const state = createState();
    const { initial } = sequence;
    loadItems(state, 'incident', initial.incidents, { replace: true });
    loadItems(state, 'area', initial.areas, { replace: true });
    loadAlertPage(state, activeAlertPage(initial));
    expect(shown(state)).toEqual(expected(initial));
    for (const [index, step] of sequence.steps.entries()) {
      for (const envelope of step.events) applyEnvelope(state, envelope);
      expect(shown(state), `step ${index}: ${step.action}`).toEqual(expected(step.snapshot));
    }
  });
});
