// The chat list: pinned first, then newest, grouped by folder; filter, show closed, rename, close; on a phone a drawer
// opened with ☰. Pins, folders, the archive and deleting several chats are in organise.ts.
import { api, type Session } from './api';
import { handleError } from './auth';
import { openSession, renderChatHeader, showEmptyChat } from './chat-view';
import { focusInput } from './composer';
import { byId, el } from './dom';
import { banner, errorText } from './notices';
import { folderHeading, folders, loadFolders, organiseControls, showingArchived, wireOrganising } from './organise';
import { state } from './store';

const $ = {
  menu: byId<HTMLButtonElement>('menu'),
  newChat: byId<HTMLButtonElement>('new-chat'),
  filter: byId<HTMLInputElement>('filter'),
  showClosed: byId<HTMLInputElement>('show-closed'),
  chatList: byId<HTMLUListElement>('chat-list'),
  renameDialog: byId<HTMLDialogElement>('rename-dialog'),
  renameForm: byId<HTMLFormElement>('rename-form'),
  renameInput: byId<HTMLInputElement>('rename-input'),
  renameError: byId('rename-error'),
  renameCancel: byId<HTMLButtonElement>('rename-cancel'),
};

let sessionsAsked = 0;

export async function refreshSessions(): Promise<void> {
  const asked = ++sessionsAsked;
  // A folders read that is cut or refused leaves their headings as they were, not the whole list: the next refresh
  // reads them again.
  const [sessions] = await Promise.all([api.sessions(showingArchived()), loadFolders().catch(() => undefined)]);
  if (asked !== sessionsAsked) return; // a newer answer is on its way
  state.sessions = sessions;
  // The open chat as the server has it now: a first message names a new chat there.
  const current = sessions.find((s) => s.id === state.current?.id);
  if (current) state.current = current;
  renderSessions();
  if (current) renderChatHeader();
}

export function replaceSession(updated: Session): void {
  // A single chat's answer says nothing of where it is kept: the list's pin, archive and folder stay.
  const kept = (s: Session): Session => ({ ...updated, pinned: s.pinned, archived: s.archived, folderId: s.folderId });
  state.sessions = state.sessions.map((s) => (s.id === updated.id ? kept(s) : s));
  if (state.current?.id === updated.id) state.current = updated;
  renderSessions();
  renderChatHeader();
}

export function renderSessions(): void {
  const filter = $.filter.value.trim().toLowerCase();
  // In the server's order (pinned first, then by newest message); chats of a folder under its heading.
  const sessions = state.sessions
    .filter((s) => $.showClosed.checked || s.status !== 'closed' || s.id === state.current?.id)
    .filter((s) => filter.length === 0 || s.title.toLowerCase().includes(filter));
  // The list is drawn anew on every refresh: a keyboard user's focus on one of its buttons stays on that chat's button.
  const focused = document.activeElement instanceof HTMLElement && $.chatList.contains(document.activeElement)
    ? { chat: document.activeElement.dataset.chat, control: document.activeElement.dataset.control }
    : undefined;
  const row = (s: Session) => {
    const open = el('button', { className: 'chat-open', text: s.title, attrs: { type: 'button', 'data-chat': s.id, 'data-control': 'open' } });
    if (s.id === state.current?.id) open.setAttribute('aria-current', 'page');
    open.addEventListener('click', () => void openSession(s, true));
    const rename = el('button', { className: 'icon small', text: '✎', attrs: { type: 'button', 'aria-label': `Rename chat ${s.title}`, title: 'Rename', 'data-chat': s.id, 'data-control': 'rename' } });
    rename.addEventListener('click', () => openRename(s));
    const [before, after] = organiseControls(s);
    const children: HTMLElement[] = [...before, open, rename, ...after];
    if (s.status === 'closed') {
      children.push(el('span', { className: 'badge', text: 'closed' }));
    } else {
      const close = el('button', { className: 'icon small', text: '✕', attrs: { type: 'button', 'aria-label': `Close chat ${s.title}`, title: 'Close chat', 'data-chat': s.id, 'data-control': 'close' } });
      close.addEventListener('click', () => void closeSession(s));
      children.push(close);
    }
    return el('li', { className: s.status === 'closed' ? 'closed' : '' }, ...children);
  };
  const known = new Set(folders.map((f) => f.id));
  $.chatList.replaceChildren(
    ...sessions.filter((s) => !s.folderId || !known.has(s.folderId)).map(row),
    ...folders.flatMap((f) => [folderHeading(f), ...sessions.filter((s) => s.folderId === f.id).map(row)]),
  );
  if (sessions.length === 0) {
    $.chatList.append(el('li', { className: 'muted small none', text: filter ? 'No chat matches.' : 'No chats yet.' }));
  }
  if (focused?.chat) {
    $.chatList.querySelector<HTMLElement>(`[data-chat="${CSS.escape(focused.chat)}"][data-control="${focused.control ?? 'open'}"]`)?.focus();
  }
}

async function closeSession(session: Session): Promise<void> {
  try {
    await api.closeSession(session.id);
    await refreshSessions();
    if (state.current?.id === session.id) {
      state.current = { ...state.current, status: 'closed' };
      renderChatHeader();
    }
    banner(`“${session.title}” is closed.`, 'info');
  } catch (error) {
    handleError(error);
  }
}

let renaming: Session | undefined;

function openRename(session: Session): void {
  renaming = session;
  $.renameInput.value = session.title;
  $.renameError.textContent = '';
  $.renameDialog.showModal();
  $.renameInput.select();
}

async function submitRename(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  if (!renaming) return;
  try {
    const updated = await api.updateSession(renaming.id, { title: $.renameInput.value.trim() });
    if (state.current?.id === updated.id) state.current = updated;
    $.renameDialog.close();
    await refreshSessions();
    renderChatHeader();
  } catch (error) {
    $.renameError.textContent = errorText(error);
  }
}

export function isMenuOpen(): boolean {
  return document.body.classList.contains('menu-open');
}

/** The phone drawer: opening it moves the focus into it, closing it (Esc, ☰, a tap beside it) back to ☰. */
export function setMenu(open: boolean, moveFocus = false): void {
  const wasOpen = isMenuOpen();
  document.body.classList.toggle('menu-open', open);
  $.menu.setAttribute('aria-expanded', String(open));
  if (!moveFocus || wasOpen === open) return;
  if (open) $.newChat.focus();
  else $.menu.focus();
}

export function wireSidebar(): void {
  $.newChat.addEventListener('click', () => {
    showEmptyChat();
    setMenu(false);
    focusInput();
  });
  $.filter.addEventListener('input', renderSessions);
  $.showClosed.addEventListener('change', renderSessions);
  wireOrganising();
  $.menu.addEventListener('click', () => setMenu(!isMenuOpen(), true));
  document.querySelector('.main')!.addEventListener('click', (e) => {
    if (isMenuOpen() && e.target !== $.menu) setMenu(false, true);
  });
  $.renameForm.addEventListener('submit', (e) => void submitRename(e));
  $.renameCancel.addEventListener('click', () => $.renameDialog.close());
}
