/**
 * The server's input limits that the browser applies too, so a form refuses what the API would.
 * They mirror tracker/models.py; tests/test_frontend_copies.py fails when the two disagree.
 */

/** Largest absolute longitude and latitude, in WGS 84 degrees. */
export const MAX_LON = 180;
export const MAX_LAT = 90;

/** Longest name of an incident or an area, in characters. */
export const MAX_NAME_LENGTH = 200;
