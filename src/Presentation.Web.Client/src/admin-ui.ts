// What the admin console's sections share: the one error line, buttons that act then redraw, an empty list's line.
import { byId, el } from './dom';
import { fieldErrorText } from './notices';

const errorView = byId('admin-error');

export function clearError(): void {
  errorView.textContent = '';
}

/** A refusal in words: its field messages when it names fields (a bad host name), else its sentence. */
export function showError(error: unknown): void {
  errorView.textContent = fieldErrorText(error);
}

/** Runs `work`, showing its failure in the console's error line; true when it succeeded. */
export async function attempt(work: () => Promise<unknown>): Promise<boolean> {
  clearError();
  try {
    await work();
    return true;
  } catch (error) {
    showError(error);
    return false;
  }
}

/** A button that runs `action`, then `after` (the section's redraw) whether or not it worked. */
export function actionButton(text: string, label: string, action: () => Promise<unknown>, after: () => Promise<void>,
  className = 'small'): HTMLButtonElement {
  const b = el('button', { className, text, attrs: { type: 'button', 'aria-label': label } });
  b.addEventListener('click', async () => {
    await attempt(action);
    await after();
  });
  return b;
}

export function emptyItem(text: string): HTMLLIElement {
  return el('li', { className: 'muted small', text });
}

/** One list item: a bold first line, a muted second, and what can be done on the right. */
export function item(title: string, about: string, ...actions: (HTMLElement | null)[]): HTMLLIElement {
  return el('li', {}, el('div', {}, el('strong', { text: title }), el('div', { className: 'small muted', text: about })),
    el('div', { className: 'row' }, ...actions));
}
