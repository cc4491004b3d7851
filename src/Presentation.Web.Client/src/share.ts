// Share links: the owner makes, lists and revokes them from the chat's Share dialog; anyone who opens one (/s/{token})
// reads the chat's copy here, signed in or not, without a composer.
import { api, ApiError, sharedImageUrl, type SharedChat, type ShareLink } from './api';
import { handleError } from './auth';
import { byId, el, show } from './dom';
import { renderMarkdown } from './markdown';
import { imagesView } from './message-images';
import { errorText } from './notices';
import { state } from './store';

const $ = {
  open: byId<HTMLButtonElement>('share-open'),
  dialog: byId<HTMLDialogElement>('share-dialog'),
  create: byId<HTMLButtonElement>('share-create'),
  created: byId('share-created'),
  url: byId<HTMLInputElement>('share-url'),
  error: byId('share-error'),
  list: byId<HTMLUListElement>('share-list'),
  close: byId<HTMLButtonElement>('share-close'),
  shared: byId('shared'),
  sharedTitle: byId('shared-title'),
  sharedNote: byId('shared-note'),
  sharedMessages: byId('shared-messages'),
};

/** The token of a share page's path, if this page is one. */
export function sharedToken(): string | undefined {
  return /^\/s\/([A-Za-z0-9_-]{1,100})$/.exec(location.pathname)?.[1];
}

/** A share page: the copy, read-only; nothing of the app (sign-in, chats, composer) is shown. */
export async function showShared(token: string): Promise<void> {
  show($.shared, true);
  try {
    const chat: SharedChat = await api.shared(token);
    document.title = `${chat.title} · MeatLizard`;
    $.sharedTitle.textContent = chat.title;
    $.sharedNote.textContent = `A read-only copy, shared ${new Date(chat.sharedAt).toLocaleString()}.`;
    $.sharedMessages.replaceChildren(...chat.messages.map((m) => {
      const body = el('div', { className: m.role === 'assistant' ? 'body md' : 'body plain' });
      if (m.role === 'assistant') body.append(renderMarkdown(m.content));
      else body.textContent = m.content;
      return el('article', { className: `msg ${m.role} ${m.source}` },
        el('div', { className: 'meta' }, el('span', { className: 'who', text: m.role === 'user' ? 'User' : 'MeatLizard' })), body,
        imagesView(m.images, (name) => sharedImageUrl(token, name)));
    }));
  } catch (error) {
    $.sharedTitle.textContent = error instanceof ApiError && error.status === 404 ? 'This link does not work' : 'This chat cannot be shown';
    $.sharedNote.textContent = error instanceof ApiError && error.status === 404
      ? 'It was revoked by its owner, or it never existed.'
      : errorText(error);
  }
}

async function refreshLinks(): Promise<void> {
  const chat = state.current;
  if (!chat) return;
  const links = await api.shareLinks(chat.id);
  $.list.replaceChildren(...links.map(linkView));
  if (links.length === 0) $.list.append(el('li', { className: 'muted small', text: 'None.' }));
}

function linkView(link: ShareLink): HTMLElement {
  const revoke = el('button', { className: 'small', text: 'Revoke', attrs: { type: 'button', 'aria-label': `Revoke the link made ${new Date(link.createdAt).toLocaleString()}` } });
  revoke.addEventListener('click', () => void revokeLink(link));
  return el('li', {}, el('span', { text: `${new Date(link.createdAt).toLocaleString()} · ${link.messages} message${link.messages === 1 ? '' : 's'}` }), revoke);
}

async function revokeLink(link: ShareLink): Promise<void> {
  try {
    await api.revokeShareLink(link.id);
    await refreshLinks();
  } catch (error) {
    $.error.textContent = errorText(error);
  }
}

async function createLink(): Promise<void> {
  const chat = state.current;
  if (!chat) return;
  $.error.textContent = '';
  try {
    const link = await api.share(chat.id);
    $.url.value = new URL(link.path, location.origin).toString();
    show($.created, true);
    $.url.select();
    await refreshLinks();
  } catch (error) {
    $.error.textContent = errorText(error);
  }
}

export function wireShare(): void {
  $.open.addEventListener('click', () => {
    $.error.textContent = '';
    show($.created, false);
    $.dialog.showModal();
    refreshLinks().catch(handleError);
  });
  $.create.addEventListener('click', () => void createLink());
  $.close.addEventListener('click', () => $.dialog.close());
}
