// The account's own settings: change the password (every other sign-in ends), defaults for new chats, sign out
// everywhere, and delete the account (confirmed with the password).
import { api } from './api';
import { signedOut } from './auth';
import { byId } from './dom';
import { banner, errorText, fieldErrorText } from './notices';
import { loadPersonas } from './personas';

const $ = {
  accountOpen: byId<HTMLButtonElement>('account-open'),
  accountDialog: byId<HTMLDialogElement>('account-dialog'),
  accountClose: byId<HTMLButtonElement>('account-close'),
  passwordForm: byId<HTMLFormElement>('password-form'),
  passwordCurrent: byId<HTMLInputElement>('password-current'),
  passwordNew: byId<HTMLInputElement>('password-new'),
  keepKeys: byId<HTMLInputElement>('password-keep-keys'),
  keepLinked: byId<HTMLInputElement>('password-keep-linked'),
  passwordError: byId('password-error'),
  everywhere: byId<HTMLButtonElement>('sign-out-everywhere'),
  everywhereError: byId('everywhere-error'),
  defaultsForm: byId<HTMLFormElement>('defaults-form'),
  defaultModel: byId<HTMLInputElement>('default-model'),
  defaultPrompt: byId<HTMLTextAreaElement>('default-prompt'),
  defaultsError: byId('defaults-error'),
  deleteForm: byId<HTMLFormElement>('delete-account-form'),
  deleteConfirm: byId<HTMLInputElement>('delete-confirm'),
  deleteError: byId('delete-error'),
};

async function loadDefaults(): Promise<void> {
  try {
    const preferences = await api.preferences();
    $.defaultModel.value = preferences.defaultModel ?? '';
    $.defaultPrompt.value = preferences.systemPrompt ?? '';
  } catch (error) {
    $.defaultsError.textContent = errorText(error);
  }
}

async function saveDefaults(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  try {
    await api.setPreferences({ defaultModel: $.defaultModel.value.trim(), systemPrompt: $.defaultPrompt.value });
    $.defaultsError.textContent = '';
    banner('Defaults saved: new chats start with them.', 'info');
  } catch (error) {
    $.defaultsError.textContent = fieldErrorText(error);
  }
}

async function deleteAccount(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  if (!confirm('Delete this account and every chat, message, key and persona of it, for good?')) return;
  try {
    await api.deleteAccount($.deleteConfirm.value);
    $.accountDialog.close();
    signedOut('Your account and all of its data are deleted.');
  } catch (error) {
    $.deleteError.textContent = fieldErrorText(error);
  }
}

function openAccount(): void {
  $.passwordForm.reset();
  $.passwordError.textContent = '';
  $.everywhereError.textContent = '';
  $.defaultsError.textContent = '';
  $.deleteForm.reset();
  $.deleteError.textContent = '';
  void loadDefaults();
  void loadPersonas();
  $.accountDialog.showModal();
}

async function changePassword(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  if ($.passwordNew.value.length < 8) {
    $.passwordError.textContent = 'Enter a new password of at least 8 characters.';
    $.passwordNew.focus();
    return;
  }

  try {
    // The answer signs this browser in again (a new cookie), as every earlier sign-in ended.
    await api.changePassword({
      currentPassword: $.passwordCurrent.value,
      newPassword: $.passwordNew.value,
      keepApiKeys: $.keepKeys.checked,
      keepLinkedAccounts: $.keepLinked.checked,
    });
    $.accountDialog.close();
    banner('Password changed. Every other sign-in has ended.', 'info');
  } catch (error) {
    $.passwordError.textContent = fieldErrorText(error);
  }
}

async function signOutEverywhere(): Promise<void> {
  try {
    await api.logoutEverywhere();
    $.accountDialog.close();
    signedOut('You are signed out everywhere.');
  } catch (error) {
    $.everywhereError.textContent = errorText(error);
  }
}

export function wireAccount(): void {
  $.accountOpen.addEventListener('click', openAccount);
  $.accountClose.addEventListener('click', () => $.accountDialog.close());
  $.passwordForm.addEventListener('submit', (e) => void changePassword(e));
  $.everywhere.addEventListener('click', () => void signOutEverywhere());
  $.defaultsForm.addEventListener('submit', (e) => void saveDefaults(e));
  $.deleteForm.addEventListener('submit', (e) => void deleteAccount(e));
}
