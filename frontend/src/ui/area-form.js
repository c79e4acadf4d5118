/**
 * The side-panel form that names a freshly drawn area and picks its alert threshold.
 */

import { field, generalErrorSlot, severitySelect, submitWith } from './forms.js';
import { h } from './dom.js';
import { MAX_NAME_LENGTH } from '../limits.js';

/**
 * Shows the form in `host`, replacing whatever form was there.
 *
 * @param {HTMLElement} host
 * @param {object} handlers
 * @param {(values: {name: string, threshold: string}) => Promise<unknown>} handlers.onSubmit
 *   rejects with ApiError to keep the form open with the messages shown
 * @param {() => void} handlers.onCancel
 * @returns {() => void} closes the form without calling onCancel
 */
export function openAreaForm(host, { onSubmit, onCancel }) {
  const close = () => {
    host.replaceChildren();
    host.hidden = true;
  };
  const form = h(
    'form',
    { id: 'area-form', class: 'panel-form', novalidate: true },
    h('h2', { text: 'New area' }),
    field({
      label: 'Name',
      name: 'name',
      idPrefix: 'area',
      control: h('input', { name: 'name', type: 'text', required: true, maxlength: MAX_NAME_LENGTH, autocomplete: 'off' }),
    }),
    field({ label: 'Alert from severity', name: 'threshold', idPrefix: 'area', control: severitySelect('threshold', 'high') }),
    generalErrorSlot(),
    h(
      'div',
      { class: 'form-actions' },
      h('button', { type: 'submit', class: 'button button--primary', text: 'Save area' }),
      h('button', { type: 'button', class: 'button', text: 'Cancel', onclick: () => { close(); onCancel(); } }),
    ),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const values = { name: form.elements.name.value.trim(), threshold: form.elements.threshold.value };
    const saved = await submitWith(form, async () => {
      await onSubmit(values);
      return true;
    });
    if (saved) close();
  });
  host.replaceChildren(form);
  host.hidden = false;
  form.elements.name.focus();
  return close;
}
