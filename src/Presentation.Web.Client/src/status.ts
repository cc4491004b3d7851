// The platform's status in the top bar: model host online or offline and what the fallback does; it also fills in a
// queue position the stream did not give.
import { api } from './api';
import { renderQueue } from './chat-view';
import { byId } from './dom';
import { banner } from './notices';
import { state } from './store';

const StatusEvery = 10_000;

const $ = {
  statusDot: byId('status-dot'),
  statusText: byId('status-text'),
};

let statusTimer: number | undefined;

export async function refreshStatus(): Promise<void> {
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

export function wireStatus(): void {
  window.addEventListener('offline', () => banner('You are offline. Messages cannot be sent until you reconnect.', 'error', true));
  window.addEventListener('online', () => {
    banner('Back online.', 'info');
    void refreshStatus();
  });
}
