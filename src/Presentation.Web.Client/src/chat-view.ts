// The open chat: its header, its messages (paged in as you scroll up), the answer being written and its state.
import { api, imageUrl, timeKey, transcriptUrl, type AnswerStatus, type Message, type MessagePage, type Session } from './api';
import { followAnswers } from './answer-stream';
import { handleError } from './auth';
import { hideEditing, regenerateAnswer, setClosed, showRunning, startEdit, switchVersion } from './composer';
import { byId, el, show } from './dom';
import { enableCopyButtons, renderMarkdown } from './markdown';
import { imagesView } from './message-images';
import { feedbackButtons, loadFeedback } from './feedback';
import { renderSessions, setMenu } from './sidebar';
import { finishedRequests, PageSize, state } from './store';

const $ = {
  title: byId('chat-title'),
  queueText: byId('queue-text'),
  settingsOpen: byId<HTMLButtonElement>('settings-open'),
  shareOpen: byId<HTMLButtonElement>('share-open'),
  exportJson: byId<HTMLAnchorElement>('export-json'),
  exportCsv: byId<HTMLAnchorElement>('export-csv'),
  conversation: byId('conversation'),
  messages: byId('messages'),
  historyTop: byId('history-top'),
  empty: byId('empty'),
};

export function showEmptyChat(): void {
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

export function renderChatHeader(): void {
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
  show($.shareOpen, Boolean(session));
  setClosed(session?.status === 'closed');
}

export async function openSession(session: Session, push: boolean): Promise<void> {
  state.stream?.close();
  viewCache.clear();
  state.current = session;
  state.messages = [];
  state.hasMore = false;
  state.nextBefore = undefined;
  setRunning(undefined);
  hideEditing();
  if (push) history.pushState(null, '', `/c/${session.id}`);
  renderChatHeader();
  renderSessions();
  setMenu(false);
  renderMessages();
  state.stream = followAnswers(session.id);
  try {
    await loadNewest(session.id);
    await loadFeedback(session.id, $.messages);
  } catch (error) {
    handleError(error);
  }
}

/** The newest page, merged into what is shown (used on open and on every reconnect). */
export async function loadNewest(id: string): Promise<void> {
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

/** Replaces what is shown with <page>, the newest page of the chat's path (after a version was switched). */
export function showPath(id: string, page: MessagePage): void {
  if (state.current?.id !== id) return;
  state.messages = [];
  state.hasMore = page.hasMore;
  state.nextBefore = page.nextBefore;
  addMessages(page.messages);
  scrollToBottom();
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

/** How long (in tries, a page or a tenth of a second each) a search result may load to reach its message. */
const MaxTriesToReveal = 100;

/** Scrolls to a message of the open chat, loading older pages until it is there; marks it as the one found. */
export async function revealMessage(id: string): Promise<void> {
  const session = state.current;
  const find = () => $.messages.querySelector<HTMLElement>(`[data-id="${CSS.escape(id)}"]`);
  for (let tries = 0; !find() && state.hasMore && tries < MaxTriesToReveal && state.current === session; tries++) {
    // A page the scroll asked for is on its way: wait for it rather than ask again.
    if (state.loadingOlder) await new Promise((resolve) => setTimeout(resolve, 100));
    else await loadOlder();
  }
  const view = find();
  if (!view) return;
  for (const other of $.messages.querySelectorAll('.msg.found')) other.classList.remove('found');
  view.classList.add('found');
  view.setAttribute('tabindex', '-1');
  view.scrollIntoView({ block: 'center' });
  view.focus({ preventScroll: true });
}

export function addMessages(incoming: Message[]): void {
  for (const message of incoming) {
    if (message.role === 'assistant' && message.requestId) finishedRequests.add(message.requestId);
  }
  if (state.running && finishedRequests.has(state.running)) setRunning(undefined);
  const known = new Map(state.messages.map((m) => [m.id, m]));
  // A message from an event carries no versions: those the page gave stay.
  for (const message of incoming) known.set(message.id, { ...known.get(message.id), ...message });
  state.messages = [...known.values()].sort((a, b) => timeKey(a.createdAt).localeCompare(timeKey(b.createdAt)) || order(a) - order(b));
  for (const message of incoming) if (message.requestId) dropDraft(message.requestId);
  renderMessages();
}

/** A user message comes before the answer stored at the same instant. */
function order(message: Message): number {
  return message.role === 'user' ? 0 : 1;
}

/** Arguments or a result as the model or tool wrote them, indented when they are JSON. */
function toolText(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/** A folded block: what a tool call asked for, or what the tool gave back. */
function toolBlock(kind: 'tool-call' | 'tool-result', summary: string, text: string): HTMLElement {
  return el('details', { className: kind },
    el('summary', { text: summary }),
    el('pre', {}, el('code', { text: toolText(text) })));
}

/** The name of the function whose call <paramref name="id"/> is, as the answer that asked for it says. */
function toolName(id: string | null | undefined): string {
  for (const message of state.messages) {
    const call = message.toolCalls?.find((c) => c.id === id);
    if (call) return call.name;
  }
  return 'a tool';
}

function messageView(message: Message): HTMLElement {
  if (message.role === 'tool') {
    return el('article', {
      className: 'msg tool',
      attrs: { 'data-id': message.id, 'aria-label': 'Tool result' },
    },
    el('div', { className: 'meta' }, el('span', { className: 'who', text: 'Tool' })),
    toolBlock('tool-result', `Result of ${toolName(message.toolCallId)}`, message.content));
  }
  const who = message.role === 'user' ? 'You' : 'MeatLizard';
  const meta = el('div', { className: 'meta' }, el('span', { className: 'who', text: who }));
  if (message.source === 'fallback') {
    meta.append(el('span', { className: 'badge fallback', text: 'Fallback reply — the model host was offline', attrs: { title: 'Generated by the Markov fallback, not the model' } }));
  } else if (message.source === 'notice') {
    meta.append(el('span', { className: 'badge notice', text: 'Notice from MeatLizard' }));
  } else if (message.cached) {
    meta.append(el('span', { className: 'badge cached', text: 'Cached', attrs: { title: 'The same question was answered before: this answer is given again from the answer cache' } }));
  }
  const body = el('div', { className: message.role === 'user' ? 'body plain' : 'body md' });
  if (message.role === 'user') body.textContent = message.content;
  else body.append(renderMarkdown(message.content));
  const calls = (message.toolCalls ?? []).map((call) => toolBlock('tool-call', `Called ${call.name}`, call.arguments));
  const pictures = imagesView(message.images, (name) => imageUrl(message.sessionId, name));
  return el('article', {
    className: `msg ${message.role} ${message.source}`,
    attrs: { 'data-id': message.id, 'aria-label': message.source === 'user' ? 'Your message' : message.source === 'model' ? 'Answer' : `Answer (${message.source})` },
  }, meta, message.content.length > 0 || calls.length === 0 ? body : null, pictures, ...calls,
  message.role === 'assistant' ? feedbackButtons(message.id) : null);
}

let draftView: HTMLElement | undefined;

/** Stored messages never change, so each is rendered once per chat (again once its images are known). */
const viewCache = new Map<string, { view: HTMLElement; content: string }>();

function cachedView(message: Message): HTMLElement {
  let cached = viewCache.get(message.id);
  const content = `${message.images?.length ?? 0}:${message.content}`;
  if (!cached || cached.content !== content) {
    cached = { view: messageView(message), content };
    viewCache.set(message.id, cached);
  }
  cached.view.querySelector(':scope > .actions')?.remove();
  return cached.view;
}

/** "‹ 2/3 ›": the versions of a turn, to switch between (while no answer is being written). */
function versionSwitcher(message: Message, idle: boolean): HTMLElement | null {
  const ids = message.siblingIds ?? [];
  const index = message.siblingIndex ?? 0;
  if (ids.length < 2) return null;
  const step = (to: number, text: string, label: string) => {
    const button = el('button', { className: 'small', text, attrs: { type: 'button', 'aria-label': label, 'data-action': label.split(' ')[0].toLowerCase() } });
    button.disabled = !idle || to < 0 || to >= ids.length;
    button.addEventListener('click', () => void switchVersion(ids[to]));
    return button;
  };
  return el('span', { className: 'versions', attrs: { role: 'group', 'aria-label': 'Versions' } },
    step(index - 1, '‹', 'Previous version'),
    el('span', { className: 'version-count', text: `${index + 1}/${ids.length}` }),
    step(index + 1, '›', 'Next version'));
}

export function renderMessages(): void {
  const views = state.messages.map(cachedView);
  const last = state.messages.at(-1);
  const idle = !state.running && state.current?.status !== 'closed';
  state.messages.forEach((message, index) => {
    const actions: HTMLElement[] = [];
    const versions = versionSwitcher(message, !state.running);
    if (versions) actions.push(versions);
    if (idle && message.role === 'user') {
      const edit = el('button', { className: 'small', text: 'Edit', attrs: { type: 'button', 'data-action': 'edit' } });
      edit.addEventListener('click', () => startEdit(message));
      actions.push(edit);
    }
    if (idle && message === last && message.role === 'assistant') {
      const regenerate = el('button', { className: 'small', text: 'Regenerate', attrs: { type: 'button', 'data-action': 'regenerate' } });
      regenerate.addEventListener('click', () => void regenerateAnswer());
      actions.push(regenerate);
    }
    if (actions.length > 0) views[index].append(el('div', { className: 'actions' }, ...actions));
  });
  const stickToBottom = isNearBottom();
  $.messages.replaceChildren($.historyTop, ...views);
  if (draftView) $.messages.append(draftView);
  show($.empty, state.messages.length === 0 && !draftView);
  $.historyTop.textContent = state.hasMore ? '' : state.messages.length > 0 ? 'Start of the chat' : '';
  if (stickToBottom) scrollToBottom();
}

export function renderDraft(requestId: string, text: string): void {
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

export function dropDraft(requestId: string): void {
  if (draftView?.dataset.request === requestId) {
    draftView.remove();
    draftView = undefined;
  }
}

function isNearBottom(): boolean {
  const c = $.conversation;
  return c.scrollHeight - c.scrollTop - c.clientHeight < 80;
}

export function scrollToBottom(): void {
  $.conversation.scrollTop = $.conversation.scrollHeight;
}

export function setRunning(requestId: string | undefined, status?: AnswerStatus, queuePosition?: number, estimatedWaitSeconds?: number): void {
  if (requestId && finishedRequests.has(requestId)) requestId = undefined;
  const changed = state.running !== requestId;
  state.running = requestId;
  state.runningStatus = requestId ? status : undefined;
  state.queuePosition = requestId ? queuePosition ?? state.queuePosition : undefined;
  state.estimatedWaitSeconds = requestId ? estimatedWaitSeconds ?? (queuePosition === undefined ? state.estimatedWaitSeconds : undefined) : undefined;
  showRunning(Boolean(requestId));
  renderQueue();
  if (changed) renderMessages();
}

export function renderQueue(): void {
  const status = state.runningStatus;
  if (!state.running || !status) {
    $.queueText.textContent = '';
  } else if (status === 'queued' || status === 'pending' || status === 'requeued') {
    const place = state.queuePosition ? `· Waiting in queue (position ${state.queuePosition})` : '· Waiting in queue';
    const wait = state.estimatedWaitSeconds;
    $.queueText.textContent = wait === undefined ? place : `${place} · about ${wait < 60 ? `${wait} s` : `${Math.round(wait / 60)} min`}`;
  } else if (status === 'dispatched') {
    $.queueText.textContent = '· Sent to the model host';
  } else {
    $.queueText.textContent = '· Writing an answer';
  }
}

export function wireChatView(): void {
  enableCopyButtons($.messages);
  new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) void loadOlder();
  }, { root: $.conversation, rootMargin: '200px 0px 0px 0px' }).observe($.historyTop);
  window.addEventListener('popstate', () => {
    const id = /^\/c\/([0-9a-f-]{36})$/i.exec(location.pathname)?.[1];
    const session = state.sessions.find((s) => s.id === id);
    if (session) void openSession(session, false);
    else showEmptyChat();
  });
}
