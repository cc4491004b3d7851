// The app's entry: styles, every feature's event wiring, then sign-in (or straight into the chats when the session
// cookie is still good). Each feature lives in its own module and shares state through store.ts.
import 'highlight.js/styles/github.css';
import './styles.css';
import { wireAccount } from './account';
import { wireAdmin } from './admin';
import { wireApiKeys } from './api-keys';
import { startAuth, wireAuth } from './auth';
import { wireChatView } from './chat-view';
import { wireComposer } from './composer';
import { wirePersonas } from './personas';
import { wireSettings } from './settings';
import { wireSearch } from './search';
import { sharedToken, showShared, wireShare } from './share';
import { wireSidebar } from './sidebar';
import { wireStatus } from './status';

function wire(): void {
  wireAuth();
  wireSidebar();
  wireSearch();
  wireShare();
  wireComposer();
  wireSettings();
  wireApiKeys();
  wireAccount();
  wirePersonas();
  wireAdmin();
  wireChatView();
  wireStatus();
}

// A share page is read by anyone: it shows the shared copy alone, with no sign-in.
const token = sharedToken();
if (token) {
  void showShared(token);
} else {
  wire();
  void startAuth();
}
