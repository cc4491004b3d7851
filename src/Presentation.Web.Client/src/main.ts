import 'highlight.js/styles/github.css';
import './styles.css';
import { api, ApiError, timeKey, transcriptUrl, type Message, type Session } from './api';
import { byId, el, show } from './dom';
import { enableCopyButtons, renderMarkdown } from './markdown';
import { ChatStream, FinishedStatuses } from './stream';

const PageSize = 50;
const StatusEvery = 10_000;

interface State {
  sessions: Session[];
  current?: Session;
  messages: Message[];
  hasMore: boolean;
  nextBefore?: string | null;
  loadingOlder: boolean;
  stream?: ChatStream;
  /** The request whose answer is being produced, if any. */
  running?: string;
  runningStatus?: string;
  queuePosition?: number;
  editing: boolean;
  registering: boolean;
}

/** Requests whose answer already arrived; their late 'queued' echo must not mark the chat busy again. */
const finishedRequests = new Set<string>();

const state: State = { sessions: [], messages: [], hasMore: false, loadingOlder: false, editing: false, registering: false };

const $ = {
  skip: byId('skip'),
  auth: byId('auth'),
  authForm: byId<HTMLFormElement>('auth-form'),
  tabLogin: byId<HTMLButtonElement>('tab-login'),
  tabRegister: byId<HTMLButtonElement>('tab-register'),
  username: byId<HTMLInputElement>('username'),
  password: byId<HTMLInputElement>('password'),
  authError: byId('auth-error'),
  authSubmit: byId<HTMLButtonElement>('auth-submit'),
  app: byId('app'),
  sidebar: byId('sidebar'),
  menu: byId<HTMLButtonElement>('menu'),
  newChat: byId<HTMLButtonElement>('new-chat'),
  filter: byId<HTMLInputElement>('filter'),
  showClosed: byId<HTMLInputElement>('show-closed'),
  chatList: byId<HTMLUListElement>('chat-list'),
  meName: byId('me-name'),
  logout: byId<HTMLButtonElement>('logout'),
  title: byId('chat-title'),
  statusDot: byId('status-dot'),
  statusText: byId('status-text'),
  queueText: byId('queue-text'),
  settingsOpen: byId<HTMLButtonElement>('settings-open'),
  exportJson: byId<HTMLAnchorElement>('export-json'),
  exportCsv: byId<HTMLAnchorElement>('export-csv'),
  conversation: byId('conversation'),
  messages: byId('messages'),
  historyTop: byId('history-top'),
  empty: byId('empty'),
  banner: byId('banner'),
  composer: byId<HTMLFormElement>('composer'),
  input: byId<HTMLTextAreaElement>('input'),
  send: byId<HTMLButtonElement>('send'),
  stop: byId<HTMLButtonElement>('stop'),
  editing: byId('editing'),
  editCancel: byId<HTMLButtonElement>('edit-cancel'),
  settingsDialog: byId<HTMLDialogElement>('settings-dialog'),
  settingsForm: byId<HTMLFormElement>('settings-form'),
  setTitle: byId<HTMLInputElement>('set-title'),
  setModel: byId<HTMLInputElement>('set-model'),
  setSystem: byId<HTMLTextAreaElement>('set-system'),
  setTemperature: byId<HTMLInputElement>('set-temperature'),
  setMaxTokens: byId<HTMLInputElement>('set-max-tokens'),
  settingsError: byId('settings-error'),
  settingsCancel: byId<HTMLButtonElement>('settings-cancel'),
  renameDialog: byId<HTMLDialogElement>('rename-dialog'),
  renameForm: byId<HTMLFormElement>('rename-form'),
  renameInput: byId<HTMLInputElement>('rename-input'),
  renameError: byId('rename-error'),
  renameCancel: byId<HTMLButtonElement>('rename-cancel'),
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
};

// ---------------------------------------------------------------- messages and errors

let bannerTimer: number | undefined;

