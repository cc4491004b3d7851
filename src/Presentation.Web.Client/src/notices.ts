// The banner over the chat: errors and confirmations in words, and the lost-connection notice.
import { ApiError } from './api';
import { byId, show } from './dom';

const bannerView = byId('banner');
let bannerTimer: number | undefined;

export function banner(text: string | undefined, kind: 'error' | 'info' = 'error', sticky = false): void {
  window.clearTimeout(bannerTimer);
  bannerView.textContent = text ?? '';
  bannerView.className = `banner ${kind}`;
  show(bannerView, Boolean(text));
  if (text && !sticky) bannerTimer = window.setTimeout(() => show(bannerView, false), 12_000);
}

export function errorText(error: unknown): string {
  return error instanceof ApiError ? error.message : 'Something went wrong. Please try again.';
}

/** A refusal's field messages (ProblemDetails errors) when it has them, else its sentence: for a form's error line. */
export function fieldErrorText(error: unknown): string {
  const fields = error instanceof ApiError ? Object.values(error.fields).flat() : [];
  return fields.length > 0 ? fields.join(' ') : errorText(error);
}

/** The chat's live connection dropped or came back; only a connection notice is cleared by its return. */
export function connectionChanged(connection: 'connecting' | 'open' | 'offline'): void {
  if (connection === 'offline') {
    banner(navigator.onLine ? 'Connection to the server lost. Reconnecting…' : 'You are offline. Reconnecting when you are back online…', 'error', true);
  } else if (connection === 'open' && bannerView.dataset.kind === 'connection') {
    banner(undefined);
  }
  bannerView.dataset.kind = connection === 'offline' ? 'connection' : '';
}
