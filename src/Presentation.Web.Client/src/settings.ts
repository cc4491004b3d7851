// The open chat's settings: title, model, system prompt / persona, temperature, max tokens.
import { api, ApiError, type SessionChanges } from './api';
import { renderChatHeader } from './chat-view';
import { byId } from './dom';
import { banner, errorText } from './notices';
import { refreshSessions } from './sidebar';
import { state } from './store';

const $ = {
  settingsOpen: byId<HTMLButtonElement>('settings-open'),
  settingsDialog: byId<HTMLDialogElement>('settings-dialog'),
  settingsForm: byId<HTMLFormElement>('settings-form'),
  setTitle: byId<HTMLInputElement>('set-title'),
  setModel: byId<HTMLInputElement>('set-model'),
  setSystem: byId<HTMLTextAreaElement>('set-system'),
  setTemperature: byId<HTMLInputElement>('set-temperature'),
  setMaxTokens: byId<HTMLInputElement>('set-max-tokens'),
  settingsError: byId('settings-error'),
  settingsCancel: byId<HTMLButtonElement>('settings-cancel'),
};

function openSettings(): void {
  const s = state.current;
  if (!s) return;
  $.setTitle.value = s.title;
  $.setModel.value = s.model ?? '';
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
    const fields = error instanceof ApiError ? Object.values(error.fields).flat() : [];
    $.settingsError.textContent = fields.length > 0 ? fields.join(' ') : errorText(error);
  }
}

export function wireSettings(): void {
  $.settingsOpen.addEventListener('click', openSettings);
  $.settingsForm.addEventListener('submit', (e) => void saveSettings(e));
  $.settingsCancel.addEventListener('click', () => $.settingsDialog.close());
}
