// The console's Host tokens list (in the Model hosts section): the direct relay's tokens, each with who made it and
// when, whether its host is connected now and when it last connected, or when it was revoked; a form that makes one (shown this once, with a copy
// button) and a button that revokes one. The same admin commands as the API host's `hosts add|revoke|list` verbs.
import { api, type HostToken } from './api';
import { byId, show } from './dom';
import { actionButton, attempt, emptyItem, item, showError } from './admin-ui';

const $ = {
  form: byId<HTMLFormElement>('host-token-form'),
  name: byId<HTMLInputElement>('host-token-name'),
  created: byId('host-token-created'),
  note: byId('host-token-note'),
  value: byId<HTMLInputElement>('host-token-value'),
  copy: byId<HTMLButtonElement>('host-token-copy'),
  list: byId<HTMLUListElement>('host-tokens'),
};

function tokenItem(token: HostToken): HTMLLIElement {
  const made = `made ${new Date(token.createdAt).toLocaleString()} by ${token.createdBy}`;
  if (token.revokedAt) {
    return item(token.name, `revoked ${new Date(token.revokedAt).toLocaleString()} · ${made}`);
  }
  const since = token.lastUsedAt ? new Date(token.lastUsedAt).toLocaleString() : undefined;
  const state = token.connected ? `connected${since ? ` since ${since}` : ''}`
    : since ? `last connected ${since}` : 'never connected';
  return item(token.name, `${state} · ${made}`,
    actionButton('Revoke', `Revoke ${token.name}'s token`, async () => {
      if (confirm(`Revoke ${token.name}'s token? The host is disconnected and let in no more.`)) {
        await api.revokeHostToken(token.name);
      }
    }, renderHostTokens, 'small danger'));
}

export async function renderHostTokens(): Promise<void> {
  try {
    const tokens = await api.hostTokens();
    $.list.replaceChildren(...tokens.map(tokenItem));
    if (tokens.length === 0) $.list.append(emptyItem('No host token yet.'));
  } catch (error) {
    showError(error);
  }
}

/** Hides a token shown earlier: it is shown once, not again when the console reopens. */
export function resetHostTokens(): void {
  show($.created, false);
  $.value.value = '';
}

export function wireHostTokens(): void {
  $.form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const made = await attempt(async () => {
      const token = await api.createHostToken($.name.value.trim());
      $.value.value = token.token;
      $.note.textContent = `Copy ${token.name}'s token now — it will not be shown again. Set it as Relay:HostToken on that host.`;
      $.copy.textContent = 'Copy';
      show($.created, true);
      $.value.select();
    });
    if (made) $.name.value = '';
    await renderHostTokens();
  });
  $.copy.addEventListener('click', () => {
    void navigator.clipboard?.writeText($.value.value).then(
      () => ($.copy.textContent = 'Copied'), () => ($.copy.textContent = 'Copy failed'));
  });
}
