// The console's Users section: who may register, accounts waiting for approval (approve, reject), every account found
// by a search (ban and unban, promote and demote, a password reset link, delete with all their data), and invite links (made here, shown once, listed, revoked).
import { api, type AdminUser, type Invite } from './api';
import { byId, show } from './dom';
import { actionButton, attempt, emptyItem, item, showError } from './admin-ui';

const $ = {
  policy: byId<HTMLSelectElement>('admin-policy'),
  pending: byId<HTMLUListElement>('admin-pending'),
  search: byId<HTMLInputElement>('admin-search'),
  users: byId<HTMLUListElement>('admin-users-list'),
  inviteForm: byId<HTMLFormElement>('invite-form'),
  inviteHours: byId<HTMLInputElement>('invite-hours'),
  inviteCreated: byId('invite-created'),
  inviteLink: byId<HTMLInputElement>('invite-link'),
  createdNote: byId('invite-created-note'),
  invites: byId<HTMLUListElement>('admin-invites'),
};

function userItem(user: AdminUser): HTMLLIElement {
  const act = (text: string, label: string, action: () => Promise<unknown>, className?: string) =>
    actionButton(text, label, action, renderUsers, className);
  if (user.status === 'awaitingApproval') {
    return item(user.username, 'waiting for approval',
      act('Approve', `Approve ${user.username}`, () => api.adminUser(user.id, 'approve'), 'small primary'),
      act('Reject', `Reject ${user.username}`, () => api.adminUser(user.id, 'reject'), 'small danger'));
  }
  const banned = user.status === 'banned';
  return item(user.username, `${user.role}${banned ? ', banned' : ''} · since ${new Date(user.createdAt).toLocaleDateString()}`,
    user.role === 'admin'
      ? act('Demote', `Demote ${user.username}`, () => api.adminUser(user.id, 'demote'))
      : act('Make admin', `Make ${user.username} an admin`, () => api.adminUser(user.id, 'promote')),
    banned
      ? act('Unban', `Unban ${user.username}`, () => api.banUser(user.id, false))
      : act('Ban', `Ban ${user.username}`, () => api.banUser(user.id, true), 'small danger'),
    act('Reset link', `Make a password reset link for ${user.username}`, async () => {
      const reset = await api.passwordReset(user.id);
      $.inviteLink.value = reset.link;
      $.createdNote.textContent = `Copy this link now and give it to ${reset.username}: it sets a new password once.`;
      show($.inviteCreated, true);
      $.inviteLink.select();
    }),
    act('Delete', `Delete ${user.username} and all their data`, async () => {
      if (confirm(`Delete ${user.username} and all of their data, for good?`)) await api.deleteUser(user.id);
    }, 'small danger'));
}

function inviteItem(invite: Invite): HTMLLIElement {
  const expires = new Date(invite.expiresAt).toLocaleString();
  return item(invite.state, `expires ${expires}`,
    invite.state === 'unused'
      ? actionButton('Revoke', `Revoke the invite expiring ${expires}`, () => api.revokeInvite(invite.id), renderUsers, 'small danger')
      : null);
}

let renders = 0;

/**
 * Reads the section's four parts side by side and draws each one that was read: one refused or cut read shows its
 * error and leaves its own list as it was, not the whole section empty.
 */
export async function renderUsers(): Promise<void> {
  const current = ++renders;
  const reads = await Promise.allSettled([
    api.usersAwaitingApproval(), api.adminUsers($.search.value.trim()), api.invites(), api.registration()] as const);
  const [waiting, users, invites, registration] = reads;
  if (current !== renders) return;
  if (registration.status === 'fulfilled') $.policy.value = registration.value.policy;
  if (waiting.status === 'fulfilled') {
    $.pending.replaceChildren(...waiting.value.map(userItem));
    if (waiting.value.length === 0) $.pending.append(emptyItem('Nobody is waiting.'));
  }
  if (users.status === 'fulfilled') {
    $.users.replaceChildren(...users.value.map(userItem));
    if (users.value.length === 0) $.users.append(emptyItem('No account matches.'));
  }
  if (invites.status === 'fulfilled') {
    $.invites.replaceChildren(...invites.value.map(inviteItem));
    if (invites.value.length === 0) $.invites.append(emptyItem('No invites yet.'));
  }
  const failed = reads.find((read): read is PromiseRejectedResult => read.status === 'rejected');
  if (failed) showError(failed.reason);
}

export function resetUsers(): void {
  show($.inviteCreated, false);
  $.inviteLink.value = '';
}

export function wireUsers(): void {
  let typing: number | undefined;
  $.search.addEventListener('input', () => {
    window.clearTimeout(typing);
    typing = window.setTimeout(() => void renderUsers(), 250);
  });
  $.policy.addEventListener('change', async () => {
    await attempt(() => api.setRegistration($.policy.value));
    await renderUsers();
  });
  $.inviteForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    await attempt(async () => {
      const invite = await api.createInvite(Number($.inviteHours.value) || 72);
      $.inviteLink.value = invite.link;
      $.createdNote.textContent = 'Copy this link now — it will not be shown again. It registers one account.';
      show($.inviteCreated, true);
      $.inviteLink.select();
    });
    await renderUsers();
  });
}
