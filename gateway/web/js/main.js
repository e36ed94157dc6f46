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

function startApp() {
  const sidebar = new Sidebar();
  const outlet = h('main.main', { id: 'main' });
  render(root, h('div.layout', {}, sidebar.el, outlet));
  root.className = '';
  live.start();
  const stopRouter = startRouter(outlet, { fallback: '/backends', onChange: (path) => sidebar.setActive(path) });
  stopApp = () => {
    stopRouter();
    sidebar.destroy();
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
