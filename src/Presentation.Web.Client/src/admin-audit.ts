// The console's Audit log section: every admin action (Discord's and the console's), newest first, filtered by who
// and by command, fifty at a time.
import { api, type AuditPage } from './api';
import { byId, el, show } from './dom';
import { emptyItem, showError } from './admin-ui';

const $ = {
  filter: byId<HTMLFormElement>('audit-filter'),
  actor: byId<HTMLInputElement>('audit-actor'),
  command: byId<HTMLInputElement>('audit-command'),
  list: byId<HTMLUListElement>('audit-list'),
  more: byId<HTMLButtonElement>('audit-more'),
};

let next: number | undefined;
let renders = 0;

function row(entry: AuditPage['entries'][number]): HTMLLIElement {
  const what = `${entry.command}${entry.arguments ? ` ${entry.arguments}` : ''}`;
  return el('li', { className: `outcome-${entry.outcome}` },
    el('div', {}, el('strong', { text: what }),
      el('div', { className: 'small muted', text: `${entry.actor} · ${new Date(entry.at).toLocaleString()}` })),
    el('div', { className: 'small', text: entry.detail ? `${entry.outcome}: ${entry.detail}` : entry.outcome }));
}

/**
 * The first page (`fresh`) or the next older one. Only the latest call's answer is shown: the page read on opening the
 * section must not land over the filtered one asked for after it (answers may come back in any order).
 */
export async function renderAudit(fresh = true): Promise<void> {
  const current = ++renders;
  try {
    const page = await api.audit({ before: fresh ? undefined : next, actor: $.actor.value.trim(), command: $.command.value.trim() });
    if (current !== renders) return;
    const rows = page.entries.map(row);
    if (fresh) $.list.replaceChildren(...rows);
    else $.list.append(...rows);
    if (fresh && rows.length === 0) $.list.append(emptyItem('No entry matches.'));
    next = page.nextBefore ?? undefined;
    show($.more, next !== undefined);
  } catch (error) {
    showError(error);
  }
}

export function wireAudit(): void {
  $.filter.addEventListener('submit', (event) => {
    event.preventDefault();
    void renderAudit(true);
  });
  $.more.addEventListener('click', () => void renderAudit(false));
}
