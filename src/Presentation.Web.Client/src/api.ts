// The REST API as the app uses it: JSON in and out, the session cookie for identity, the CSRF double-submit
// token on every state-changing call, and errors turned into sentences a person can act on.

import type { components, paths } from './api-types';

// The shapes come from api-types.ts, generated from the API's OpenAPI document (`npm run api-types`); a test
// (tests/Web.Tests/ApiTypesTests.cs) type-checks this app against the live document, so a changed answer breaks it.

type Schemas = components['schemas'];

/** The JSON an operation answers with on success; `unknown` (so every use fails to type-check) if it has none. */
type Answer<P extends keyof paths, M extends keyof paths[P], S extends number = 200> =
  paths[P][M] extends { responses: { [K in S]: { content: { 'application/json': infer T } } } } ? T : unknown;

/** The JSON body an operation takes. */
type Body<P extends keyof paths, M extends keyof paths[P]> =
  paths[P][M] extends { requestBody?: { content: { 'application/json': infer T } } } ? T : never;

export type Session = Schemas['SessionDto'];
export type Message = Schemas['MessageDto'];
export type MessageImage = Schemas['ImageDto'];
/** Where a request for an answer stands: the server's one set of statuses (AnswerStatuses), from the OpenAPI document. */
export type AnswerStatus = Schemas['AnswerStatus'];
/** One event of a chat's stream (the WebSocket's messages), as the OpenAPI document's ChatEvent schema says. */
export type ChatEventSchema = Schemas['ChatEvent'];
export type MessagePage = Answer<'/api/v1/sessions/{id}/messages', 'get'>;
export type ApiKey = Schemas['ApiKeyDto'];
export type SearchPage = Answer<'/api/v1/search', 'get'>;
export type SearchHit = Schemas['SearchHitDto'];
export type ShareLink = Schemas['ShareLinkDto'];
export type Folder = Schemas['ChatFolderDto'];
export type SharedChat = Answer<'/api/v1/shared/{token}', 'get'>;
export type CreatedApiKey = Answer<'/api/v1/auth/api-keys', 'post', 201>;
export type PlatformStatus = Answer<'/api/v1/status', 'get'>;
/** A model the platform knows now: its hosts, free slots and the messages waiting for it. */
export type ModelStatus = Schemas['ModelStatusDto'];
export type Me = Answer<'/api/v1/auth/me', 'get'>;
export type SendResult = Answer<'/api/v1/sessions/{id}/send', 'post', 202>;
export type SessionChanges = Partial<Pick<Body<'/api/v1/sessions/{id}', 'patch'>, 'title' | 'model' | 'systemPrompt' | 'temperature' | 'maxTokens'>>;

export const CsrfCookie = 'meatlizard.csrf';
export const CsrfHeader = 'X-CSRF-Token';

/** An API failure with a message fit to show. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly retryAfterSeconds?: number,
    readonly fields: Record<string, string[]> = {},
  ) {
    super(message);
  }
}

function readCookie(name: string): string | undefined {
  for (const part of document.cookie.split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return decodeURIComponent(rest.join('='));
  }
  return undefined;
}

function describe(status: number, detail: string | undefined, retryAfter: number | undefined): string {
  switch (status) {
    case 401:
      return detail && detail.length > 0 ? detail : 'You are signed out. Please sign in again.';
    case 403:
      return detail ?? 'That is not allowed.';
    case 404:
      return detail ?? 'That chat no longer exists.';
    case 413:
      return detail ?? 'That message is too long.';
    case 429: {
      const wait = retryAfter ?? 60;
      return `You are sending messages too quickly. Try again in ${wait} second${wait === 1 ? '' : 's'}.`;
    }
    case 502:
    case 503:
    case 504:
      return 'The server is not answering right now. Please try again in a moment.';
    default:
      return detail ?? (status >= 500 ? 'Something went wrong on the server. Please try again.' : 'The request was not accepted.');
  }
}

export async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD') {
    const token = readCookie(CsrfCookie);
    if (token) headers[CsrfHeader] = token;
  }

  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined || body instanceof Blob ? body : JSON.stringify(body),
      credentials: 'same-origin',
    });
  } catch {
    throw new ApiError(
      navigator.onLine ? 'The server cannot be reached. Check your connection and try again.' : 'You are offline. Reconnect to the internet and try again.',
      0,
    );
  }

  if (response.ok) {
    if (response.status === 204) return undefined as T;
    const type = response.headers.get('content-type') ?? '';
    return (type.includes('json') ? await response.json() : await response.text()) as T;
  }

  let detail: string | undefined;
  let fields: Record<string, string[]> = {};
  try {
    const problem = (await response.json()) as { detail?: string; title?: string; errors?: Record<string, string[]> };
    detail = problem.detail ?? problem.title;
    fields = problem.errors ?? {};
  } catch {
    // Not a ProblemDetails body; the status alone says enough.
  }
  const retryHeader = response.headers.get('Retry-After');
  const retryAfter = retryHeader !== null && /^\d+$/.test(retryHeader) ? Number(retryHeader) : undefined;
  throw new ApiError(describe(response.status, detail, retryAfter), response.status, retryAfter, fields);
}

/**
 * An API time as a key that sorts in time order. The server writes ISO 8601 with the fraction's trailing zeros
 * trimmed ("…:01.12Z" is 120 ms, "…:01.123Z" 123 ms), so the plain strings do not sort; the key is UTC with a
 * seven-digit fraction.
 */
