// The account's own settings: change the password (every other sign-in ends), and sign out everywhere.
import { api, ApiError } from './api';
import { signedOut } from './auth';
import { byId } from './dom';
import { banner, errorText } from './notices';

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
};

function openAccount(): void {
  $.passwordForm.reset();
  $.passwordError.textContent = '';
  $.everywhereError.textContent = '';
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
    const fields = error instanceof ApiError ? Object.values(error.fields).flat() : [];
    $.passwordError.textContent = fields.length > 0 ? fields.join(' ') : errorText(error);
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
}
