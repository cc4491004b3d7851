// Personas (prompt presets): the picker a new chat starts with, and the list in the account dialog where a user adds,
// changes and deletes their own (admins also the shared ones).
import { api, type Persona, type PersonaFields } from './api';
import { byId, el } from './dom';
import { errorText, fieldErrorText } from './notices';

const $ = {
  pick: byId<HTMLSelectElement>('persona-pick'),
  list: byId<HTMLUListElement>('persona-list'),
  form: byId<HTMLFormElement>('persona-form'),
  name: byId<HTMLInputElement>('persona-name'),
  prompt: byId<HTMLTextAreaElement>('persona-prompt'),
  model: byId<HTMLInputElement>('persona-model'),
  temperature: byId<HTMLInputElement>('persona-temperature'),
  shared: byId<HTMLInputElement>('persona-shared'),
  sharedRow: byId('persona-shared-row'),
  save: byId<HTMLButtonElement>('persona-save'),
  cancel: byId<HTMLButtonElement>('persona-cancel'),
  error: byId('persona-error'),
};

let personas: Persona[] = [];
let editing: Persona | undefined;

/** The persona chosen for the next new chat; none when the picker says so. */
export function chosenPersona(): string | undefined {
  return $.pick.value || undefined;
}

/** Reads the personas again, for the picker and the account dialog's list. */
export async function loadPersonas(): Promise<void> {
  try {
    personas = await api.personas();
  } catch {
    personas = []; // the picker is a help: a chat starts without one
  }
  const chosen = $.pick.value;
  $.pick.replaceChildren(el('option', { text: 'No persona', attrs: { value: '' } }),
    ...personas.map((p) => el('option', { text: p.shared ? `${p.name} (shared)` : p.name, attrs: { value: p.id } })));
  $.pick.value = personas.some((p) => p.id === chosen) ? chosen : '';
  renderList();
}

function renderList(): void {
  $.list.replaceChildren(...personas.map((p) => {
    const item = el('li', {}, el('span', { text: p.shared ? `${p.name} (shared)` : p.name }));
    if (p.canChange) {
      const edit = el('button', { text: 'Edit', attrs: { type: 'button', 'aria-label': `Edit persona ${p.name}` } });
      edit.addEventListener('click', () => startEdit(p));
      const remove = el('button', { text: 'Delete', attrs: { type: 'button', 'aria-label': `Delete persona ${p.name}` } });
      remove.addEventListener('click', () => void removePersona(p));
      item.append(edit, remove);
    }
    return item;
  }));
}

function startEdit(persona: Persona | undefined): void {
  editing = persona;
  $.form.reset();
  $.error.textContent = '';
  $.name.value = persona?.name ?? '';
  $.prompt.value = persona?.systemPrompt ?? '';
  $.model.value = persona?.model ?? '';
  $.temperature.value = persona?.temperature?.toString() ?? '';
  $.shared.disabled = persona !== undefined; // a persona stays personal or shared
  $.save.textContent = persona ? 'Save persona' : 'Add persona';
  if (persona) $.name.focus();
}

async function savePersona(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  const fields: PersonaFields = {
    name: $.name.value.trim(),
    systemPrompt: $.prompt.value,
    model: $.model.value.trim() || null,
    temperature: $.temperature.value === '' ? null : Number($.temperature.value),
  };
  try {
    if (editing) await api.updatePersona(editing.id, fields);
    else await api.createPersona({ ...fields, shared: $.shared.checked });
    startEdit(undefined);
    await loadPersonas();
  } catch (error) {
    $.error.textContent = fieldErrorText(error);
  }
}

async function removePersona(persona: Persona): Promise<void> {
  if (!confirm(`Delete the persona "${persona.name}"? Chats started with it keep its prompt.`)) return;
  try {
    await api.deletePersona(persona.id);
    if (editing?.id === persona.id) startEdit(undefined);
    await loadPersonas();
  } catch (error) {
    $.error.textContent = errorText(error);
  }
}

/** Admins may also share a persona with everyone. */
export function showSharing(admin: boolean): void {
  $.sharedRow.hidden = !admin;
}

export function wirePersonas(): void {
  $.form.addEventListener('submit', (e) => void savePersona(e));
  $.cancel.addEventListener('click', () => startEdit(undefined));
}
