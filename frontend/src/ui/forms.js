/**
 * Form building blocks shared by the report form and the area form: labelled fields with a
 * slot for their server-side error, and a submit helper that shows ApiError messages.
 */

import { ApiError } from '../api.js';
import { SEVERITIES } from '../severity.js';
import { h } from './dom.js';

/**
 * @param {object} options
 * @param {string} options.label
 * @param {string} options.name the field name the API uses in its error objects
 * @param {HTMLElement} options.control input, select or textarea (its id is set here)
 * @param {string} options.idPrefix keeps ids unique when two forms share a page
 * @returns {HTMLElement} label + control + error slot
 */
export function field({ label, name, control, idPrefix }) {
  const id = `${idPrefix}-${name}`;
  const errorId = `${id}-error`;
  control.id = id;
  control.setAttribute('aria-describedby', errorId);
  return h(
    'div',
    { class: 'field' },
    h('label', { for: id, text: label }),
    control,
    h('p', { class: 'field-error', id: errorId, dataset: { errorFor: name } }),
  );
}

/**
 * @param {string} name
 * @param {string} selected severity preselected
 * @returns {HTMLSelectElement}
 */
export function severitySelect(name, selected) {
  return h(
    'select',
    { name, required: true },
    SEVERITIES.map((severity) => h('option', { value: severity, selected: severity === selected, text: severity })),
  );
}

/** @returns {HTMLElement} the slot for messages that belong to no field */
export function generalErrorSlot() {
  return h('div', { class: 'form-error', role: 'alert', dataset: { errorFor: 'detail' } });
}

/** Removes all messages shown by showErrors. */
function clearErrors(form) {
  for (const slot of form.querySelectorAll('[data-error-for]')) slot.textContent = '';
  for (const control of form.querySelectorAll('[aria-invalid]')) control.removeAttribute('aria-invalid');
}

/**
 * Shows each message under its field; messages for fields the form does not have (e.g.
 * `geometry`, set by clicking the map) go to the general slot, prefixed with the field name.
 *
 * @param {HTMLFormElement} form
 * @param {Record<string, string[]>} fields ApiError.fields
 */
export function showErrors(form, fields) {
  clearErrors(form);
  const general = form.querySelector('[data-error-for="detail"]');
  for (const [name, messages] of Object.entries(fields)) {
    const slot = form.querySelector(`[data-error-for="${CSS.escape(name)}"]`);
    if (slot) {
      slot.textContent = messages.join(' ');
      form.elements.namedItem(name)?.setAttribute('aria-invalid', 'true');
    } else {
      general.append(h('div', { text: `${name}: ${messages.join(' ')}` }));
    }
  }
}

/**
 * Runs a submit action with the button disabled (no double submissions) and shows an
 * ApiError's messages in the form.
 *
 * @param {HTMLFormElement} form must contain a general error slot
 * @param {() => Promise<T>} action
 * @returns {Promise<T|undefined>} the action's result, or undefined when it failed with ApiError
 * @throws whatever else the action throws (a bug, not a user error)
 * @template T
 */
export async function submitWith(form, action) {
  const buttons = form.querySelectorAll('button');
  clearErrors(form);
  for (const button of buttons) button.disabled = true;
  try {
    return await action();
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    showErrors(form, error.fields);
    return undefined;
  } finally {
    for (const button of buttons) button.disabled = false;
  }
}
