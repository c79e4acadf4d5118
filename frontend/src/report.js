/**
 * Entry point of the public report page: pick a point (map click or geolocation), describe
 * the incident, POST it to the report endpoint. No login; throttled by the server (429).
 */

import './styles/app.css';
import L from 'leaflet';
import { createApi } from './api.js';
import { readConfig } from './config.js';
import { pointGeometry } from './geo.js';
import { MAX_NAME_LENGTH } from './limits.js';
import { createBaseMap } from './map/base-map.js';
import { severityColor } from './severity.js';
import { ensureElement, h } from './ui/dom.js';
import { field, generalErrorSlot, severitySelect, showErrors, submitWith } from './ui/forms.js';

const PICK_PROMPT = 'Click the map to mark where it happened.';
const MISSING_LOCATION = 'Click the map or use your location to mark where it happened.';
const LOCATE_ZOOM = 16;
// A circle marker rather than L.marker: no icon images to resolve through the static files.
const PIN_STYLE = { radius: 9, color: '#111827', weight: 2, fillOpacity: 0.9 };

/**
 * @param {object} incident the created incident Feature from the server
 * @returns {HTMLElement} #report-confirmation naming the incident (as text, never as HTML)
 */
function confirmation(incident) {
  return h(
    'div',
    { id: 'report-confirmation', class: 'confirmation', role: 'status', tabindex: '-1' },
    h('h2', { text: 'Thank you' }),
    h('p', {}, 'Your report ', h('strong', { text: incident.properties.name }), ' has been received.'),
    h('a', { class: 'button', href: window.location.pathname, text: 'Report another incident' }),
  );
}

function main() {
  const config = readConfig();
  const api = createApi({ base: config.api, csrfToken: config.csrfToken });
  const mapElement = document.getElementById('map');
  const map = createBaseMap(mapElement, config);
  const container = ensureElement('report-panel', () => {
    const section = h('section', { id: 'report-panel' });
    mapElement.after(section);
    return section;
  });

  let marker = null;
  const locationText = h('p', { class: 'location-text', text: PICK_PROMPT });
  const locationError = h('p', { class: 'field-error', dataset: { errorFor: 'geometry' } });

  function setLocation(latLng) {
    if (marker) marker.setLatLng(latLng);
    else marker = L.circleMarker(latLng, { ...PIN_STYLE, fillColor: severityColor(form.elements.severity.value) }).addTo(map);
    locationText.textContent = `${latLng.lat.toFixed(5)}, ${latLng.lng.toFixed(5)} (click the map to move it)`;
    locationError.textContent = '';
  }

  const locateButton = h('button', {
    type: 'button',
    class: 'button',
    text: 'Use my location',
    // Geolocation exists only in secure contexts (https or localhost).
    hidden: !('geolocation' in navigator),
    onclick: () =>
      navigator.geolocation.getCurrentPosition(
        ({ coords }) => {
          const latLng = L.latLng(coords.latitude, coords.longitude);
          setLocation(latLng);
          map.setView(latLng, Math.max(map.getZoom(), LOCATE_ZOOM));
        },
        (error) => showErrors(form, { geometry: [`Your location is not available (${error.message}). ${MISSING_LOCATION}`] }),
        { enableHighAccuracy: true, timeout: 10000 },
      ),
  });

  const form = h(
    'form',
    { id: 'report-form', class: 'panel-form', novalidate: true },
    h('h2', { text: 'Report an incident' }),
    field({
      label: 'What happened?',
      name: 'name',
      idPrefix: 'report',
      control: h('input', { name: 'name', type: 'text', required: true, maxlength: MAX_NAME_LENGTH, autocomplete: 'off' }),
    }),
    field({ label: 'Details', name: 'description', idPrefix: 'report', control: h('textarea', { name: 'description', rows: 4 }) }),
    field({ label: 'Severity', name: 'severity', idPrefix: 'report', control: severitySelect('severity', 'medium') }),
    h(
      'div',
      { class: 'field' },
      h('span', { class: 'field-label', text: 'Location' }),
      locationText,
      locateButton,
      locationError,
    ),
    generalErrorSlot(),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'button button--primary', text: 'Send report' })),
  );

  form.elements.severity.addEventListener('change', () => marker?.setStyle({ fillColor: severityColor(form.elements.severity.value) }));
  map.on('click', (event) => setLocation(event.latlng));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!marker) {
      showErrors(form, { geometry: [MISSING_LOCATION] });
      return;
    }
    const { name, description, severity } = form.elements;
    const incident = await submitWith(form, () =>
      api.post('report/', {
        type: 'Feature',
        geometry: pointGeometry(marker.getLatLng()),
        properties: { name: name.value.trim(), description: description.value.trim(), severity: severity.value },
      }),
    );
    if (!incident) return;
    const done = confirmation(incident);
    form.replaceWith(done);
    done.focus();
  });

  container.replaceChildren(form);
}

main();
