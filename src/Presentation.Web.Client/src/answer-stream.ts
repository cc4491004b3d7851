// The open chat's live events applied to the view: the answer as it is written, the stored messages, the request's
// state and queue position, and the connection's own state.
import { refreshSessions } from './sidebar';
import { addMessages, dropDraft, loadNewest, renderDraft, setRunning } from './chat-view';
import { banner, connectionChanged } from './notices';
import { refreshStatus } from './status';
import { finishedRequests, regenerating, state } from './store';
import { ChatStream, FinishedStatuses } from './stream';

/** Follows chat `id`; every event is ignored once another chat is open. */
export function followAnswers(id: string): ChatStream {
  return new ChatStream(id, {
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
      // An event's message does not know its versions; the page does.
      if (message.requestId && regenerating.delete(message.requestId)) void loadNewest(id).catch(() => undefined);
      void refreshSessions().catch(() => undefined); // the sidebar catches up on the next change
    },
    onStatus: (requestId, status, queuePosition, estimatedWaitSeconds) => {
      if (state.current?.id !== id || !requestId) return;
      if (FinishedStatuses.has(status)) {
        finishedRequests.add(requestId);
        if (state.running === requestId) setRunning(undefined);
        if (status === 'cancelled') dropDraft(requestId);
      } else {
        // Sent again to a model host: what was written stays shown until the next attempt writes, from that text
        // when its engine can continue it (the stream replaces the draft with the attempt's text).
        setRunning(requestId, status, queuePosition, estimatedWaitSeconds);
        if ((status === 'queued' || status === 'pending' || status === 'requeued') && queuePosition === undefined) void refreshStatus();
      }
    },
    onError: (text) => banner(`The model host could not answer: ${text}`),
    onConnection: connectionChanged,
  });
}
