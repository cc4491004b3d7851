// Sign in, create an account, sign out; a 401 anywhere brings the sign-in form back.
import { showAdmin } from './admin';
import { api, ApiError, type Pass, type Registration } from './api';
import { openSession, showEmptyChat } from './chat-view';
import { focusInput } from './composer';
import { byId, show } from './dom';
import { banner, errorText } from './notices';
import { loadPersonas, showSharing } from './personas';
import { refreshSessions } from './sidebar';
import { refreshStatus } from './status';
import { state } from './store';

const $ = {
  skip: byId('skip'),
  auth: byId('auth'),
  authForm: byId<HTMLFormElement>('auth-form'),
  tabLogin: byId<HTMLButtonElement>('tab-login'),
  tabRegister: byId<HTMLButtonElement>('tab-register'),
  username: byId<HTMLInputElement>('username'),
  password: byId<HTMLInputElement>('password'),
  authError: byId('auth-error'),
  authPolicy: byId('auth-policy'),
  authSubmit: byId<HTMLButtonElement>('auth-submit'),
  app: byId('app'),
  meName: byId('me-name'),
  logout: byId<HTMLButtonElement>('logout'),
};

/** An API failure shown in the banner; an expired sign-in goes back to the sign-in form instead. */
export function handleError(error: unknown): void {
  if (error instanceof ApiError && error.status === 401) {
    signedOut('Your sign-in has expired. Please sign in again.');
    return;
  }
  banner(errorText(error));
}

// What the page was opened with: the setup link (/setup?token=…) registers the first admin; an invite link (?invite=…)
// carries the code an invitation-only registration needs.
const opened = new URLSearchParams(location.search);
let pass: Pass = location.pathname === '/setup' && opened.get('token')
  ? { setupToken: opened.get('token') }
  : opened.get('invite') ? { inviteCode: opened.get('invite') } : {};
let registration: Registration | undefined;
// An admin's password reset link (?reset=…): the form sets a new password for the account it names, then signs in.
let resetCode = opened.get('reset');

/** Who may register, said on the Create account tab (and whether it can be used at all). */
function policyText(): string {
  if (pass.setupToken) return 'This is the setup link: the account you create now is the first admin.';
  if (!registration) return '';
  switch (registration.policy) {
    case 'closed': return 'Registration is closed on this platform.';
    case 'approval': return "New accounts wait for an admin's approval before they can sign in.";
    case 'inviteOnly': return pass.inviteCode ? 'You were invited: create your account.' : 'Registration is by invitation: open the invite link an admin gave you.';
    default: return '';
  }
}

function setAuthMode(registering: boolean): void {
  state.registering = registering;
  for (const field of [$.username, $.username.labels?.[0], $.tabLogin.parentElement]) if (field) show(field, !resetCode);
  $.tabLogin.setAttribute('aria-pressed', String(!registering));
  $.tabRegister.setAttribute('aria-pressed', String(registering));
  $.authSubmit.textContent = registering ? (pass.setupToken ? 'Create admin account' : 'Create account') : 'Sign in';
  $.password.autocomplete = registering ? 'new-password' : 'current-password';
  $.authError.textContent = '';
  $.authPolicy.textContent = registering ? policyText() : '';
  $.authSubmit.disabled = registering && !pass.setupToken && registration?.policy === 'closed';
  if (resetCode) {
    $.password.autocomplete = 'new-password';
    $.authSubmit.textContent = 'Set new password';
    $.authPolicy.textContent = 'Choose a new password for your account.';
  }
}

async function submitAuth(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  $.authError.textContent = '';
  let username = $.username.value.trim();
  const password = $.password.value;
  if (username.length < 3 && !resetCode) {
    $.authError.textContent = 'Enter a username of at least 3 characters.';
    $.username.focus();
    return;
  }
  if (password.length < 8) {
    $.authError.textContent = 'Enter a password of at least 8 characters.';
    $.password.focus();
    return;
  }
  $.authSubmit.disabled = true;
  try {
    if (resetCode) {
      // An admin's reset link: the password is set for the account it names, which then signs in with it.
      ({ username } = await api.resetPassword(resetCode, password));
      resetCode = null;
      history.replaceState(null, '', '/');
    } else if (state.registering) {
      const account = await api.register(username, password, pass);
      if (account.awaitingApproval) {
        setAuthMode(false);
        $.authPolicy.textContent = "Your account is waiting for an admin's approval; you can sign in once it is approved.";
        $.password.value = '';
        return;
      }
    }
    await api.login(username, password);
    $.password.value = '';
    if (pass.setupToken || pass.inviteCode) {
      // Spent: the link's secret leaves the address bar and the history.
      pass = {};
      history.replaceState(null, '', '/');
    }
    await signedIn();
  } catch (error) {
    $.authError.textContent =
      error instanceof ApiError && error.status === 401 ? 'That username and password do not match.' : errorText(error);
  } finally {
    $.authSubmit.disabled = false;
  }
}

export function signedOut(message?: string): void {
  state.stream?.close();
  state.stream = undefined;
  state.current = undefined;
  state.sessions = [];
  state.messages = [];
  show($.app, false);
  show($.skip, false);
  show($.auth, true);
  setAuthMode(Boolean(pass.setupToken || pass.inviteCode));
  $.authError.textContent = message ?? '';
  if (!pass.setupToken && !pass.inviteCode && !resetCode) history.replaceState(null, '', '/');
  $.username.focus();
}

async function signedIn(): Promise<void> {
  const me = await api.me();
  $.meName.textContent = me.username ?? '';
  showAdmin(me.role === 'admin');
  showSharing(me.role === 'admin');
  void loadPersonas();
  show($.auth, false);
  show($.app, true);
  show($.skip, true);
  await refreshSessions();
  const wanted = /^\/c\/([0-9a-f-]{36})$/i.exec(location.pathname)?.[1];
  // A chat not in the list (an archived one) opens by its address too.
  const session = state.sessions.find((s) => s.id === wanted) ?? (wanted ? await api.session(wanted).catch(() => undefined) : undefined);
  if (session) await openSession(session, false);
  else showEmptyChat();
  void refreshStatus();
  // Into the message box, unless the user already went somewhere else while the chats loaded (typing into the search
  // box, say): their next keys would otherwise land in the message box.
  if (!document.activeElement || document.activeElement === document.body) focusInput();
}

export function wireAuth(): void {
  $.tabLogin.addEventListener('click', () => setAuthMode(false));
  $.tabRegister.addEventListener('click', () => setAuthMode(true));
  $.authForm.addEventListener('submit', (e) => void submitAuth(e));
  $.logout.addEventListener('click', async () => {
    try {
      await api.logout();
      signedOut('You are signed out.');
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) signedOut('You are signed out.');
      else banner(`You are still signed in. ${errorText(error)}`);
    }
  });
}

/** Signed in already (the session cookie survives a reload) or the sign-in form. */
export async function startAuth(): Promise<void> {
  registration = await api.registration().catch(() => undefined);
  setAuthMode(false);
  try {
    await signedIn();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) signedOut();
    else {
      signedOut();
      $.authError.textContent = errorText(error);
    }
  }
}
