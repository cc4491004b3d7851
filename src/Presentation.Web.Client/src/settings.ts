// The open chat's settings: title, model, system prompt / persona, temperature, max tokens.
import { api, type ModelStatus, type SessionChanges } from './api';
import { renderChatHeader } from './chat-view';
import { byId } from './dom';
import { banner, fieldErrorText } from './notices';
import { refreshSessions } from './sidebar';
import { state } from './store';

const $ = {
  settingsOpen: byId<HTMLButtonElement>('settings-open'),
  settingsDialog: byId<HTMLDialogElement>('settings-dialog'),
  settingsForm: byId<HTMLFormElement>('settings-form'),
  setTitle: byId<HTMLInputElement>('set-title'),
  setModel: byId<HTMLInputElement>('set-model'),
  modelChoices: byId<HTMLDataListElement>('model-choices'),
  modelHint: byId('model-hint'),
  setSystem: byId<HTMLTextAreaElement>('set-system'),
  setTemperature: byId<HTMLInputElement>('set-temperature'),
  setMaxTokens: byId<HTMLInputElement>('set-max-tokens'),
  settingsError: byId('settings-error'),
  settingsCancel: byId<HTMLButtonElement>('settings-cancel'),
};

/** The models the platform knows now, as last read for the picker. */
let models: ModelStatus[] = [];

/** How a model stands now, in a few words: its hosts, free slots and queue. */
function describeModel(model: ModelStatus): string {
  const parts = [model.hosts === 0 ? 'no host online: questions wait' : model.hosts === 1 ? '1 host' : `${model.hosts} hosts`];
  if (model.hosts > 0 && model.slots != null && model.freeSlots != null) parts.push(`${model.freeSlots} of ${model.slots} slots free`);
  if (model.waiting > 0) parts.push(`${model.waiting} waiting`);
  if (model.isDefault) parts.push('the platform default');
  return parts.join(' · ');
}

function showModelHint(): void {
  const name = $.setModel.value.trim();
  const model = name === '' ? models.find((m) => m.isDefault) : models.find((m) => m.name === name);
  const label = name === '' ? `Platform default${model ? ` (${model.name})` : ''}` : name;
  $.modelHint.textContent = model
    ? `${label}: ${describeModel(model)}.`
    : `${label}: no host serves it now; questions wait until one does.`;
}

/** Fills the picker with the models the hosts serve now (the field still takes any name). */
async function loadModels(): Promise<void> {
  try {
    models = await api.models();
  } catch {
    models = []; // the picker is a help: the field works without it
  }
  $.modelChoices.replaceChildren(...models.map((m) => {
    const option = document.createElement('option');
    option.value = m.name;
    option.label = describeModel(m);
    return option;
  }));
  showModelHint();
}

function openSettings(): void {
  const s = state.current;
  if (!s) return;
  $.setTitle.value = s.title;
  $.setModel.value = s.model ?? '';
  $.modelHint.textContent = '';
  void loadModels();
  $.setSystem.value = s.systemPrompt ?? '';
  $.setTemperature.value = s.temperature?.toString() ?? '';
  $.setMaxTokens.value = s.maxTokens?.toString() ?? '';
  $.settingsError.textContent = '';
  $.settingsDialog.showModal();
}

async function saveSettings(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  const s = state.current;
  if (!s) return;
  const changes: SessionChanges = {
    title: $.setTitle.value.trim() || s.title,
    model: $.setModel.value.trim(),
    systemPrompt: $.setSystem.value.trim(),
  };
  if ($.setTemperature.value !== '') changes.temperature = Number($.setTemperature.value);
  if ($.setMaxTokens.value !== '') changes.maxTokens = Number($.setMaxTokens.value);
  try {
    state.current = await api.updateSession(s.id, changes);
    $.settingsDialog.close();
    renderChatHeader();
    await refreshSessions();
    banner('Settings saved.', 'info');
  } catch (error) {
    $.settingsError.textContent = fieldErrorText(error);
  }
}

export function wireSettings(): void {
  $.settingsOpen.addEventListener('click', openSettings);
  $.setModel.addEventListener('input', showModelHint);
  $.settingsForm.addEventListener('submit', (e) => void saveSettings(e));
  $.settingsCancel.addEventListener('click', () => $.settingsDialog.close());
}