function banner(text: string | undefined, kind: 'error' | 'info' = 'error', sticky = false): void {
  window.clearTimeout(bannerTimer);
  $.banner.textContent = text ?? '';
  $.banner.className = `banner ${kind}`;
  show($.banner, Boolean(text));
  if (text && !sticky) bannerTimer = window.setTimeout(() => show($.banner, false), 12_000);
}

function errorText(error: unknown): string {
  return error instanceof ApiError ? error.message : 'Something went wrong. Please try again.';
}

function handleError(error: unknown): void {
  if (error instanceof ApiError && error.status === 401) {
    signedOut('Your sign-in has expired. Please sign in again.');
    return;
  }
  banner(errorText(error));
}

// ---------------------------------------------------------------- sign in

function setAuthMode(registering: boolean): void {
  state.registering = registering;
  $.tabLogin.setAttribute('aria-pressed', String(!registering));
  $.tabRegister.setAttribute('aria-pressed', String(registering));
  $.authSubmit.textContent = registering ? 'Create account' : 'Sign in';
  $.password.autocomplete = registering ? 'new-password' : 'current-password';
  $.authError.textContent = '';
}

async function submitAuth(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  $.authError.textContent = '';
  const username = $.username.value.trim();
  const password = $.password.value;
  if (username.length < 3) {
    $.authError.textContent = 'Enter a username of at least 3 characters.';
    $.username.focus();
    return;
  }
  if (password.length < 8) {
    $.authError.textContent = 'Enter a password of at least 8 characters.';
    $.password.focus();
    return;
  }
  $.authSubmit.disabled = true;
  try {
    if (state.registering) await api.register(username, password);
    await api.login(username, password);
    $.password.value = '';
    await signedIn();
  } catch (error) {
    $.authError.textContent =
      error instanceof ApiError && error.status === 401 ? 'That username and password do not match.' : errorText(error);
  } finally {
    $.authSubmit.disabled = false;
  }
}

function signedOut(message?: string): void {
  state.stream?.close();
  state.stream = undefined;
  state.current = undefined;
  state.sessions = [];
  state.messages = [];
  show($.app, false);
  show($.skip, false);
  show($.auth, true);
  setAuthMode(false);
  $.authError.textContent = message ?? '';
  history.replaceState(null, '', '/');
  $.username.focus();
}

async function signedIn(): Promise<void> {
  const me = await api.me();
  $.meName.textContent = me.username ?? '';
  show($.auth, false);
  show($.app, true);
  show($.skip, true);
  await refreshSessions();
  const wanted = /^\/c\/([0-9a-f-]{36})$/i.exec(location.pathname)?.[1];
  const session = state.sessions.find((s) => s.id === wanted);
  if (session) await openSession(session, false);
  else showEmptyChat();
  void refreshStatus();
  $.input.focus();
}

// ---------------------------------------------------------------- sidebar

let sessionsAsked = 0;

async function refreshSessions(): Promise<void> {
  const asked = ++sessionsAsked;
  const sessions = await api.sessions();
  if (asked !== sessionsAsked) return; // a newer answer is on its way
  state.sessions = sessions;
  renderSessions();
}

function replaceSession(updated: Session): void {
  state.sessions = state.sessions.map((s) => (s.id === updated.id ? updated : s));
  if (state.current?.id === updated.id) state.current = updated;
  renderSessions();
  renderChatHeader();
}

