import { describe, expect, it } from 'vitest';
import { bboxParam, pointGeometry, polygonLatLngs, sameGeometry, toLatLng } from '../src/geo.js';

const square = {
  type: 'Polygon',
  coordinates: [[[13.3, 52.5], [13.4, 52.5], [13.4, 52.6], [13.3, 52.6], [13.3, 52.5]]],
};

describe('geo', () => {
  it('swaps GeoJSON [lon, lat] to Leaflet [lat, lon] and back', () => {
    expect(toLatLng([13.4, 52.5])).toEqual([52.5, 13.4]);
    expect(pointGeometry({ lat: 52.5, lng: 13.4 })).toEqual({ type: 'Point', coordinates: [13.4, 52.5] });
  });

  it('drops the closing position of polygon rings', () => {
    expect(polygonLatLngs(square)).toEqual([[[52.5, 13.3], [52.5, 13.4], [52.6, 13.4], [52.6, 13.3]]]);
  });

  it('compares geometries at six decimals', () => {
    const nudged = structuredClone(square);
    nudged.coordinates[0][1][0] = 13.4000001;
    expect(sameGeometry(square, nudged)).toBe(true);
    nudged.coordinates[0][1][0] = 13.401;
    expect(sameGeometry(square, nudged)).toBe(false);
  });

  it('clamps the bbox to real coordinates', () => {
    const bounds = { getWest: () => -200, getSouth: () => -95, getEast: () => 13.5, getNorth: () => 52.6 };
    expect(bboxParam(bounds)).toBe('-180,-90,13.5,52.6');
  });
});
