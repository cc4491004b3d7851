// The console's Settings section: the rate limits, the fallback mode and the default model — the values Discord's
// /ratelimit, /fallback and /model change, through the same commands — and who changed each last.
import { api, type AdminSettings } from './api';
import { byId, el } from './dom';
import { attempt, emptyItem, showError } from './admin-ui';

const $ = {
  rates: byId<HTMLFormElement>('settings-rates'),
  rateFields: byId('rate-fields'),
  fallback: byId<HTMLSelectElement>('set-fallback'),
  modelForm: byId<HTMLFormElement>('settings-model'),
  model: byId<HTMLInputElement>('set-default-model'),
  saved: byId('settings-saved'),
  changes: byId<HTMLUListElement>('settings-changes'),
};

const scopeNames: Record<string, string> = { user: 'Per user', ip: 'Per address', guild: 'Per guild or group' };

function rateField(limit: AdminSettings['rateLimits'][number]): HTMLDivElement {
  const id = `rate-${limit.scope}`;
  const input = el('input', { attrs: { id, type: 'number', min: '0', max: '100000', step: '1', 'data-scope': limit.scope } });
  input.value = String(limit.perMinute);
  return el('div', {}, el('label', { text: scopeNames[limit.scope] ?? limit.scope, attrs: { for: id } }), input);
}

export async function renderAdminSettings(): Promise<void> {
  try {
    const settings = await api.adminSettings();
    $.rateFields.replaceChildren(...settings.rateLimits.map(rateField));
    $.fallback.value = settings.fallbackMode;
    $.model.value = settings.defaultModel;
    $.changes.replaceChildren(...settings.changes.map((c) => el('li', {},
      el('span', { text: `${c.key} = ${c.value}` }),
      el('span', { className: 'muted', text: `${c.updatedBy ?? 'unknown'} · ${new Date(c.updatedAt).toLocaleString()}` }))));
    if (settings.changes.length === 0) $.changes.append(emptyItem('Nothing changed yet: configuration is in force.'));
  } catch (error) {
    showError(error);
  }
}

async function save(what: string, work: () => Promise<unknown>): Promise<void> {
  $.saved.textContent = '';
  if (await attempt(work)) $.saved.textContent = `${what} saved.`;
  await renderAdminSettings();
}

export function wireAdminSettings(): void {
  $.rates.addEventListener('submit', (event) => {
    event.preventDefault();
    const inputs = [...$.rateFields.querySelectorAll<HTMLInputElement>('input[data-scope]')];
    void save('Rate limits', () => Promise.all(inputs.map((input) =>
      api.setRateLimit(input.dataset.scope ?? '', input.value === '' ? -1 : Number(input.value)))));
  });
  $.fallback.addEventListener('change', () => void save('Fallback', () => api.setFallback($.fallback.value)));
  $.modelForm.addEventListener('submit', (event) => {
    event.preventDefault();
    void save('Default model', () => api.setDefaultModel($.model.value.trim()));
  });
}
