// Keeping chats in order: pin, archive, folders (a group each in the list), deleting several chats at once, and
// importing them from an export file (ChatGPT's or ours), with its report.
import { api, type Folder, type Session } from './api';
import { handleError } from './auth';
import { showEmptyChat } from './chat-view';
import { byId, el } from './dom';
import { banner, errorText } from './notices';
import { state } from './store';
import { refreshSessions, renderSessions } from './sidebar';

const $ = {
  archived: byId<HTMLInputElement>('show-archived'),
  select: byId<HTMLButtonElement>('select-chats'),
  deleteSelected: byId<HTMLButtonElement>('delete-selected'),
  dialog: byId<HTMLDialogElement>('folder-dialog'),
  form: byId<HTMLFormElement>('folder-form'),
  folder: byId<HTMLSelectElement>('folder-select'),
  newFolder: byId<HTMLInputElement>('folder-new'),
  error: byId('folder-error'),
  cancel: byId<HTMLButtonElement>('folder-cancel'),
  importFile: byId<HTMLInputElement>('import-file'),
};

export let folders: Folder[] = [];
/** Chats ticked for deleting; undefined when the list is not in select mode. */
export let selected: Set<string> | undefined;

export const showingArchived = (): boolean => $.archived.checked;

export async function loadFolders(): Promise<void> {
  folders = await api.folders();
}

async function act(work: () => Promise<unknown>): Promise<void> {
  try {
    await work();
    await refreshSessions();
  } catch (error) {
    handleError(error);
  }
}

const icon = (text: string, label: string, chat: string, control: string, onClick: () => void, pressed?: boolean) => {
  const button = el('button', { className: 'icon small', text, attrs: { type: 'button', 'aria-label': label, title: label, 'data-chat': chat, 'data-control': control } });
  if (pressed !== undefined) button.setAttribute('aria-pressed', String(pressed));
  button.addEventListener('click', onClick);
  return button;
};

/** What a chat's row shows before its title (its tick box in select mode, the pin) and after (folder, archive). */
export function organiseControls(s: Session): [HTMLElement[], HTMLElement[]] {
  const before: HTMLElement[] = [
    icon('📌', `${s.pinned ? 'Unpin' : 'Pin'} chat ${s.title}`, s.id, 'pin', () => void act(() => api.pin(s.id, !s.pinned)), !!s.pinned),
  ];
  const after = [
    icon('🗀', `Move chat ${s.title} to a folder`, s.id, 'folder', () => openMove(s)),
    icon(s.archived ? '↩' : '🗄', `${s.archived ? 'Unarchive' : 'Archive'} chat ${s.title}`, s.id, 'archive',
      () => void act(() => api.archive(s.id, !s.archived))),
  ];
  if (selected) {
    const box = el('input', { attrs: { type: 'checkbox', 'aria-label': `Select chat ${s.title}` } });
    box.checked = selected.has(s.id);
    box.addEventListener('change', () => {
      if (box.checked) selected?.add(s.id);
      else selected?.delete(s.id);
      showSelection();
    });
    before.unshift(box);
  }
  return [before, after];
}

/** A folder's heading in the list, with its rename and delete buttons. */
export function folderHeading(folder: Folder): HTMLElement {
  const rename = icon('✎', `Rename folder ${folder.name}`, folder.id, 'rename-folder', () => {
    const name = prompt('Folder name', folder.name)?.trim();
    if (name) void act(() => api.renameFolder(folder.id, name));
  });
  const remove = icon('✕', `Delete folder ${folder.name}`, folder.id, 'delete-folder', () => {
    if (confirm(`Delete the folder “${folder.name}”? Its chats are kept.`)) void act(() => api.deleteFolder(folder.id));
  });
  return el('li', { className: 'folder' }, el('strong', { className: 'small', text: `🗀 ${folder.name}` }), rename, remove);
}

let moving: Session | undefined;

function openMove(session: Session): void {
  moving = session;
  $.folder.replaceChildren(el('option', { text: 'No folder', attrs: { value: '' } }),
    ...folders.map((f) => el('option', { text: f.name, attrs: { value: f.id } })));
  $.folder.value = session.folderId ?? '';
  $.newFolder.value = '';
  $.error.textContent = '';
  $.dialog.showModal();
}

async function submitMove(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  if (!moving) return;
  try {
    const name = $.newFolder.value.trim();
    const folderId = name ? (await api.createFolder(name)).id : $.folder.value || null;
    await api.moveToFolder(moving.id, folderId);
    $.dialog.close();
    await loadFolders();
    await refreshSessions();
  } catch (error) {
    $.error.textContent = errorText(error);
  }
}

function showSelection(): void {
  $.select.setAttribute('aria-pressed', String(!!selected));
  $.select.textContent = selected ? 'Done' : 'Select';
  $.deleteSelected.hidden = !selected;
  $.deleteSelected.textContent = `Delete selected (${selected?.size ?? 0})`;
  $.deleteSelected.disabled = !selected?.size;
}

async function deleteSelected(): Promise<void> {
  const ids = [...(selected ?? [])];
  if (ids.length === 0 || !confirm(`Delete ${ids.length} chat(s) for good, with their messages?`)) return;
  try {
    await api.deleteChats(ids);
    if (state.current && ids.includes(state.current.id)) showEmptyChat();
    selected = new Set();
    showSelection();
    await refreshSessions();
    banner(`${ids.length} chat(s) deleted.`, 'info');
  } catch (error) {
    handleError(error);
  }
}

async function importChosen(): Promise<void> {
  const file = $.importFile.files?.[0];
  $.importFile.value = '';
  if (!file) return;
  try {
    const r = await api.importChats(file);
    byId('import-summary').textContent = `${r.imported} imported, ${r.skipped} skipped, ${r.failed} failed.`;
    byId('import-report').replaceChildren(...r.conversations.map((c) => el('li', {
      text: `${c.title}: ${c.outcome}${c.reason ? ` (${c.reason})` : ''}${c.notes.length ? ` — left out: ${c.notes.join(', ')}` : ''}`,
    })));
    byId<HTMLDialogElement>('import-dialog').showModal();
    await refreshSessions();
  } catch (error) {
    handleError(error);
  }
}

export function wireOrganising(): void {
  byId('import-open').addEventListener('click', () => $.importFile.click());
  $.importFile.addEventListener('change', () => void importChosen());
  $.archived.addEventListener('change', () => void act(async () => undefined));
  $.select.addEventListener('click', () => {
    selected = selected ? undefined : new Set();
    showSelection();
    renderSessions();
  });
  $.deleteSelected.addEventListener('click', () => void deleteSelected());
  $.form.addEventListener('submit', (e) => void submitMove(e));
  $.cancel.addEventListener('click', () => $.dialog.close());
}
