// Full-text search from the sidebar's box: as the chats are filtered by title, the caller's messages (and titles) are
// searched on the server; a result opens its chat at the message it was found in.
import { api, ApiError, type SearchHit, type Session } from './api';
import { handleError } from './auth';
import { openSession, revealMessage, showPath } from './chat-view';
import { byId, el, show } from './dom';
import { refreshSessions } from './sidebar';
import { state } from './store';

const $ = {
  filter: byId<HTMLInputElement>('filter'),
  results: byId('search-results'),
  list: byId<HTMLUListElement>('search-list'),
  more: byId<HTMLButtonElement>('search-more'),
};

/** Fewer characters than this find too much to be of use, and each keystroke would ask the server. */
const MinLength = 2;
const Pause = 250;

let timer: number | undefined;
let asked = 0;
let next: string | null | undefined;

async function search(cursor?: string): Promise<void> {
  const q = $.filter.value.trim();
  const ask = ++asked;
  if (q.length < MinLength) {
    show($.results, false);
    return;
  }
  try {
    const page = await api.search(q, cursor);
    if (ask !== asked) return; // the text changed while this was on its way
    if (!cursor) $.list.replaceChildren();
    $.list.append(...page.results.map(hitView));
    if ($.list.children.length === 0) $.list.append(el('li', { className: 'muted small', text: 'Nothing found.' }));
    next = page.nextCursor;
    show($.more, Boolean(next));
    show($.results, true);
  } catch (error) {
    if (error instanceof ApiError && error.status === 400) return; // a text the server will not search; say nothing
    handleError(error);
  }
}

/** The snippet as text nodes, the matched words in <mark>: nothing of it is read as HTML. */
function snippetView(hit: SearchHit): HTMLElement {
  const snippet = el(hit.messageId ? 'span' : 'em');
  let at = 0;
  for (const { start, length } of [...hit.highlights].sort((a, b) => a.start - b.start)) {
    if (start < at) continue;
    snippet.append(hit.snippet.slice(at, start), el('mark', { text: hit.snippet.slice(start, start + length) }));
    at = start + length;
  }
  snippet.append(hit.snippet.slice(at));
  return snippet;
}

function hitView(hit: SearchHit): HTMLElement {
  // A title that matched is its own snippet; a message shows its chat's title above its snippet.
  const open = el('button', { className: 'search-hit', attrs: { type: 'button', 'data-chat': hit.chatId, ...(hit.messageId ? { 'data-message': hit.messageId } : {}) } },
    hit.messageId ? el('strong', { text: hit.title }) : el('strong', {}, snippetView(hit)), hit.messageId ? snippetView(hit) : null);
  open.addEventListener('click', () => void openHit(hit));
  return el('li', {}, open);
}

async function openHit(hit: SearchHit): Promise<void> {
  try {
    let session: Session | undefined = state.sessions.find((s) => s.id === hit.chatId);
    if (!session) {
      await refreshSessions();
      // Not in the list: an archived chat.
      session = state.sessions.find((s) => s.id === hit.chatId) ?? await api.session(hit.chatId);
    }
    // A message of a version the chat does not show now: selected first, as its ‹ › would, so that everything the chat
    // then reads (its first page, the catch-up of its live stream) is of the path through it. Selected after opening,
    // the stream's catch-up could still bring back the path shown before.
    // The chat may be the one open (its messages then stay, merged with what it reads): the path through the message
    // is shown from the selection's own page.
    const selected = hit.messageId && hit.offPath ? await api.selectVersion(hit.chatId, hit.messageId) : undefined;
    await openSession(session, true);
    if (selected) showPath(session.id, selected);
    if (hit.messageId) await revealMessage(hit.messageId);
  } catch (error) {
    handleError(error);
  }
}

export function wireSearch(): void {
  $.filter.addEventListener('input', () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(() => void search(), Pause);
  });
  $.more.addEventListener('click', () => {
    if (next) void search(next);
  });
}
