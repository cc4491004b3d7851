// Thumbs up or down under each answer of one's own chat: stored with the answer's model and host, changeable; the
// buttons show the rating given (aria-pressed), and pressing the given one again withdraws it.
import { api } from './api';
import { handleError } from './auth';
import { el } from './dom';
import { state } from './store';

/** The rating given to each answer of the open chat. */
const ratings = new Map<string, string>();

const Choices = [
  { rating: 'up', text: '👍', label: 'Good answer' },
  { rating: 'down', text: '👎', label: 'Bad answer' },
] as const;

export function feedbackButtons(messageId: string): HTMLElement {
  const buttons = Choices.map(({ rating, text, label }) => {
    const button = el('button', { className: 'icon small', text, attrs: { type: 'button', 'aria-label': label, title: label, 'data-rating': rating, 'aria-pressed': String(ratings.get(messageId) === rating) } });
    button.addEventListener('click', () => void rate(messageId, rating, button.parentElement!));
    return button;
  });
  return el('div', { className: 'feedback', attrs: { role: 'group', 'aria-label': 'Rate this answer' } }, ...buttons);
}

async function rate(messageId: string, rating: string, group: HTMLElement): Promise<void> {
  const chat = state.current;
  if (!chat) return;
  try {
    if (ratings.get(messageId) === rating) {
      await api.unrate(chat.id, messageId);
      ratings.delete(messageId);
      show(group, undefined);
      return;
    }
    const saved = await api.rate(chat.id, messageId, rating);
    ratings.set(messageId, saved.rating);
    show(group, saved.rating);
  } catch (error) {
    handleError(error);
  }
}

function show(group: Element, rating: string | undefined): void {
  for (const button of group.querySelectorAll<HTMLElement>('button[data-rating]')) {
    button.setAttribute('aria-pressed', String(button.dataset.rating === rating));
  }
}

/** The ratings of a chat just opened, shown on the answers already drawn. */
export async function loadFeedback(chatId: string, root: HTMLElement): Promise<void> {
  ratings.clear();
  const given = await api.feedback(chatId);
  if (state.current?.id !== chatId) return;
  for (const f of given) ratings.set(f.messageId, f.rating);
  for (const group of root.querySelectorAll<HTMLElement>('.feedback')) {
    const id = group.closest<HTMLElement>('[data-id]')?.dataset.id;
    if (id) show(group, ratings.get(id));
  }
}