export function timeKey(iso: string): string {
  const parts = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:?\d\d)?$/i.exec(iso);
  if (!parts) return iso;
  const seconds = new Date(`${parts[1]}${parts[3] ?? 'Z'}`);
  if (Number.isNaN(seconds.getTime())) return iso;
  return `${seconds.toISOString().slice(0, 19)}.${(parts[2] ?? '').padEnd(7, '0').slice(0, 7)}`;
}

const enc = encodeURIComponent;

export type Registration = Answer<'/api/v1/auth/registration', 'get'>;
export type AdminUser = Schemas['AdminUserDto'];
export type Invite = Schemas['InviteDto'];
export type CreatedInvite = Answer<'/api/v1/admin/invites', 'post', 201>;
export type CreatedPasswordReset = Answer<'/api/v1/admin/users/{id}/password-reset', 'post', 201>;
export type AdminStatus = Answer<'/api/v1/admin/status', 'get'>;
export type HostToken = Schemas['HostTokenDto'];
export type CreatedHostToken = Answer<'/api/v1/admin/hosts/tokens', 'post', 201>;
export type AdminSettings = Answer<'/api/v1/admin/settings', 'get'>;
export type AuditPage = Answer<'/api/v1/admin/audit', 'get'>;
export type MetricsSeries = Answer<'/api/v1/admin/metrics/series', 'get'>;
export type UsageReport = Answer<'/api/v1/admin/usage', 'get'>;
/** A setup token (the first admin) or an invite code, given with a registration. */
export type Pass = Pick<Body<'/api/v1/auth/register', 'post'>, 'inviteCode' | 'setupToken'>;

export type Persona = Schemas['PersonaDto'];
export type PersonaFields = Body<'/api/v1/personas', 'post'>;
export type Preferences = Schemas['PreferencesDto'];

