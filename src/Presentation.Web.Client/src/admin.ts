// The admins' Users page: accounts waiting for approval (approve, reject), promote and demote, who may register, and
// invite links (made here, shown once, listed, revoked). Everything goes through /api/v1/admin, which checks the caller.
import { api, type AdminUser, type Invite } from './api';
import { byId, el, show } from './dom';
import { errorText } from './notices';

const $ = {
  open: byId<HTMLButtonElement>('admin-open'),
  dialog: byId<HTMLDialogElement>('admin-dialog'),
  error: byId('admin-error'),
  policy: byId<HTMLSelectElement>('admin-policy'),
  pending: byId<HTMLUListElement>('admin-pending'),
  users: byId<HTMLUListElement>('admin-users'),
  inviteForm: byId<HTMLFormElement>('invite-form'),
  inviteHours: byId<HTMLInputElement>('invite-hours'),
  inviteCreated: byId('invite-created'),
  inviteLink: byId<HTMLInputElement>('invite-link'),
  invites: byId<HTMLUListElement>('admin-invites'),
  close: byId<HTMLButtonElement>('admin-close'),
};

/** The Users button is there for admins only (the API refuses everyone else anyway). */
export function showAdmin(isAdmin: boolean): void {
  show($.open, isAdmin);
}

function button(text: string, label: string, action: () => Promise<unknown>, className = 'small'): HTMLButtonElement {
  const b = el('button', { className, text, attrs: { type: 'button', 'aria-label': label } });
  b.addEventListener('click', async () => {
    $.error.textContent = '';
    try {
      await action();
      await render();
    } catch (error) {
      $.error.textContent = errorText(error);
    }
  });
  return b;
}

function userItem(user: AdminUser): HTMLLIElement {
  const waiting = user.status === 'awaitingApproval';
  const actions = waiting
    ? [button('Approve', `Approve ${user.username}`, () => api.adminUser(user.id, 'approve'), 'small primary'),
       button('Reject', `Reject ${user.username}`, () => api.adminUser(user.id, 'reject'), 'small danger')]
    : [user.role === 'admin'
        ? button('Demote', `Demote ${user.username}`, () => api.adminUser(user.id, 'demote'))
        : button('Make admin', `Make ${user.username} an admin`, () => api.adminUser(user.id, 'promote')),
       button('Delete', `Delete ${user.username} and all their data`, async () => {
         if (confirm(`Delete ${user.username} and all of their data, for good?`)) await api.deleteUser(user.id);
       }, 'small danger')];
  const about = `${user.role}${user.status === 'banned' ? ', banned' : ''}`;
  return el('li', {}, el('div', {}, el('strong', { text: user.username }), el('div', { className: 'small muted', text: about })),
    el('div', { className: 'row' }, ...actions));
}

function inviteItem(invite: Invite): HTMLLIElement {
  const expires = new Date(invite.expiresAt).toLocaleString();
  return el('li', {},
    el('div', {}, el('strong', { text: invite.state }), el('div', { className: 'small muted', text: `expires ${expires}` })),
    invite.state === 'unused' ? button('Revoke', `Revoke the invite expiring ${expires}`, () => api.revokeInvite(invite.id), 'small danger') : null);
}

function empty(text: string): HTMLLIElement {
  return el('li', { className: 'muted small', text });
}

let renders = 0;

async function render(): Promise<void> {
  const current = ++renders;
  try {
    const [users, invites, registration] = await Promise.all([api.adminUsers(), api.invites(), api.registration()]);
    if (current !== renders) return;
    $.policy.value = registration.policy;
    const waiting = users.filter((u) => u.status === 'awaitingApproval');
    $.pending.replaceChildren(...waiting.map(userItem));
    if (waiting.length === 0) $.pending.append(empty('Nobody is waiting.'));
    $.users.replaceChildren(...users.filter((u) => u.status !== 'awaitingApproval').map(userItem));
    $.invites.replaceChildren(...invites.map(inviteItem));
    if (invites.length === 0) $.invites.append(empty('No invites yet.'));
  } catch (error) {
    $.error.textContent = errorText(error);
  }
}

async function openAdmin(): Promise<void> {
  $.error.textContent = '';
  show($.inviteCreated, false);
  $.inviteLink.value = '';
  $.dialog.showModal();
  await render();
}

export function wireAdmin(): void {
  $.open.addEventListener('click', () => void openAdmin());
  $.close.addEventListener('click', () => $.dialog.close());
  $.policy.addEventListener('change', async () => {
    $.error.textContent = '';
    try {
      await api.setRegistration($.policy.value);
    } catch (error) {
      $.error.textContent = errorText(error);
    }
    await render();
  });
  $.inviteForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    $.error.textContent = '';
    try {
      const invite = await api.createInvite(Number($.inviteHours.value) || 72);
      $.inviteLink.value = invite.link;
      show($.inviteCreated, true);
      $.inviteLink.select();
      await render();
    } catch (error) {
      $.error.textContent = errorText(error);
    }
  });
}
