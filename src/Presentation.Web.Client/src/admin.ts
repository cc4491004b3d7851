// The admin console: one dialog with a section per job — the dashboard (its charts load on first use, apart from the
// app's own code), users, each user's usage, model hosts (with the direct relay's host tokens), settings and the audit
// log. The Admin button is there for admins only; every call goes through /api/v1/admin, which checks the caller again
// and audits it.
import { byId, show } from './dom';
import { clearError, showError } from './admin-ui';
import { renderAudit, wireAudit } from './admin-audit';
import { renderHosts } from './admin-hosts';
import { renderHostTokens, resetHostTokens, wireHostTokens } from './admin-host-tokens';
import { renderAdminSettings, wireAdminSettings } from './admin-settings';
import { renderUsage, wireUsage } from './admin-usage';
import { renderUsers, resetUsers, wireUsers } from './admin-users';

type Section = 'dashboard' | 'users' | 'usage' | 'hosts' | 'settings' | 'audit';

const $ = {
  open: byId<HTMLButtonElement>('admin-open'),
  dialog: byId<HTMLDialogElement>('admin-dialog'),
  close: byId<HTMLButtonElement>('admin-close'),
  tabs: [...document.querySelectorAll<HTMLButtonElement>('.console-tabs button[data-section]')],
};

const renderers: Record<Section, () => Promise<void>> = {
  dashboard: async () => {
    try {
      (await import('./dashboard')).showDashboard();
    } catch (error) {
      showError(error);
    }
  },
  users: renderUsers,
  usage: renderUsage,
  hosts: async () => {
    await Promise.all([renderHosts(), renderHostTokens()]);
  },
  settings: renderAdminSettings,
  audit: () => renderAudit(true),
};

let current: Section = 'dashboard';

async function showSection(section: Section): Promise<void> {
  current = section;
  clearError();
  for (const tab of $.tabs) {
    const on = tab.dataset.section === section;
    tab.setAttribute('aria-pressed', String(on));
    show(byId(`admin-${tab.dataset.section}`), on);
  }
  await renderers[section]();
}

/** The Admin button is there for admins only (the API refuses everyone else anyway). */
export function showAdmin(isAdmin: boolean): void {
  show($.open, isAdmin);
}

export function wireAdmin(): void {
  $.open.addEventListener('click', () => {
    resetUsers();
    resetHostTokens();
    $.dialog.showModal();
    void showSection(current);
  });
  $.close.addEventListener('click', () => $.dialog.close());
  for (const tab of $.tabs) tab.addEventListener('click', () => void showSection(tab.dataset.section as Section));
  wireUsers();
  wireHostTokens();
  wireAdminSettings();
  wireAudit();
  wireUsage();
}
