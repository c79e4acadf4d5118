import { describe, expect, it } from 'vitest';
import { matchesFilter, showAllFilter } from '../src/filter.js';
import { incidentStyle, SEVERITIES, severityColor, severityRank } from '../src/severity.js';

const incident = (severity, status) => ({ properties: { severity, status } });

describe('severity', () => {
  it('orders the scale from info to urgent', () => {
    expect(SEVERITIES).toEqual(['info', 'low', 'medium', 'high', 'urgent']);
    expect(severityRank('urgent')).toBeGreaterThan(severityRank('high'));
    expect(severityRank('bogus')).toBe(-1);
  });

  it('gives every severity its own colour and unknown ones a neutral grey', () => {
    expect(new Set(SEVERITIES.map(severityColor)).size).toBe(SEVERITIES.length);
    expect(severityColor('bogus')).toBe('#6b7280');
  });

  it('mutes closed incidents but keeps their severity fill', () => {
    const open = incidentStyle({ severity: 'high', status: 'open' });
    const closed = incidentStyle({ severity: 'high', status: 'closed' });
    expect(closed.fillColor).toBe(open.fillColor);
    expect(closed.fillOpacity).toBeLessThan(open.fillOpacity);
    expect(closed.color).not.toBe(open.color);
  });
});

describe('incident filter', () => {
  it('shows everything by default', () => {
    const filter = showAllFilter();
    for (const severity of SEVERITIES) {
      expect(matchesFilter(incident(severity, 'open'), filter)).toBe(true);
      expect(matchesFilter(incident(severity, 'closed'), filter)).toBe(true);
    }
  });

  it('hides unchecked severities and statuses', () => {
    const filter = { severities: new Set(['high', 'urgent']), statuses: new Set(['open']) };
    expect(matchesFilter(incident('urgent', 'open'), filter)).toBe(true);
    expect(matchesFilter(incident('low', 'open'), filter)).toBe(false);
    expect(matchesFilter(incident('urgent', 'closed'), filter)).toBe(false);
  });
});
