// The message box: send (creating the chat on the first message), stop, regenerate, edit a question into a new
// version; Enter sends, Shift+Enter adds a line, Esc stops or leaves edit mode or closes the drawer.
import { api, type Message, type Session } from './api';
import { restoreAttachments, setAttachable, takeAttachments, wireAttachments } from './attachments';
import { handleError } from './auth';
import { addMessages, loadNewest, openSession, scrollToBottom, setRunning, showPath } from './chat-view';
import { byId, show } from './dom';
import { banner } from './notices';
import { chosenPersona } from './personas';
import { isMenuOpen, refreshSessions, setMenu } from './sidebar';
import { regenerating, state } from './store';

const $ = {
  composer: byId<HTMLFormElement>('composer'),
  input: byId<HTMLTextAreaElement>('input'),
  send: byId<HTMLButtonElement>('send'),
  stop: byId<HTMLButtonElement>('stop'),
  editing: byId('editing'),
  editCancel: byId<HTMLButtonElement>('edit-cancel'),
};

export function focusInput(): void {
  $.input.focus();
}

/** A closed chat takes no more messages. */
export function setClosed(closed: boolean): void {
  $.input.disabled = closed;
  $.send.disabled = closed;
  setAttachable(!closed);
  $.input.placeholder = closed ? 'This chat is closed. Start a new chat to continue.' : 'Message MeatLizard';
}

/** While an answer is being written, Stop takes Send's place. */
export function showRunning(running: boolean): void {
  show($.stop, running);
  show($.send, !running);
}

async function ensureSession(): Promise<Session> {
  if (state.current) return state.current;
  const created = await api.createSession(chosenPersona());
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
  // An edit keeps the question's images unless images are attached: those replace them.
  const editing = state.editing;
  const images = takeAttachments();
  $.input.value = '';
  autoSize();
  banner(undefined);
  let session: Session;
  let sent: Awaited<ReturnType<typeof api.send>> | Awaited<ReturnType<typeof api.editMessage>>;
  try {
    session = await ensureSession();
    sent = editing ? await api.editMessage(session.id, editing, text, images.length > 0 ? images : undefined) : await api.send(session.id, text, images);
  } catch (error) {
    $.input.value = text;
    restoreAttachments(images);
    autoSize();
    handleError(error);
    return;
  }
  // Sent: the text is not put back in the box whatever becomes of what follows (the chat read again can fail, the
  // connection gone a moment after): sending it again would ask the same question twice.
  try {
    setEditing(undefined);
    // The chat's socket may have told a later status of this request (dispatched, streaming) before this reply came.
    if (state.running !== sent.requestId) setRunning(sent.requestId, 'queued');
    if (editing) {
      state.messages = [];
      await loadNewest(session.id);
    } else {
      addMessages([{ id: sent.messageId, sessionId: session.id, role: 'user', content: text, source: 'user', createdAt: new Date().toISOString() }]);
      await loadNewest(session.id);
    }
    scrollToBottom();
    // The server names a new chat after its first message; the list and the header show that name.
    void refreshSessions().catch(() => undefined);
  } catch (error) {
    handleError(error);
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

export async function regenerateAnswer(): Promise<void> {
  const session = state.current;
  if (!session || state.running) return;
  try {
    const sent = await api.regenerate(session.id);
    regenerating.add(sent.requestId);
    if (state.running !== sent.requestId) setRunning(sent.requestId, 'queued');
    state.messages = [];
    await loadNewest(session.id);
  } catch (error) {
    handleError(error);
  }
}

export function startEdit(message: Message): void {
  $.input.value = message.content;
  setEditing(message.id);
  autoSize();
  $.input.focus();
}

/** Shows another version of a turn: the conversation below it changes to that version's. */
export async function switchVersion(messageId: string): Promise<void> {
  const session = state.current;
  if (!session || state.running) return;
  try {
    showPath(session.id, await api.selectVersion(session.id, messageId));
  } catch (error) {
    handleError(error);
  }
}

function setEditing(editing: string | undefined): void {
  state.editing = editing;
  show($.editing, Boolean(editing));
  $.send.textContent = editing ? 'Resend' : 'Send';
}

/** Opening another chat leaves edit mode (the button's text is left as it was). */
export function hideEditing(): void {
  state.editing = undefined;
  show($.editing, false);
}

function autoSize(): void {
  $.input.style.height = 'auto';
  $.input.style.height = `${Math.min($.input.scrollHeight, 240)}px`;
}

export function wireComposer(): void {
  wireAttachments();
  $.composer.addEventListener('submit', (e) => void submitMessage(e));
  $.stop.addEventListener('click', () => void stopAnswer());
  $.editCancel.addEventListener('click', () => {
    setEditing(undefined);
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
      setEditing(undefined);
      $.input.value = '';
    } else if (isMenuOpen()) {
      setMenu(false, true);
    }
  });
}
