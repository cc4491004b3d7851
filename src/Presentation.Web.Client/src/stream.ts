// A chat's live events over a WebSocket that reconnects by itself. The server's first event after connecting is a
// snapshot of the answer in progress (its text so far and the seq of its last piece); later pieces carry higher
// seq numbers, so after a reconnect nothing is lost and nothing is shown twice.
import type { AnswerStatus, ChatEventSchema, Message } from './api';

/** A value the server leaves out rather than writing null (its JSON options skip nulls). */
type Written<T> = { [K in keyof T]: Exclude<T[K], null> };

/** One event of the stream, typed by the OpenAPI document's ChatEvent schema (its statuses are AnswerStatus). */
export type ChatEvent = Written<ChatEventSchema>;

export interface StreamHandlers {
  /** The connection is (re)established: the caller reloads the newest page to catch anything missed. */
  onOpen(): void;
  /** The text of a running answer changed (the whole text so far). */
  onDraft(requestId: string, text: string): void;
  onMessage(message: Message): void;
  onStatus(requestId: string | undefined, status: AnswerStatus, queuePosition?: number, estimatedWaitSeconds?: number): void;
  onError(text: string): void;
  onConnection(state: 'connecting' | 'open' | 'offline'): void;
}

interface Draft {
  requestId: string;
  text: string;
  lastSeq: number;
}

/** The seq numbers of a request's attempt n start after (n - 1) × this (RelayRequest.SeqPerAttempt on the server). */
const SeqPerAttempt = 1_000_000;

export const FinishedStatuses: ReadonlySet<AnswerStatus> = new Set<AnswerStatus>(['completed', 'fallback', 'failed', 'cancelled', 'timedout']);

export class ChatStream {
  private socket?: WebSocket;
  private draft?: Draft;
  private closed = false;
  private attempt = 0;
  private retryTimer?: number;

  constructor(private readonly sessionId: string, private readonly handlers: StreamHandlers) {
    window.addEventListener('online', this.reconnectNow);
    this.connect();
  }

  close(): void {
    this.closed = true;
    window.removeEventListener('online', this.reconnectNow);
    window.clearTimeout(this.retryTimer);
    this.socket?.close();
  }

  /** Forgets the answer in progress, e.g. once its stored message arrived. */
  finish(requestId: string): void {
    if (this.draft?.requestId === requestId) this.draft = undefined;
  }

  private readonly reconnectNow = (): void => {
    if (this.closed || this.socket?.readyState === WebSocket.OPEN) return;
    window.clearTimeout(this.retryTimer);
    this.attempt = 0;
    this.connect();
  };

  private connect(): void {
    this.handlers.onConnection('connecting');
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const socket = new WebSocket(`${scheme}//${location.host}/api/v1/sessions/${encodeURIComponent(this.sessionId)}/stream`);
    this.socket = socket;
    socket.onopen = () => {
      this.attempt = 0;
      this.handlers.onConnection('open');
      this.handlers.onOpen();
    };
    socket.onmessage = (event: MessageEvent<string>) => this.receive(JSON.parse(event.data) as ChatEvent);
    socket.onclose = () => {
      if (this.socket !== socket || this.closed) return;
      this.handlers.onConnection('offline');
      const delay = Math.min(10_000, 250 * 2 ** this.attempt++);
      this.retryTimer = window.setTimeout(() => this.connect(), delay);
    };
  }

  private receive(event: ChatEvent): void {
    switch (event.type) {
      case 'status':
        if (event.requestId && event.text !== undefined && event.seq !== undefined) {
          // The snapshot: it replaces whatever this page had of that answer.
          this.draft = { requestId: event.requestId, text: event.text, lastSeq: event.seq };
          this.handlers.onDraft(event.requestId, event.text);
        }
        if (event.status) this.handlers.onStatus(event.requestId, event.status, event.queuePosition, event.estimatedWaitSeconds);
        if (event.requestId && event.status && FinishedStatuses.has(event.status)) this.finish(event.requestId);
        break;
      case 'delta': {
        if (!event.requestId || event.seq === undefined) return;
        if (this.draft?.requestId !== event.requestId) this.draft = { requestId: event.requestId, text: '', lastSeq: 0 };
        const draft = this.draft;
        if (event.seq <= draft.lastSeq) return; // already shown (the snapshot held it)
        if (event.seq % SeqPerAttempt === 1 && event.seq > SeqPerAttempt) {
          // Another attempt's first piece (its host was sent the request again): its text replaces the draft, and it
          // begins with what was shown when its engine continues the answer.
          draft.text = '';
          draft.lastSeq = event.seq - 1;
        }
        if (event.seq > draft.lastSeq + 1 && draft.lastSeq > 0) {
          // A piece went missing: reconnect, and the snapshot brings the whole text.
          this.socket?.close();
          return;
        }
        draft.text += event.text ?? '';
        draft.lastSeq = event.seq;
        this.handlers.onDraft(event.requestId, draft.text);
        break;
      }
      case 'message':
        if (event.message) {
          this.handlers.onMessage(event.message);
          if (event.message.requestId) this.finish(event.message.requestId);
        }
        break;
      case 'error':
        this.handlers.onError(event.error ?? 'The answer could not be produced.');
        break;
    }
  }
}
