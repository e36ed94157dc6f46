import { api, enc, notifyUnauthorized } from './api.js';
import { coalesce, dot, h, render } from './dom.js';
import { live, onStreamType } from './live.js';
import { navigate } from './router.js';
import { openNewInstanceDialog } from './new-instance.js';
import { listOf } from './opencode.js';
import { sessionSeen } from './notify.js';

const NAV = [
  ['/backends', 'Backends'],
  ['/tools', 'Installed tools'],
  ['/tunnels', 'Tunnels'],
  ['/tasks', 'Task board'],
  ['/timeline', 'Event timeline'],
];

/**
 * The left column (seed 004): the pages, then every OpenCode instance with its status dot and
 * its sessions, and the live-connection state at the bottom. Instance and session lists are
 * re-read whenever an opencode-instance event arrives, so dots change as the actor does.
 */
function connStatus(state) {
  return h('span.status', { 'data-state': state }, dot(state === 'live' ? 'live' : 'reconnecting'), state === 'live' ? 'Live' : state === 'connecting' ? 'Connecting…' : 'Reconnecting…');
}

export class Sidebar {
  constructor() {
    this.activePath = '';
    this.nav = h('nav.nav');
    this.instances = h('div.instances', { 'data-testid': 'instances' });
    this.conn = h('span', { 'data-testid': 'connection' });
    this.badges = [];
    this.el = h(
      'aside.sidebar',
      {},
      h('div.brand', {}, h('span.logo'), 'Flow'),
      this.nav,
      h(
        'div.side-section',
        {},
        h('div.side-head', {}, h('h3', {}, 'Instances'), h('button.icon', { title: 'New instance', 'aria-label': 'New instance', 'data-testid': 'new-instance', onclick: () => openNewInstanceDialog((id) => this.created(id)) }, '+')),
        this.instances,
      ),
      h('div.side-foot', {}, this.conn, (this.account = h('div.btns'))),
    );
    this.renderNav();
    this.refresh = coalesce(() => this.load());
    this.offs = [
      onStreamType('opencode-instance', this.refresh),
      live.onResync(this.refresh),
      live.onState((state) => {
        render(this.conn, connStatus(state));
        for (const badge of this.badges) render(badge, dot(state === 'live' ? 'live' : 'reconnecting'));
      }),
    ];
    void this.load();
    void this.showAccount();
  }

  /** A dot for the phone's top bar, following the same connection state. */
  connBadge() {
    const badge = h('span.conn-badge', { title: 'connection to Flow' }, dot(live.state === 'live' ? 'live' : 'reconnecting'));
    this.badges.push(badge);
    return badge;
  }

  /** "Log out" only means something when the gateway has a password. */
  async showAccount() {
    const docs = h('a.faint', { href: '/api/docs', target: '_blank' }, 'API');
    render(this.account, docs);
    try {
      const status = await api('/api/auth/status');
      if (!status?.passwordSet) return;
      const logout = async (e) => {
        e.preventDefault();
        await api('/api/auth/logout', { method: 'POST' }).catch(() => {});
        notifyUnauthorized();
      };
      render(this.account, docs, h('a.faint', { href: '#', onclick: logout, 'data-testid': 'logout' }, 'Log out'));
    } catch {
      // No auth routes in this Flow: nothing to log out of.
    }
  }

  destroy() {
    for (const off of this.offs) off();
  }

  setActive(path) {
    this.activePath = path;
    this.renderNav();
    for (const a of this.instances.querySelectorAll('a.session-link')) a.classList.toggle('active', a.getAttribute('href') === `#${path}`);
  }

  renderNav() {
    render(
      this.nav,
      NAV.map(([path, label]) => h('a', { href: `#${path}`, class: this.activePath === path || this.activePath.startsWith(`${path}/`) ? 'active' : '' }, label)),
    );
  }

  created(id) {
    void this.load();
    navigate(`/instances/${enc(id)}`);
  }

  async load() {
    let instances;
    try {
      instances = listOf(await api('/api/instances'), 'instances');
    } catch (err) {
      if (err.status === 404) render(this.instances, h('div.empty-side', {}, 'OpenCode instances are not available in this Flow.'));
      else if (err.status !== 401) render(this.instances, h('div.empty-side.error-text', {}, err.message));
      return;
    }
    const withSessions = await Promise.all(
      instances.map(async (inst) => {
        try {
          return { inst, sessions: listOf(await api(`/api/instances/${enc(inst.id)}/sessions`), 'sessions') };
        } catch {
          // A stopped instance may not list sessions; it still shows, without them.
          return { inst, sessions: inst.sessions ? Object.values(inst.sessions) : [] };
        }
      }),
    );
    for (const { sessions } of withSessions) for (const s of sessions) sessionSeen(s);
    if (withSessions.length === 0) {
      render(this.instances, h('div.empty-side', {}, 'No instances yet. Press + to start OpenCode in a directory.'));
      return;
    }
    render(this.instances, withSessions.map(({ inst, sessions }) => this.instanceItem(inst, sessions)));
    this.setActive(this.activePath);
  }

  instanceItem(inst, sessions) {
    // A running server that fails its health checks shows as unhealthy until it answers again (or is restarted).
    const status = inst.health === 'unhealthy' ? 'unhealthy' : (inst.status ?? 'unknown');
    return h(
      'div.instance',
      { 'data-instance': inst.id, 'data-status': status },
      h(
        'div.instance-row',
        { onclick: () => navigate(`/instances/${enc(inst.id)}`), title: `${inst.id}: ${status}` },
        dot(status),
        h('div.grow', {}, h('div.name', {}, inst.id), h('div.dir', {}, inst.directory ?? '')),
      ),
      h(
        'div.sessions',
        {},
        sessions.map((s) => {
          const st = s.status ?? s.state ?? 'idle';
          return h('a.session-link', { href: `#/sessions/${enc(s.id)}`, 'data-session': s.id, 'data-status': st }, dot(st), h('span.title', {}, s.title || s.id));
        }),
      ),
    );
  }
}
