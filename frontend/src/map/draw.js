/**
 * Staff-only area editing with leaflet-geoman: draw a polygon and name it in the side panel
 * (POST), reshape or drag it (PATCH), remove it (DELETE). The server stays the source of
 * truth: what it returns is handed back through onSaved/onDeleted, and a rejected change
 * puts the area back as it was and shows the server's message.
 */

// Geoman attaches itself to the global L that Leaflet defines, so Leaflet must load first.
import 'leaflet';
import '@geoman-io/leaflet-geoman-free';
import { openAreaForm } from '../ui/area-form.js';

/**
 * @param {object} options
 * @param {L.Map} options.map
 * @param {import('./areas-layer.js').AreasLayer} options.areasLayer
 * @param {ReturnType<import('../api.js').createApi>} options.api
 * @param {HTMLElement} options.formHost where the "new area" form appears
 * @param {(feature: object) => void} options.onSaved an area Feature the server accepted
 * @param {(id: number) => void} options.onDeleted an area the server deleted
 * @param {(error: Error) => void} options.onError a rejected edit or removal (already undone)
 */
export function enableAreaDrawing({ map, areasLayer, api, formHost, onSaved, onDeleted, onError }) {
  map.pm.setGlobalOptions({ allowSelfIntersection: false });
  map.pm.addControls({
    position: 'topleft',
    drawPolygon: true,
    drawRectangle: true,
    drawMarker: false,
    drawCircleMarker: false,
    drawPolyline: false,
    drawCircle: false,
    drawText: false,
    cutPolygon: false,
    rotateMode: false,
    editMode: true,
    dragMode: true,
    removalMode: true,
  });

  // See AREA_PATH_CLASS: in edit, drag and removal mode the whole area must take clicks.
  map.on('pm:globaleditmodetoggled pm:globaldragmodetoggled pm:globalremovalmodetoggled', () => {
    const editing = map.pm.globalEditModeEnabled() || map.pm.globalDragModeEnabled() || map.pm.globalRemovalModeEnabled();
    map.getContainer().classList.toggle('areas-editing', editing);
  });

  let closeDraftForm = null;

  map.on('pm:create', ({ layer: draft }) => {
    closeDraftForm?.();
    const discard = () => {
      draft.remove();
      closeDraftForm = null;
    };
    const close = openAreaForm(formHost, {
      onSubmit: async ({ name, threshold }) => {
        const feature = await api.post('areas/', featureBody(draft, { name, threshold }));
        discard();
        onSaved(feature);
      },
      onCancel: discard,
    });
    closeDraftForm = () => {
      close();
      discard();
    };
    // Removing the unsaved draft with geoman's eraser also abandons its form.
    draft.on('pm:remove', closeDraftForm);
  });

  // Consecutive edits of one area are sent in order, so the last shape drawn is the one kept.
  const queues = new Map();
  const enqueue = (id, task) => {
    const next = (queues.get(id) ?? Promise.resolve()).then(task);
    queues.set(id, next.catch(() => {}));
  };

  areasLayer.group.on('pm:edit', ({ layer }) => {
    const id = areasLayer.idOf(layer);
    if (id == null) return;
    enqueue(id, () =>
      api
        .patch(`areas/${id}/`, featureBody(layer, layer.feature.properties))
        .then(onSaved, (error) => {
          areasLayer.restore(layer.feature);
          onError(error);
        }),
    );
  });

  areasLayer.group.on('pm:remove', ({ layer }) => {
    const id = areasLayer.idOf(layer);
    if (id == null) return;
    enqueue(id, () =>
      api.del(`areas/${id}/`).then(
        () => onDeleted(id),
        (error) => {
          areasLayer.restore(layer.feature);
          onError(error);
        },
      ),
    );
  });
}

/**
 * @param {L.Polygon} layer
 * @param {{name: string, threshold: string}} properties
 * @returns {object} the area Feature body the API expects
 */
function featureBody(layer, { name, threshold }) {
  return { type: 'Feature', geometry: layer.toGeoJSON().geometry, properties: { name, threshold } };
}
