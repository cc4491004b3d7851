// The one state the app's features share: the chats, the open chat and its messages, and the answer being written.
import type { AnswerStatus, Message, Session } from './api';
import type { ChatStream } from './stream';

/** Messages per history page. */
export const PageSize = 50;

export interface State {
  sessions: Session[];
  current?: Session;
  messages: Message[];
  hasMore: boolean;
  nextBefore?: string | null;
  loadingOlder: boolean;
  stream?: ChatStream;
  /** The request whose answer is being produced, if any. */
  running?: string;
  runningStatus?: AnswerStatus;
  queuePosition?: number;
  estimatedWaitSeconds?: number;
  /** The question being edited into a new version, if any. */
  editing?: string;
  registering: boolean;
}

export const state: State = { sessions: [], messages: [], hasMore: false, loadingOlder: false, registering: false };

/** Regenerated answers: the page is read again when one arrives, to show it beside the earlier version ("2/2"). */
export const regenerating = new Set<string>();

/** Requests whose answer already arrived; their late 'queued' echo must not mark the chat busy again. */
export const finishedRequests = new Set<string>();
