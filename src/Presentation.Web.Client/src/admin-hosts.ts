// The console's Model hosts section: each model with its hosts, free slots and queue; each host online with its state,
// models, slots in use and speed, and a button to drain it (it finishes what it writes, takes nothing new) or undrain it; the default model. Read from /api/v1/admin/status (the same as Discord's /workers).
import { api, type AdminStatus } from './api';
import { byId } from './dom';
import { actionButton, emptyItem, item, showError } from './admin-ui';

const $ = {
  summary: byId('hosts-summary'),
  models: byId<HTMLUListElement>('hosts-models'),
  hosts: byId<HTMLUListElement>('hosts-list'),
};

type Worker = AdminStatus['platform']['workers'][number];

function state(worker: Worker): string {
  if (worker.drainedByAdmin) return 'drained by an admin';
  if (worker.draining) return 'draining';
  if (worker.ready) return 'ready';
  return worker.loading ? 'loading its model' : 'not ready';
}

function speed(tokensPerSecond: number | null | undefined): string {
  return tokensPerSecond == null ? 'no answer yet' : `${tokensPerSecond.toFixed(1)} tokens/s`;
}

function hostItem(worker: Worker): HTMLLIElement {
  const slots = worker.slots == null ? `${worker.jobsRunning} running` : `${worker.jobsRunning}/${worker.slots} slots in use`;
  const seen = Math.max(0, Math.round((Date.now() - new Date(worker.lastSeen).getTime()) / 1000));
  const models = worker.modelDetails?.length
    ? worker.modelDetails.map((m) => `${m.name}: ${m.jobs ?? 0}${m.slots == null ? '' : `/${m.slots}`} in use, ${speed(m.tokensPerSecond)}`).join('; ')
    : (worker.models?.join(', ') || 'its default model');
  const name = `${worker.name ?? 'unnamed host'} (${worker.id.slice(0, 8)})`;
  const drain = worker.drainedByAdmin ? 'Undrain' : 'Drain';
  return item(name,
    `${worker.engine}, ${state(worker)} · ${slots} · ${speed(worker.tokensPerSecond)} · ${models} · seen ${seen} s ago`,
    actionButton(drain, `${drain} ${name}`, () => api.drainHost(worker.id, !worker.drainedByAdmin), renderHosts, 'small'));
}

export async function renderHosts(): Promise<void> {
  try {
    const status = await api.adminStatus();
    const platform = status.platform;
    $.summary.textContent = `${platform.summary} · ${platform.queueDepth} waiting · default model: ${status.defaultModel}` +
      ` · fallback: ${platform.fallbackMode}`;
    const models = platform.models ?? [];
    $.models.replaceChildren(...models.map((m) => item(`${m.name}${m.isDefault ? ' (default)' : ''}`,
      `${m.hosts} host(s) · ${m.slots == null ? 'slots unknown' : `${m.freeSlots ?? 0}/${m.slots} slots free`} · ${m.waiting} waiting`)));
    if (models.length === 0) $.models.append(emptyItem('No model is served now.'));
    $.hosts.replaceChildren(...platform.workers.map(hostItem));
    if (platform.workers.length === 0) $.hosts.append(emptyItem('No model host is online.'));
  } catch (error) {
    showError(error);
  }
}
