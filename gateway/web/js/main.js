import { api, onUnauthorized } from './api.js';
import { h, render } from './dom.js';
import { live } from './live.js';
import { route, startRouter } from './router.js';
import { showLogin } from './login.js';
import { Sidebar } from './sidebar.js';
import { backendsPage } from './pages/backends.js';
import { toolsPage } from './pages/tools.js';
import { tunnelsPage } from './pages/tunnels.js';
import { tasksPage } from './pages/tasks.js';
import { timelineIndexPage, timelinePage } from './pages/timeline.js';
import { chatPage, instancePage } from './pages/chat.js';

route('/backends', backendsPage);
route('/backends/:name', backendsPage);
route('/tools', toolsPage);
route('/tunnels', tunnelsPage);
route('/tasks', tasksPage);
route('/timeline', timelineIndexPage);
route('/timeline/:streamId', timelinePage);
route('/instances/:id', instancePage);
route('/sessions/:id', chatPage);

const root = document.getElementById('app');
let stopApp = null;

/**
 * While the event stream is down, Flow is taken to be unreachable: the page says so in a banner,
 * greys what it shows (it is the last known state, not the live one) and turns actions off
 * (styles.css, keyed on html[data-conn]); a reconnect re-reads every page and lifts it.
 */
function followConnection() {
  return live.onState((state) => {
    if (state === 'reconnecting') document.documentElement.dataset.conn = 'down';
    else if (state === 'live') delete document.documentElement.dataset.conn;
  });
}

function startApp() {
  const sidebar = new Sidebar();
  const outlet = h('main.main', { id: 'main' });
  const layout = h('div.layout');
  const toggleMenu = (open) => {
    layout.classList.toggle('menu-open', open);
    menuButton.setAttribute('aria-expanded', String(open));
  };
  const menuButton = h('button.menu-button', { type: 'button', 'aria-label': 'Menu', 'aria-expanded': 'false', 'data-testid': 'menu', onclick: () => toggleMenu(!layout.classList.contains('menu-open')) }, '☰');
  const topbar = h('header.topbar', {}, menuButton, h('div.brand', {}, h('span.logo'), 'Flow'), sidebar.connBadge());
  const offline = h(
    'div.banner.offline-banner',
    { role: 'status', 'data-testid': 'offline' },
    h('strong', {}, 'Flow is not reachable.'),
    h('span', {}, 'What you see is the last known state; actions are off until the connection is back.'),
  );
  render(layout, sidebar.el, h('div.scrim', { onclick: () => toggleMenu(false) }), h('div.content', {}, topbar, offline, outlet));
  render(root, layout);
  root.className = '';
  const offConn = followConnection();
  live.start();
  const stopRouter = startRouter(outlet, {
    fallback: '/backends',
    onChange: (path) => {
      sidebar.setActive(path);
      toggleMenu(false);
    },
  });
  stopApp = () => {
    stopRouter();
    sidebar.destroy();
    offConn();
    live.stop();
    stopApp = null;
  };
}

/** Any 401, from any page or the event stream: drop the app and ask for the password. */
onUnauthorized(() => {
  if (document.documentElement.dataset.screen === 'login') return;
  stopApp?.();
  document.documentElement.dataset.screen = 'login';
  showLogin(root, () => {
    document.documentElement.dataset.screen = 'app';
    startApp();
  });
});

async function boot() {
  try {
    // A cheap protected read: it answers 401 when a password is set and we have no session.
    await api('/api/events/log?limit=1');
  } catch (err) {
    if (err.status === 401) return;
    // Anything else (Flow restarting, say) is the pages' to show; the stream reconnects.
  }
  document.documentElement.dataset.screen = 'app';
  startApp();
}

void boot();
