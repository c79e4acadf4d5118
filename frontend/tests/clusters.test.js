import { describe, expect, it } from 'vitest';
import { CLUSTER_THRESHOLD, clusterStyle, formatCount, viewMode } from '../src/clusters.js';
import { filterParams, showAllFilter } from '../src/filter.js';
import { severityColor } from '../src/severity.js';

describe('viewMode', () => {
  it('draws points up to the threshold and clusters above it', () => {
    expect(viewMode(0)).toBe('points');
    expect(viewMode(CLUSTER_THRESHOLD)).toBe('points');
    expect(viewMode(CLUSTER_THRESHOLD + 1)).toBe('clusters');
    expect(viewMode(24_000)).toBe('clusters');
    expect(viewMode(11, 10)).toBe('clusters');
  });
});

describe('formatCount', () => {
  it('shortens thousands so the label fits the marker', () => {
    expect([1, 999, 1000, 1250, 9999, 10_000, 24_321].map(formatCount)).toEqual([
      '1', '999', '1k', '1.2k', '9.9k', '10k', '24k',
    ]);
  });
});

describe('clusterStyle', () => {
  const style = (count, maxSeverity = 'medium', open = 1) => clusterStyle({ count, max_severity: maxSeverity, open });

  it('grows with the count but stays bounded', () => {
    const sizes = [1, 10, 100, 1000].map((count) => style(count).size);
    expect(sizes).toEqual([...sizes].sort((a, b) => a - b));
    expect(new Set(sizes).size).toBe(sizes.length);
    expect(style(1).size).toBeGreaterThanOrEqual(24);
    expect(style(10 ** 9).size).toBe(56);
  });

  it('is coloured by the highest severity and muted when nothing in it is open', () => {
    expect(style(5, 'urgent').color).toBe(severityColor('urgent'));
    expect(style(5, 'info').color).toBe(severityColor('info'));
    expect(style(5, 'high', 0).muted).toBe(true);
    expect(style(5, 'high', 2).muted).toBe(false);
  });

  it('labels the count and describes the cluster in its title', () => {
    expect(style(1500, 'high', 3)).toMatchObject({ label: '1.5k', title: '1500 incidents, 3 open, highest severity high' });
    expect(style(1, 'low', 1).title).toBe('1 incident, 1 open, highest severity low');
  });
});

describe('filterParams', () => {
  it('asks for everything when the filter shows everything', () => {
    expect(filterParams(showAllFilter())).toEqual({});
  });

  it('names the shown severities in scale order and a single shown status', () => {
    const filter = showAllFilter();
    filter.severities = new Set(['urgent', 'low']);
    filter.statuses = new Set(['open']);
    expect(filterParams(filter)).toEqual({ severity: ['low', 'urgent'], status: 'open' });
  });

  it('is null when the filter shows nothing', () => {
    expect(filterParams({ ...showAllFilter(), severities: new Set() })).toBeNull();
    expect(filterParams({ ...showAllFilter(), statuses: new Set() })).toBeNull();
  });
});
