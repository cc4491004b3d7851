// API keys for programs: create (the key is shown once), list, revoke. Beside them, the one-time code that links a
// Discord or Telegram account, so the chats had with the bot there show here too, and the accounts so linked.
import { api } from './api';
import { byId, el, show } from './dom';
import { errorText } from './notices';

const $ = {
  keysOpen: byId<HTMLButtonElement>('keys-open'),
  keysDialog: byId<HTMLDialogElement>('keys-dialog'),
  keyForm: byId<HTMLFormElement>('key-form'),
  keyName: byId<HTMLInputElement>('key-name'),
  keyCreated: byId('key-created'),
  keyValue: byId<HTMLInputElement>('key-value'),
  keyCopy: byId<HTMLButtonElement>('key-copy'),
  keysError: byId('keys-error'),
  keyList: byId<HTMLUListElement>('key-list'),
  keysClose: byId<HTMLButtonElement>('keys-close'),
  linkNew: byId<HTMLButtonElement>('link-code-new'),
  link: byId('link-code'),
  linkValue: byId('link-code-value'),
  linkExpiry: byId('link-code-expiry'),
  linkedList: byId<HTMLUListElement>('linked-list'),
};

async function openKeys(): Promise<void> {
  show($.keyCreated, false);
  show($.link, false);
  $.keyValue.value = '';
  $.keysError.textContent = '';
  $.keysDialog.showModal();
  await Promise.all([renderKeys(), renderLinked()]);
}

const networkNames: Record<string, string> = { discord: 'Discord', telegram: 'Telegram' };

// Renders overlap (the dialog opened, a key made or revoked meanwhile) and their answers may come back out of order:
// only the newest render's list is shown, so an answer read before a revoke never brings the revoked key back.
let linkedRenders = 0;
let keyRenders = 0;

async function renderLinked(): Promise<void> {
  const render = ++linkedRenders;
  try {
    const linked = await api.linkedAccounts();
    if (render !== linkedRenders) return;
    $.linkedList.replaceChildren(...linked.map((account) => {
      const network = networkNames[account.network] ?? account.network;
      const label = `${network} account ${account.externalId}`;
      const unlink = el('button', { className: 'small danger', text: 'Unlink', attrs: { type: 'button', 'aria-label': `Unlink ${label}` } });
      unlink.addEventListener('click', async () => {
        try {
          await api.unlinkAccount(account.network, account.externalId);
          await renderLinked();
        } catch (error) {
          $.keysError.textContent = errorText(error);
        }
      });
      return el('li', {}, el('div', {}, el('strong', { text: network }), el('div', { className: 'small muted', text: `id ${account.externalId}` })), unlink);
    }));
    if (linked.length === 0) $.linkedList.append(el('li', { className: 'muted small', text: 'None linked.' }));
  } catch (error) {
    $.keysError.textContent = errorText(error);
  }
}

async function renderKeys(): Promise<void> {
  const render = ++keyRenders;
  try {
    const keys = await api.apiKeys();
    if (render !== keyRenders) return;
    $.keyList.replaceChildren(...keys.map((k) => {
      const revoke = el('button', { className: 'small danger', text: 'Revoke', attrs: { type: 'button', 'aria-label': `Revoke key ${k.name}` } });
      revoke.addEventListener('click', async () => {
        try {
          await api.revokeApiKey(k.id);
          await renderKeys();
        } catch (error) {
          $.keysError.textContent = errorText(error);
        }
      });
      const used = k.lastUsedAt ? `last used ${new Date(k.lastUsedAt).toLocaleString()}` : 'never used';
      return el('li', {}, el('div', {}, el('strong', { text: k.name }), el('div', { className: 'small muted', text: `${k.prefix}… · created ${new Date(k.createdAt).toLocaleDateString()} · ${used}` })), revoke);
    }));
    if (keys.length === 0) $.keyList.append(el('li', { className: 'muted small', text: 'No keys yet.' }));
  } catch (error) {
    $.keysError.textContent = errorText(error);
  }
}

async function createKey(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  $.keysError.textContent = '';
  try {
    const created = await api.createApiKey($.keyName.value.trim());
    $.keyValue.value = created.key;
    show($.keyCreated, true);
    $.keyName.value = '';
    $.keyValue.select();
    await renderKeys();
  } catch (error) {
    $.keysError.textContent = errorText(error);
  }
}

async function createLinkCode(): Promise<void> {
  $.keysError.textContent = '';
  try {
    const created = await api.createLinkCode();
    $.linkValue.textContent = created.code;
    $.linkExpiry.textContent = `valid until ${new Date(created.expiresAt).toLocaleTimeString()}, once`;
    show($.link, true);
  } catch (error) {
    $.keysError.textContent = errorText(error);
  }
}

export function wireApiKeys(): void {
  $.linkNew.addEventListener('click', () => void createLinkCode());
  $.keysOpen.addEventListener('click', () => void openKeys());
  $.keyForm.addEventListener('submit', (e) => void createKey(e));
  $.keysClose.addEventListener('click', () => $.keysDialog.close());
  $.keyCopy.addEventListener('click', () => {
    void navigator.clipboard?.writeText($.keyValue.value).then(() => ($.keyCopy.textContent = 'Copied'));
  });
}