function renderSessions(): void {
  const filter = $.filter.value.trim().toLowerCase();
  const sessions = state.sessions
    .filter((s) => $.showClosed.checked || s.status !== 'closed' || s.id === state.current?.id)
    .filter((s) => filter.length === 0 || s.title.toLowerCase().includes(filter))
    .sort((a, b) => timeKey(b.updatedAt).localeCompare(timeKey(a.updatedAt)));
  $.chatList.replaceChildren(
    ...sessions.map((s) => {
      const open = el('button', { className: 'chat-open', text: s.title, attrs: { type: 'button' } });
      if (s.id === state.current?.id) open.setAttribute('aria-current', 'page');
      open.addEventListener('click', () => void openSession(s, true));
      const rename = el('button', { className: 'icon small', text: '✎', attrs: { type: 'button', 'aria-label': `Rename chat ${s.title}`, title: 'Rename' } });
      rename.addEventListener('click', () => openRename(s));
      const children: HTMLElement[] = [open, rename];
      if (s.status === 'closed') {
        children.push(el('span', { className: 'badge', text: 'closed' }));
      } else {
        const close = el('button', { className: 'icon small', text: '✕', attrs: { type: 'button', 'aria-label': `Close chat ${s.title}`, title: 'Close chat' } });
        close.addEventListener('click', () => void closeSession(s));
        children.push(close);
      }
      return el('li', { className: s.status === 'closed' ? 'closed' : '' }, ...children);
    }),
  );
  if (sessions.length === 0) {
    $.chatList.append(el('li', { className: 'muted small none', text: filter ? 'No chat matches.' : 'No chats yet.' }));
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

/** The phone drawer: opening it moves the focus into it, closing it (Esc, ☰, a tap beside it) back to ☰. */
function setMenu(open: boolean, moveFocus = false): void {
  const wasOpen = document.body.classList.contains('menu-open');
  document.body.classList.toggle('menu-open', open);
  $.menu.setAttribute('aria-expanded', String(open));
  if (!moveFocus || wasOpen === open) return;
  if (open) $.newChat.focus();
  else $.menu.focus();
}

// ---------------------------------------------------------------- a chat

function showEmptyChat(): void {
  state.stream?.close();
  state.stream = undefined;
  state.current = undefined;
  state.messages = [];
  state.hasMore = false;
  setRunning(undefined);
  renderMessages();
  renderChatHeader();
  renderSessions();
  history.replaceState(null, '', '/');
}

function renderChatHeader(): void {
  const session = state.current;
  $.title.textContent = session?.title ?? 'New chat';
  document.title = session ? `${session.title} · MeatLizard` : 'MeatLizard';
  for (const [link, format] of [[$.exportJson, 'json'], [$.exportCsv, 'csv']] as const) {
    show(link, Boolean(session));
    if (session) {
      link.href = transcriptUrl(session.id, format);
      link.download = `meatlizard-${session.title.replace(/[^\w.-]+/g, '-').slice(0, 40)}.${format}`;
    }
  }
  show($.settingsOpen, Boolean(session));
  const closed = session?.status === 'closed';
  $.input.disabled = closed;
  $.send.disabled = closed;
  $.input.placeholder = closed ? 'This chat is closed. Start a new chat to continue.' : 'Message MeatLizard';
}

async function openSession(session: Session, push: boolean): Promise<void> {
  state.stream?.close();
  viewCache.clear();
  state.current = session;
  state.messages = [];
  state.hasMore = false;
  state.nextBefore = undefined;
  state.editing = false;
  setRunning(undefined);
  show($.editing, false);
  if (push) history.pushState(null, '', `/c/${session.id}`);
  renderChatHeader();
  renderSessions();
  setMenu(false);
  renderMessages();
  const id = session.id;
  state.stream = new ChatStream(id, {
    // A failure here is the connection failing again: the stream reconnects and this runs once more.
    onOpen: () => void loadNewest(id).catch(() => undefined),
    onDraft: (requestId, text) => {
      if (state.current?.id !== id) return;
      setRunning(requestId, state.runningStatus === 'pending' || state.runningStatus === 'queued' || !state.runningStatus ? 'streaming' : state.runningStatus);
      renderDraft(requestId, text);
    },
    onMessage: (message) => {
      if (state.current?.id !== id) return;
      addMessages([message]);
      if (message.requestId && message.requestId === state.running) setRunning(undefined);
      void refreshSessions().catch(() => undefined); // the sidebar catches up on the next change
    },
    onStatus: (requestId, status, queuePosition) => {
      if (state.current?.id !== id || !requestId) return;
      if (FinishedStatuses.has(status)) {
        finishedRequests.add(requestId);
        if (state.running === requestId) setRunning(undefined);
        if (status === 'cancelled') dropDraft(requestId);
      } else {
        setRunning(requestId, status, queuePosition);
        if ((status === 'queued' || status === 'pending') && queuePosition === undefined) void refreshStatus();
      }
    },
    onError: (text) => banner(`The model host could not answer: ${text}`),
    onConnection: (connection) => {
      if (connection === 'offline') {
        banner(navigator.onLine ? 'Connection to the server lost. Reconnecting…' : 'You are offline. Reconnecting when you are back online…', 'error', true);
      } else if (connection === 'open' && $.banner.dataset.kind === 'connection') {
        banner(undefined);
      }
      $.banner.dataset.kind = connection === 'offline' ? 'connection' : '';
    },
  });
  try {
    await loadNewest(id);
  } catch (error) {
    handleError(error);
  }
}

/** The newest page, merged into what is shown (used on open and on every reconnect). */
async function loadNewest(id: string): Promise<void> {
  const page = await api.messages(id, undefined, PageSize);
  if (state.current?.id !== id) return;
  const first = state.messages.length === 0;
  if (first) {
    state.hasMore = page.hasMore;
    state.nextBefore = page.nextBefore;
  }
  addMessages(page.messages);
  if (first) scrollToBottom();
}

async function loadOlder(): Promise<void> {
  const session = state.current;
  if (!session || !state.hasMore || state.loadingOlder || !state.nextBefore) return;
  state.loadingOlder = true;
  $.historyTop.textContent = 'Loading earlier messages…';
  try {
    const page = await api.messages(session.id, state.nextBefore, PageSize);
    if (state.current?.id !== session.id) return;
    state.hasMore = page.hasMore;
    state.nextBefore = page.nextBefore;
    const before = $.conversation.scrollHeight - $.conversation.scrollTop;
    addMessages(page.messages);
    $.conversation.scrollTop = $.conversation.scrollHeight - before;
  } catch (error) {
    handleError(error);
  } finally {
    state.loadingOlder = false;
    $.historyTop.textContent = state.hasMore ? '' : state.messages.length > 0 ? 'Start of the chat' : '';
  }
}

function addMessages(incoming: Message[]): void {
  for (const message of incoming) {
    if (message.role === 'assistant' && message.requestId) finishedRequests.add(message.requestId);
  }
  if (state.running && finishedRequests.has(state.running)) setRunning(undefined);
  const known = new Map(state.messages.map((m) => [m.id, m]));
  for (const message of incoming) known.set(message.id, message);
  state.messages = [...known.values()].sort((a, b) => timeKey(a.createdAt).localeCompare(timeKey(b.createdAt)) || order(a) - order(b));
  for (const message of incoming) if (message.requestId) dropDraft(message.requestId);
  renderMessages();
}

/** A user message comes before the answer stored at the same instant. */
function order(message: Message): number {
  return message.role === 'user' ? 0 : 1;
}

function messageView(message: Message): HTMLElement {
  const who = message.role === 'user' ? 'You' : 'MeatLizard';
  const meta = el('div', { className: 'meta' }, el('span', { className: 'who', text: who }));
  if (message.source === 'fallback') {
    meta.append(el('span', { className: 'badge fallback', text: 'Fallback reply — the model host was offline', attrs: { title: 'Generated by the Markov fallback, not the model' } }));
  } else if (message.source === 'notice') {
    meta.append(el('span', { className: 'badge notice', text: 'Notice from MeatLizard' }));
  }
  const body = el('div', { className: message.role === 'user' ? 'body plain' : 'body md' });
  if (message.role === 'user') body.textContent = message.content;
  else body.append(renderMarkdown(message.content));
  return el('article', {
    className: `msg ${message.role} ${message.source}`,
    attrs: { 'data-id': message.id, 'aria-label': message.source === 'user' ? 'Your message' : message.source === 'model' ? 'Answer' : `Answer (${message.source})` },
  }, meta, body);
}

let draftView: HTMLElement | undefined;

/** Stored messages never change, so each is rendered once per chat. */
const viewCache = new Map<string, { view: HTMLElement; content: string }>();

function cachedView(message: Message): HTMLElement {
  let cached = viewCache.get(message.id);
  if (!cached || cached.content !== message.content) {
    cached = { view: messageView(message), content: message.content };
    viewCache.set(message.id, cached);
  }
  cached.view.querySelector(':scope > .actions')?.remove();
  return cached.view;
}

function renderMessages(): void {
  const views = state.messages.map(cachedView);
  const lastUser = [...state.messages].reverse().find((m) => m.role === 'user');
  const last = state.messages.at(-1);
  const idle = !state.running && state.current?.status !== 'closed';
  if (idle && last && last.role === 'assistant') {
    const regenerate = el('button', { className: 'small', text: 'Regenerate', attrs: { type: 'button', 'data-action': 'regenerate' } });
    regenerate.addEventListener('click', () => void regenerateAnswer());
    views.at(-1)?.append(el('div', { className: 'actions' }, regenerate));
  }
  if (idle && lastUser) {
    const index = state.messages.indexOf(lastUser);
    const edit = el('button', { className: 'small', text: 'Edit', attrs: { type: 'button', 'data-action': 'edit' } });
    edit.addEventListener('click', () => startEdit(lastUser));
    views[index]?.append(el('div', { className: 'actions' }, edit));
  }
  const stickToBottom = isNearBottom();
  $.messages.replaceChildren($.historyTop, ...views);
  if (draftView) $.messages.append(draftView);
  show($.empty, state.messages.length === 0 && !draftView);
  $.historyTop.textContent = state.hasMore ? '' : state.messages.length > 0 ? 'Start of the chat' : '';
  if (stickToBottom) scrollToBottom();
}

function renderDraft(requestId: string, text: string): void {
  if (state.messages.some((m) => m.requestId === requestId && m.role === 'assistant')) return;
  const stick = isNearBottom();
  if (!draftView || draftView.dataset.request !== requestId) {
    draftView?.remove();
    draftView = el('article', { className: 'msg assistant model streaming', attrs: { 'data-request': requestId, 'aria-label': 'Answer being written', 'aria-busy': 'true' } },
      el('div', { className: 'meta' }, el('span', { className: 'who', text: 'MeatLizard' }), el('span', { className: 'badge live', text: 'writing…' })),
      el('div', { className: 'body md' }));
    $.messages.append(draftView);
    show($.empty, false);
  }
  draftView.querySelector('.body')!.replaceChildren(renderMarkdown(text));
  if (stick) scrollToBottom();
}

function dropDraft(requestId: string): void {
  if (draftView?.dataset.request === requestId) {
    draftView.remove();
    draftView = undefined;
  }
}

function isNearBottom(): boolean {
  const c = $.conversation;
  return c.scrollHeight - c.scrollTop - c.clientHeight < 80;
}

function scrollToBottom(): void {
  $.conversation.scrollTop = $.conversation.scrollHeight;
}

function setRunning(requestId: string | undefined, status?: string, queuePosition?: number): void {
  if (requestId && finishedRequests.has(requestId)) requestId = undefined;
  const changed = state.running !== requestId;
  state.running = requestId;
  state.runningStatus = requestId ? status : undefined;
  state.queuePosition = requestId ? queuePosition ?? state.queuePosition : undefined;
  show($.stop, Boolean(requestId));
  show($.send, !requestId);
  renderQueue();
  if (changed) renderMessages();
}

function renderQueue(): void {
  const status = state.runningStatus;
  if (!state.running || !status) {
    $.queueText.textContent = '';
  } else if (status === 'queued' || status === 'pending') {
    $.queueText.textContent = state.queuePosition ? `· Waiting in queue (position ${state.queuePosition})` : '· Waiting in queue';
  } else if (status === 'dispatched') {
    $.queueText.textContent = '· Sent to the model host';
  } else {
    $.queueText.textContent = '· Writing an answer';
  }
}

// ---------------------------------------------------------------- sending

async function ensureSession(): Promise<Session> {
  if (state.current) return state.current;
  const created = await api.createSession();
  state.sessions.unshift(created);
  await openSession(created, true);
  return created;
}

async function submitMessage(event?: Event): Promise<void> {
  event?.preventDefault();
  const text = $.input.value;
  if (text.trim().length === 0 || state.running) return;
  if (!navigator.onLine) {
    banner('You are offline. Your message was not sent; it is still in the box.');
    return;
  }
  $.input.value = '';
  autoSize();
  banner(undefined);
  try {
    const session = await ensureSession();
    const editing = state.editing;
    const sent = editing ? await api.editLast(session.id, text) : await api.send(session.id, text);
    setEditing(false);
    setRunning(sent.requestId, 'queued');
    if (editing) {
      state.messages = [];
      await loadNewest(session.id);
    } else {
      addMessages([{ id: sent.messageId, sessionId: session.id, role: 'user', content: text, source: 'user', createdAt: new Date().toISOString() }]);
      await loadNewest(session.id);
    }
    scrollToBottom();
    void refreshSessions().catch(() => undefined);
    if (state.current?.title === 'New chat' || state.current?.title === undefined) void titleFrom(session, text);
  } catch (error) {
    $.input.value = text;
    autoSize();
    handleError(error);
  }
}

/** A new chat is named after its first message. */
async function titleFrom(session: Session, text: string): Promise<void> {
  const title = text.replace(/\s+/g, ' ').trim().slice(0, 60);
  if (!title || session.title !== 'New chat') return;
  try {
    replaceSession(await api.updateSession(session.id, { title }));
    await refreshSessions();
  } catch {
    // The title is a nicety; the message itself went through.
  }
}

async function stopAnswer(): Promise<void> {
  const session = state.current;
  if (!session || !state.running) return;
  try {
    await api.cancel(session.id);
  } catch (error) {
    handleError(error);
  }
}

async function regenerateAnswer(): Promise<void> {
  const session = state.current;
  if (!session || state.running) return;
  try {
    const sent = await api.regenerate(session.id);
    setRunning(sent.requestId, 'queued');
    state.messages = [];
    await loadNewest(session.id);
  } catch (error) {
    handleError(error);
  }
}

function startEdit(message: Message): void {
  $.input.value = message.content;
  setEditing(true);
  autoSize();
  $.input.focus();
}

function setEditing(editing: boolean): void {
  state.editing = editing;
  show($.editing, editing);
  $.send.textContent = editing ? 'Resend' : 'Send';
}

function autoSize(): void {
  $.input.style.height = 'auto';
  $.input.style.height = `${Math.min($.input.scrollHeight, 240)}px`;
}

// ---------------------------------------------------------------- settings

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
  const changes: Parameters<typeof api.updateSession>[1] = {
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

// ---------------------------------------------------------------- API keys

async function openKeys(): Promise<void> {
  show($.keyCreated, false);
  $.keyValue.value = '';
  $.keysError.textContent = '';
  $.keysDialog.showModal();
  await renderKeys();
}

async function renderKeys(): Promise<void> {
  try {
    const keys = await api.apiKeys();
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

// ---------------------------------------------------------------- platform status

let statusTimer: number | undefined;

async function refreshStatus(): Promise<void> {
  window.clearTimeout(statusTimer);
  try {
    const status = await api.status();
    const online = Boolean(status.modelAvailable ?? status.workersOnline > 0);
    $.statusDot.className = `dot ${online ? 'online' : 'offline'}`;
    const mode = typeof status.fallbackMode === 'string' ? status.fallbackMode : 'inform';
    $.statusText.textContent = online
      ? 'Model host online'
      : `Model host offline · ${mode === 'markov' ? 'fallback replies (Markov)' : 'you will get a notice instead of an answer'}`;
    if ((state.runningStatus === 'queued' || state.runningStatus === 'pending') && !state.queuePosition && typeof status.queueDepth === 'number' && status.queueDepth > 0) {
      state.queuePosition = status.queueDepth;
      renderQueue();
    }
  } catch {
    $.statusDot.className = 'dot offline';
    $.statusText.textContent = navigator.onLine ? 'Server not reachable' : 'You are offline';
  } finally {
    statusTimer = window.setTimeout(() => void refreshStatus(), StatusEvery);
  }
}

// ---------------------------------------------------------------- wiring

function wire(): void {
  $.tabLogin.addEventListener('click', () => setAuthMode(false));
  $.tabRegister.addEventListener('click', () => setAuthMode(true));
  $.authForm.addEventListener('submit', (e) => void submitAuth(e));
  $.logout.addEventListener('click', async () => {
    try {
      await api.logout();
      signedOut('You are signed out.');
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) signedOut('You are signed out.');
      else banner(`You are still signed in. ${errorText(error)}`);
    }
  });
  $.newChat.addEventListener('click', () => {
    showEmptyChat();
    setMenu(false);
    $.input.focus();
  });
  $.filter.addEventListener('input', renderSessions);
  $.showClosed.addEventListener('change', renderSessions);
  $.menu.addEventListener('click', () => setMenu(!document.body.classList.contains('menu-open'), true));
  document.querySelector('.main')!.addEventListener('click', (e) => {
    if (document.body.classList.contains('menu-open') && e.target !== $.menu) setMenu(false, true);
  });
  $.composer.addEventListener('submit', (e) => void submitMessage(e));
  $.stop.addEventListener('click', () => void stopAnswer());
  $.editCancel.addEventListener('click', () => {
    setEditing(false);
    $.input.value = '';
    autoSize();
  });
  $.input.addEventListener('input', autoSize);
  $.input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      void submitMessage();
    }
  });
  document.addEventListener('keydown', (e) => {
    if (e.key !== 'Escape' || document.querySelector('dialog[open]')) return;
    if (state.running) {
      e.preventDefault();
      void stopAnswer();
    } else if (state.editing) {
      setEditing(false);
      $.input.value = '';
    } else if (document.body.classList.contains('menu-open')) {
      setMenu(false, true);
    }
  });
  $.settingsOpen.addEventListener('click', openSettings);
  $.settingsForm.addEventListener('submit', (e) => void saveSettings(e));
  $.settingsCancel.addEventListener('click', () => $.settingsDialog.close());
  $.renameForm.addEventListener('submit', (e) => void submitRename(e));
  $.renameCancel.addEventListener('click', () => $.renameDialog.close());
  $.keysOpen.addEventListener('click', () => void openKeys());
  $.keyForm.addEventListener('submit', (e) => void createKey(e));
  $.keysClose.addEventListener('click', () => $.keysDialog.close());
  $.keyCopy.addEventListener('click', () => {
    void navigator.clipboard?.writeText($.keyValue.value).then(() => ($.keyCopy.textContent = 'Copied'));
  });
  enableCopyButtons($.messages);
  new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) void loadOlder();
  }, { root: $.conversation, rootMargin: '200px 0px 0px 0px' }).observe($.historyTop);
  window.addEventListener('offline', () => banner('You are offline. Messages cannot be sent until you reconnect.', 'error', true));
  window.addEventListener('online', () => {
    banner('Back online.', 'info');
    void refreshStatus();
  });
  window.addEventListener('popstate', () => {
    const id = /^\/c\/([0-9a-f-]{36})$/i.exec(location.pathname)?.[1];
    const session = state.sessions.find((s) => s.id === id);
    if (session) void openSession(session, false);
    else showEmptyChat();
  });
}

async function boot(): Promise<void> {
  wire();
  setAuthMode(false);
  try {
    await signedIn();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) signedOut();
    else {
      signedOut();
      $.authError.textContent = errorText(error);
    }
  }
}

void boot();
