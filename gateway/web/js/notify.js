// Telling the user when a session finishes or needs them, while they look elsewhere: a count in
// the tab's title, and a system notification when the browser allows it.

const baseTitle = document.title || 'Flow';
let unseen = 0;
/** sessionId → the status last seen, so only changes notify (not the first listing). */
const lastStatus = new Map();

function looking() {
  return document.visibilityState === 'visible' && document.hasFocus();
}

function showCount() {
  document.title = unseen > 0 ? `(${unseen}) ${baseTitle}` : baseTitle;
  document.documentElement.dataset.unseen = String(unseen);
}

function clear() {
  if (!looking()) return;
  unseen = 0;
  showCount();
}
addEventListener('focus', clear);
document.addEventListener('visibilitychange', clear);

/** Asks for the Notification permission once; only from a user gesture (sending a message). */
export function askToNotify() {
  if ('Notification' in window && Notification.permission === 'default') void Notification.requestPermission().catch(() => {});
}

function tell(title, body, href) {
  if (looking()) return;
  unseen += 1;
  showCount();
  if (!('Notification' in window) || Notification.permission !== 'granted') return;
  try {
    const n = new Notification(title, { body, tag: href });
    n.onclick = () => {
      focus();
      location.hash = href;
      n.close();
    };
  } catch {
    // Some browsers allow notifications only from a service worker: the title count stays.
  }
}

/** Called with every session the sidebar lists; a change to idle or to waiting is news. */
export function sessionSeen(s) {
  const status = s.status ?? s.state ?? 'idle';
  const before = lastStatus.get(s.id);
  lastStatus.set(s.id, status);
  if (before === undefined || before === status) return;
  const name = s.title || s.id;
  if (status === 'needs-attention') tell('OpenCode needs you', `${name} is waiting for an answer`, `#/sessions/${encodeURIComponent(s.id)}`);
  else if (status === 'idle' && (before === 'busy' || before === 'retry')) tell('OpenCode finished', `${name} has finished its turn`, `#/sessions/${encodeURIComponent(s.id)}`);
}