export const api = {
  me: () => request<Me>('GET', '/api/v1/auth/me'),
  registration: () => request<Registration>('GET', '/api/v1/auth/registration'),
  register: (username: string, password: string, pass: Pass = {}) =>
    request<Answer<'/api/v1/auth/register', 'post', 201>>('POST', '/api/v1/auth/register',
      { ...credentials(username, password), ...pass } satisfies Body<'/api/v1/auth/register', 'post'>),
  login: (username: string, password: string) =>
    request<Answer<'/api/v1/auth/login', 'post'>>('POST', '/api/v1/auth/login', credentials(username, password)),
  logout: () => request<void>('POST', '/api/v1/auth/logout'),
  logoutEverywhere: () => request<void>('POST', '/api/v1/auth/logout-everywhere'),
  changePassword: (change: Body<'/api/v1/auth/password', 'post'>) =>
    request<Answer<'/api/v1/auth/password', 'post'>>('POST', '/api/v1/auth/password', change),
  deleteAccount: (password: string) =>
    request<void>('DELETE', '/api/v1/auth/account', { password } satisfies Body<'/api/v1/auth/account', 'delete'>),
  preferences: () => request<Preferences>('GET', '/api/v1/auth/preferences'),
  setPreferences: (preferences: Body<'/api/v1/auth/preferences', 'put'>) =>
    request<Preferences>('PUT', '/api/v1/auth/preferences', preferences),
  personas: () => request<Persona[]>('GET', '/api/v1/personas'),
  createPersona: (persona: PersonaFields) => request<Persona>('POST', '/api/v1/personas', persona),
  updatePersona: (id: string, persona: PersonaFields) =>
    request<Persona>('PUT', `/api/v1/personas/${enc(id)}`, persona satisfies Body<'/api/v1/personas/{id}', 'put'>),
  deletePersona: (id: string) => request<void>('DELETE', `/api/v1/personas/${enc(id)}`),
  status: () => request<PlatformStatus>('GET', '/api/v1/status'),
  models: () => request<Answer<'/api/v1/models', 'get'>>('GET', '/api/v1/models'),
  session: (id: string) => request<Session>('GET', `/api/v1/sessions/${enc(id)}`),
  sessions: (archived = false) => request<Answer<'/api/v1/sessions', 'get'>>('GET', `/api/v1/sessions${archived ? '?archived=true' : ''}`),
  pin: (id: string, pinned: boolean) =>
    request<void>('PUT', `/api/v1/sessions/${enc(id)}/pin`, { pinned } satisfies Body<'/api/v1/sessions/{id}/pin', 'put'>),
  archive: (id: string, archived: boolean) =>
    request<void>('PUT', `/api/v1/sessions/${enc(id)}/archive`, { archived } satisfies Body<'/api/v1/sessions/{id}/archive', 'put'>),
  moveToFolder: (id: string, folderId: string | null) =>
    request<void>('PUT', `/api/v1/sessions/${enc(id)}/folder`, { folderId } satisfies Body<'/api/v1/sessions/{id}/folder', 'put'>),
  deleteChats: (ids: string[]) =>
    request<Answer<'/api/v1/sessions/delete', 'post'>>('POST', '/api/v1/sessions/delete', { ids } satisfies Body<'/api/v1/sessions/delete', 'post'>),
  folders: () => request<Folder[]>('GET', '/api/v1/folders'),
  createFolder: (name: string) =>
    request<Folder>('POST', '/api/v1/folders', { name } satisfies Body<'/api/v1/folders', 'post'>),
  renameFolder: (id: string, name: string) =>
    request<Folder>('PATCH', `/api/v1/folders/${enc(id)}`, { name } satisfies Body<'/api/v1/folders/{id}', 'patch'>),
  deleteFolder: (id: string) => request<void>('DELETE', `/api/v1/folders/${enc(id)}`),
  /** An export file as it was downloaded (ChatGPT's conversations.json or MeatLizard's JSON export). */
  importChats: (file: Blob) => request<Answer<'/api/v1/imports', 'post'>>('POST', '/api/v1/imports', file),
  createSession: (personaId?: string) =>
    request<Answer<'/api/v1/sessions', 'post', 201>>('POST', '/api/v1/sessions', (personaId ? { personaId } : {}) satisfies Partial<Body<'/api/v1/sessions', 'post'>>),
  updateSession: (id: string, changes: SessionChanges) =>
    request<Answer<'/api/v1/sessions/{id}', 'patch'>>('PATCH', `/api/v1/sessions/${enc(id)}`, changes),
  closeSession: (id: string) => request<void>('DELETE', `/api/v1/sessions/${enc(id)}`),
  messages: (id: string, before?: string, limit = 50) =>
    request<MessagePage>('GET', `/api/v1/sessions/${enc(id)}/messages?limit=${limit}${before ? `&before=${enc(before)}` : ''}`),
  /** <images>: data: URLs (the server reads their type from their bytes). */
  send: (id: string, content: string, images: string[] = []) =>
    request<SendResult>('POST', `/api/v1/sessions/${enc(id)}/send`, { content, images } satisfies Partial<Body<'/api/v1/sessions/{id}/send', 'post'>>),
  cancel: (id: string) => request<Answer<'/api/v1/sessions/{id}/cancel', 'post'>>('POST', `/api/v1/sessions/${enc(id)}/cancel`),
  regenerate: (id: string) =>
    request<Answer<'/api/v1/sessions/{id}/regenerate', 'post', 202>>('POST', `/api/v1/sessions/${enc(id)}/regenerate`),
  editMessage: (id: string, messageId: string, content: string, images?: string[]) =>
    request<Answer<'/api/v1/sessions/{id}/messages/{messageId}/edit', 'post', 202>>('POST',
      `/api/v1/sessions/${enc(id)}/messages/${enc(messageId)}/edit`,
      { content, images } satisfies Body<'/api/v1/sessions/{id}/messages/{messageId}/edit', 'post'>),
  selectVersion: (id: string, messageId: string) =>
    request<MessagePage>('POST', `/api/v1/sessions/${enc(id)}/messages/${enc(messageId)}/select`),
  search: (q: string, cursor?: string) =>
    request<SearchPage>('GET', `/api/v1/search?q=${enc(q)}${cursor ? `&cursor=${enc(cursor)}` : ''}`),
  share: (id: string) =>
    request<Answer<'/api/v1/sessions/{id}/share', 'post', 201>>('POST', `/api/v1/sessions/${enc(id)}/share`, {} satisfies Body<'/api/v1/sessions/{id}/share', 'post'>),
  shareLinks: (chatId: string) => request<ShareLink[]>('GET', `/api/v1/share-links?chatId=${enc(chatId)}`),
  revokeShareLink: (id: string) => request<void>('DELETE', `/api/v1/share-links/${enc(id)}`),
  shared: (token: string) => request<SharedChat>('GET', `/api/v1/shared/${enc(token)}`),
  rate: (chatId: string, messageId: string, rating: string) =>
    request<Answer<'/api/v1/sessions/{id}/messages/{messageId}/feedback', 'put'>>('PUT', `/api/v1/sessions/${enc(chatId)}/messages/${enc(messageId)}/feedback`,
      { rating } satisfies Body<'/api/v1/sessions/{id}/messages/{messageId}/feedback', 'put'>),
  unrate: (chatId: string, messageId: string) =>
    request<void>('DELETE', `/api/v1/sessions/${enc(chatId)}/messages/${enc(messageId)}/feedback`),
  feedback: (chatId: string) => request<Answer<'/api/v1/sessions/{id}/feedback', 'get'>>('GET', `/api/v1/sessions/${enc(chatId)}/feedback`),
  apiKeys: () => request<Answer<'/api/v1/auth/api-keys', 'get'>>('GET', '/api/v1/auth/api-keys'),
  createApiKey: (name: string) =>
    request<CreatedApiKey>('POST', '/api/v1/auth/api-keys', { name } satisfies Body<'/api/v1/auth/api-keys', 'post'>),
  revokeApiKey: (id: string) => request<void>('DELETE', `/api/v1/auth/api-keys/${enc(id)}`),
  createLinkCode: () => request<Answer<'/api/v1/auth/link-codes', 'post'>>('POST', '/api/v1/auth/link-codes'),
  linkedAccounts: () => request<Answer<'/api/v1/auth/linked-accounts', 'get'>>('GET', '/api/v1/auth/linked-accounts'),
  unlinkAccount: (network: string, externalId: string) =>
    request<void>('DELETE', `/api/v1/auth/linked-accounts/${enc(network)}/${enc(externalId)}`),
  // The accounts not waiting for approval (those waiting have their own list), the newest first.
  adminUsers: (search = '') =>
    request<AdminUser[]>('GET', `/api/v1/admin/users?awaitingApproval=false${search ? `&search=${enc(search)}` : ''}`),
  usersAwaitingApproval: () => request<AdminUser[]>('GET', '/api/v1/admin/users?awaitingApproval=true'),
  adminUser: (id: string, action: 'approve' | 'reject' | 'promote' | 'demote') =>
    request<Answer<'/api/v1/admin/users/{id}/approve', 'post'>>('POST', `/api/v1/admin/users/${enc(id)}/${action}`),
  banUser: (id: string, ban: boolean) =>
    request<Answer<'/api/v1/admin/users/{id}/ban', 'post'>>('POST', `/api/v1/admin/users/${enc(id)}/${ban ? 'ban' : 'unban'}`),
  adminStatus: () => request<AdminStatus>('GET', '/api/v1/admin/status'),
  adminSettings: () => request<AdminSettings>('GET', '/api/v1/admin/settings'),
  setRateLimit: (scope: string, perMinute: number) =>
    request<Answer<'/api/v1/admin/settings/rate-limits/{scope}', 'put'>>('PUT', `/api/v1/admin/settings/rate-limits/${enc(scope)}`,
      { perMinute } satisfies Body<'/api/v1/admin/settings/rate-limits/{scope}', 'put'>),
  setFallback: (mode: string) =>
    request<Answer<'/api/v1/admin/settings/fallback', 'put'>>('PUT', '/api/v1/admin/settings/fallback',
      { mode } satisfies Body<'/api/v1/admin/settings/fallback', 'put'>),
  setDefaultModel: (model: string) =>
    request<Answer<'/api/v1/admin/settings/default-model', 'put'>>('PUT', '/api/v1/admin/settings/default-model',
      { model } satisfies Body<'/api/v1/admin/settings/default-model', 'put'>),
  audit: (filter: { before?: number; actor?: string; command?: string }) => {
    const query = new URLSearchParams({ limit: '50' });
    if (filter.before !== undefined) query.set('before', String(filter.before));
    if (filter.actor) query.set('actor', filter.actor);
    if (filter.command) query.set('command', filter.command);
    return request<AuditPage>('GET', `/api/v1/admin/audit?${query.toString()}`);
  },
  metricsSeries: (period: string) => request<MetricsSeries>('GET', `/api/v1/admin/metrics/series?period=${enc(period)}`),
  usage: (days: number, userId?: string) =>
    request<UsageReport>('GET', `/api/v1/admin/usage?days=${days}${userId ? `&userId=${enc(userId)}` : ''}`),
  deleteUser: (id: string) =>
    request<Answer<'/api/v1/admin/users/{id}', 'delete'>>('DELETE', `/api/v1/admin/users/${enc(id)}`),
  setRegistration: (policy: string) =>
    request<Registration>('PUT', '/api/v1/admin/registration', { policy } satisfies Body<'/api/v1/admin/registration', 'put'>),
  invites: () => request<Invite[]>('GET', '/api/v1/admin/invites'),
  createInvite: (expiresInHours: number) =>
    request<CreatedInvite>('POST', '/api/v1/admin/invites', { expiresInHours } satisfies Body<'/api/v1/admin/invites', 'post'>),
  revokeInvite: (id: string) => request<void>('DELETE', `/api/v1/admin/invites/${enc(id)}`),
  hostTokens: () => request<HostToken[]>('GET', '/api/v1/admin/hosts/tokens'),
  createHostToken: (name: string) =>
    request<CreatedHostToken>('POST', '/api/v1/admin/hosts/tokens', { name } satisfies Body<'/api/v1/admin/hosts/tokens', 'post'>),
  revokeHostToken: (name: string) => request<void>('DELETE', `/api/v1/admin/hosts/tokens/${enc(name)}`),
  drainHost: (id: string, drain: boolean) =>
    request<Answer<'/api/v1/admin/hosts/{id}/drain', 'post'>>('POST', `/api/v1/admin/hosts/${enc(id)}/${drain ? 'drain' : 'undrain'}`),
  passwordReset: (id: string) =>
    request<CreatedPasswordReset>('POST', `/api/v1/admin/users/${enc(id)}/password-reset`, {}),
  resetPassword: (code: string, newPassword: string) =>
    request<Answer<'/api/v1/auth/password-reset', 'post'>>('POST', '/api/v1/auth/password-reset',
      { code, newPassword } satisfies Body<'/api/v1/auth/password-reset', 'post'>),
};

function credentials(username: string, password: string): Body<'/api/v1/auth/login', 'post'> {
  return { username, password };
}

/** An image of a message, served with the signed-in user's cookie like the rest of the API. */
export function imageUrl(sessionId: string, name: string): string {
  return `/api/v1/sessions/${enc(sessionId)}/images/${enc(name)}`;
}

/** An image of a message of a share link's copy, served to anyone who holds the link. */
export function sharedImageUrl(token: string, name: string): string {
  return `/api/v1/shared/${enc(token)}/images/${enc(name)}`;
}

export function transcriptUrl(id: string, format: 'json' | 'csv'): string {
  return `/api/v1/sessions/${enc(id)}/transcript?format=${format}`;
}
