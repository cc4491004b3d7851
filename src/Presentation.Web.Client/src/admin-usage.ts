// The console's Usage section: each user's model work over the last 1, 7, 30 or 90 UTC days (GET /api/v1/admin/usage)
// — chat requests and the tokens they read and wrote, embeddings calls, texts and tokens — heaviest first, with a
// totals row. A name shows that user alone (`userId`) until "Show everyone". The API lists 500 users at most: then the
// summary says so, and the totals are those of the users listed.
import { api, type UsageReport } from './api';
import { byId, el, show } from './dom';
import { showError } from './admin-ui';

const $ = {
  periods: [...document.querySelectorAll<HTMLButtonElement>('#admin-usage button[data-days]')],
  summary: byId('usage-summary'),
  everyone: byId<HTMLButtonElement>('usage-everyone'),
  rows: byId<HTMLTableSectionElement>('usage-rows'),
  totals: byId<HTMLTableSectionElement>('usage-totals'),
};

type Usage = UsageReport['users'][number];
type Figures = Usage['chat'];

let days = 30;
let only: { id: string; name: string } | undefined;
let renders = 0;

const tokens = (f: Figures): number => f.promptTokens + f.completionTokens;

/** A row's figures, in the columns' order: chat requests, prompt, completion; embeddings calls, texts, tokens; total. */
function figures(chat: Figures, embeddings: Figures): number[] {
  return [chat.requests, chat.promptTokens, chat.completionTokens,
    embeddings.requests, embeddings.inputs, embeddings.promptTokens, tokens(chat) + tokens(embeddings)];
}

function row(head: HTMLTableCellElement, values: number[]): HTMLTableRowElement {
  return el('tr', {}, head, ...values.map((v) => el('td', { text: v.toLocaleString() })));
}

function userRow(user: Usage): HTMLTableRowElement {
  const head = el('th', { attrs: { scope: 'row' } });
  if (only) {
    head.textContent = user.username;
  } else {
    const name = el('button', { className: 'link', text: user.username, attrs: { type: 'button', title: `Show only ${user.username}` } });
    name.addEventListener('click', () => {
      only = { id: user.userId, name: user.username };
      void renderUsage();
    });
    head.append(name);
  }

  return row(head, figures(user.chat, user.embeddings));
}

function sum(users: Usage[], kind: 'chat' | 'embeddings'): Figures {
  const add = (pick: (f: Figures) => number) => users.reduce((n, u) => n + pick(u[kind]), 0);
  return { requests: add((f) => f.requests), inputs: add((f) => f.inputs),
    promptTokens: add((f) => f.promptTokens), completionTokens: add((f) => f.completionTokens) };
}

/** A UTC day as people read it, e.g. "27 Nov 2026". */
function utcDay(at: string | number): string {
  return new Date(at).toLocaleDateString(undefined, { timeZone: 'UTC', day: 'numeric', month: 'short', year: 'numeric' });
}

function summary(report: UsageReport): string {
  const period = report.days === 1 ? `today (UTC day: ${utcDay(report.from)})`
    : `in the last ${report.days} days (UTC days: ${utcDay(report.from)} – ${utcDay(Date.parse(report.to) - 86_400_000)})`;
  const n = report.users.length;
  const who = only ? `${only.name}'s model work` : `${n} user${n === 1 ? '' : 's'} used the model`;
  return `${who} ${period}` +
    (report.truncated ? ` · only the ${n} heaviest users are listed, and the totals are theirs` : '');
}

/** Draws the period asked for; only the latest call's answer is shown (answers may come back in any order). */
export async function renderUsage(): Promise<void> {
  const current = ++renders;
  for (const b of $.periods) b.setAttribute('aria-pressed', String(Number(b.dataset.days) === days));
  show($.everyone, only !== undefined);
  try {
    const report = await api.usage(days, only?.id);
    if (current !== renders) return;
    $.summary.textContent = summary(report);
    $.rows.replaceChildren(...report.users.map(userRow));
    if (report.users.length === 0) {
      const nobody = only ? `${only.name} did not use the model in this period.` : 'Nobody used the model in this period.';
      $.rows.append(el('tr', {}, el('td', { className: 'muted small', text: nobody, attrs: { colspan: '8' } })));
    }
    $.totals.replaceChildren(row(el('th', { text: report.truncated ? 'Total of these' : 'Total', attrs: { scope: 'row' } }),
      figures(sum(report.users, 'chat'), sum(report.users, 'embeddings'))));
    show($.totals, report.users.length > 1);
  } catch (error) {
    showError(error);
  }
}

export function wireUsage(): void {
  for (const b of $.periods) {
    b.addEventListener('click', () => {
      days = Number(b.dataset.days) || 30;
      void renderUsage();
    });
  }
  $.everyone.addEventListener('click', () => {
    only = undefined;
    void renderUsage();
  });
}
