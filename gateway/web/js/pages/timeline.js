import { api, enc } from '../api.js';
import { ago, coalesce, h, pageHead, render, statusBadge, timeOf } from '../dom.js';
import { live } from '../live.js';
import { navigate } from '../router.js';

/** Every actor Flow knows, grouped by kind; each opens its timeline. */
export function timelineIndexPage(el) {
  const list = h('div', { 'data-testid': 'actors' });
  render(el, h('div.page', { 'data-page': 'timeline-index' }, pageHead('Event timeline', 'Choose an actor to see its events and its state at any version'), list));
  const load = async () => {
    try {
      const { actors } = await api('/api/actors');
      if (actors.length === 0) return render(list, h('div.card.empty', {}, 'No actors yet.'));
      const byType = Map.groupBy ? Map.groupBy(actors, (a) => a.streamType) : groupBy(actors, (a) => a.streamType);
      render(
        list,
        [...byType].map(([type, items]) =>
          h(
            'div.card.flush',
            {},
            h('h3', { style: { padding: '12px 14px 4px' } }, type),
            h(
              'div.actor-list',
              {},
              items.map((a) =>
                h('a', { href: `#/timeline/${enc(a.streamId)}`, 'data-actor': a.streamId }, statusBadge(a.status), h('span.mono', { style: { flex: 1 } }, a.streamId), h('span.faint', {}, `v${a.version} · ${ago(a.updatedAt)}`)),
              ),
            ),
          ),
        ),
      );
    } catch (err) {
      if (err.status !== 401) render(list, h('div.banner', {}, err.message));
    }
  };
  const refresh = coalesce(load);
  const offs = [live.on(refresh), live.onResync(refresh)];
  refresh(); // the first load goes through the same queue, so an older response never paints over a newer one
  return () => offs.forEach((off) => off());
}

function groupBy(items, key) {
  const m = new Map();
  for (const i of items) m.set(key(i), [...(m.get(key(i)) ?? []), i]);
  return m;
}

/** All of one stream's events, page by page through the log API. */
async function readStream(streamId) {
  const events = [];
  let from = 0;
  for (;;) {
    const page = await api(`/api/events/log?stream=${enc(streamId)}&from=${from}&limit=1000`);
    events.push(...page.events);
    if (!page.more || page.events.length === 0) return events;
    from = page.next;
  }
}

/**
 * One actor's timeline. Choosing an event shows the actor's state as of that version, folded on
 * the server by the actor's own machine (GET /api/actors/:id/state?version=N). Without `?v=`
 * the view follows the newest event as it arrives; with it, it stays where it was put.
 */
export function timelinePage(el, params, query) {
  const { streamId } = params;
  let events = [];
  let pinned = query.get('v') ? Number(query.get('v')) : null;
  let shown = null;
  let stateRequest = 0;

  const list = h('div.card.flush.events', { 'data-testid': 'events' });
  const state = h('div.state-panel', { 'data-testid': 'state' });
  const banner = h('div');
  render(
    el,
    h(
      'div.page',
      { 'data-page': 'timeline', style: { maxWidth: 'none' } },
      pageHead(h('span.mono', {}, streamId), h('a', { href: '#/timeline' }, '← all actors')),
      banner,
      h('div.timeline', {}, list, state),
    ),
  );

  const current = () => pinned ?? events.at(-1)?.version ?? 0;

  const renderList = () => {
    const v = current();
    render(
      list,
      events.length === 0
        ? h('div.empty', {}, 'No events.')
        : events.map((e) =>
            h(
              'div.event-row',
              { class: `${e.version === v ? 'selected' : ''} ${e.version > v ? 'future' : ''}`, 'data-version': e.version, 'data-type': e.type, onclick: () => choose(e.version) },
              h('span.v', {}, e.version),
              h('span.type', {}, e.type),
              h('span.at', { title: e.at }, timeOf(e.at)),
            ),
          ),
    );
    list.querySelector('.selected')?.scrollIntoView({ block: 'nearest' });
  };

  const choose = (version) => navigate(`/timeline/${enc(streamId)}?v=${version}`);

  const showState = async () => {
    const v = current();
    if (events.length === 0) return render(state);
    const ticket = ++stateRequest;
    try {
      const s = await api(`/api/actors/${enc(streamId)}/state?version=${v}`);
      if (ticket !== stateRequest) return; // a later choice already answered
      shown = s;
      render(state, statePanel(s, pinned === null, (to) => choose(to), () => navigate(`/timeline/${enc(streamId)}`)));
    } catch (err) {
      if (err.status !== 401) render(state, h('div.banner', {}, err.message));
    }
  };

  const load = async () => {
    try {
      events = await readStream(streamId);
      render(banner);
      renderList();
      await showState();
    } catch (err) {
      if (err.status !== 401) render(banner, h('div.banner', {}, err.message));
    }
  };

  const onEvent = (e) => {
    if (e.streamId !== streamId || events.some((x) => x.version === e.version)) return;
    events.push(e);
    renderList();
    if (pinned === null) void showState();
    else if (shown) render(state, statePanel({ ...shown, latest: e.version }, false, (to) => choose(to), () => navigate(`/timeline/${enc(streamId)}`)));
  };

  const offs = [live.on(onEvent), live.onResync(() => void load())];
  void load();
  return {
    cleanup: () => offs.forEach((off) => off()),
    onQuery: (q) => {
      pinned = q.get('v') ? Number(q.get('v')) : null;
      renderList();
      void showState();
    },
  };
}

function statePanel(s, following, choose, followLatest) {
  const ev = s.event;
  return h(
    'div',
    { 'data-version': s.version, 'data-status': s.status },
    h(
      'div.card',
      {},
      h(
        'div.page-head',
        { style: { marginBottom: '10px' } },
        h('div', {}, h('h2', { 'data-testid': 'state-title' }, `State as of version ${s.version} of ${s.latest}`), h('div.faint', {}, following ? 'following new events' : 'an earlier state, folded by the actor’s machine')),
        h(
          'div.btns',
          {},
          h('button.small', { onclick: () => choose(s.version - 1), disabled: s.version <= 1, 'data-action': 'earlier' }, '← Earlier'),
          h('button.small', { onclick: () => choose(s.version + 1), disabled: s.version >= s.latest, 'data-action': 'later' }, 'Later →'),
          h('button.small', { onclick: followLatest, disabled: following, 'data-action': 'latest' }, 'Latest'),
        ),
      ),
      h(
        'dl.kv',
        {},
        h('dt', {}, 'Status'), h('dd', {}, statusBadge(s.status)),
        h('dt', {}, 'Machine state'), h('dd.state-value', { 'data-testid': 'state-value' }, stateValueText(s.value)),
        ev ? [h('dt', {}, 'After event'), h('dd', {}, h('span.mono', {}, ev.type), h('span.faint', {}, ` at ${new Date(ev.at).toLocaleString()}`))] : null,
      ),
    ),
    ev && Object.keys(ev.data ?? {}).length ? h('div.card', {}, h('h3', {}, 'Event data'), h('pre', {}, JSON.stringify(ev.data, null, 2))) : null,
    h('div.card', {}, h('h3', {}, 'Context'), h('pre', { 'data-testid': 'context' }, JSON.stringify(s.context, null, 2))),
  );
}

/** XState's value: 'running', or for parallel/nested states {life: 'running', watch: 'quiet'}. */
function stateValueText(value) {
  if (typeof value === 'string') return value;
  return Object.entries(value ?? {})
    .map(([region, v]) => `${region}: ${stateValueText(v)}`)
    .join(' · ');
}
