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
              h('span.what', {}, h('span.type', {}, e.type), h('span.summary', { 'data-testid': 'summary' }, eventSummary(e))),
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
      // The version before is what this event changed: both are folded by the server.
      const [s, before] = await Promise.all([api(`/api/actors/${enc(streamId)}/state?version=${v}`), v > 1 ? api(`/api/actors/${enc(streamId)}/state?version=${v - 1}`) : null]);
      if (ticket !== stateRequest) return; // a later choice already answered
      shown = { ...s, before };
      render(state, statePanel(shown, pinned === null, (to) => choose(to), () => navigate(`/timeline/${enc(streamId)}`)));
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

  // Arrow keys step through versions (not while typing somewhere).
  const onKey = (e) => {
    if (e.target instanceof HTMLElement && e.target.closest('input, textarea, select, [contenteditable]')) return;
    if (e.altKey || e.ctrlKey || e.metaKey || events.length === 0) return;
    const v = current();
    const latest = events.at(-1).version;
    const to = { ArrowUp: v - 1, ArrowLeft: v - 1, ArrowDown: v + 1, ArrowRight: v + 1, Home: 1, End: latest }[e.key];
    if (to === undefined) return;
    e.preventDefault();
    if (to >= 1 && to <= latest && to !== v) choose(to);
  };
  document.addEventListener('keydown', onKey);
  const offs = [live.on(onEvent), live.onResync(() => void load()), () => document.removeEventListener('keydown', onKey)];
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
        ev ? [h('dt', {}, 'After event'), h('dd', {}, h('span.mono', {}, ev.type), h('span.faint', { title: ev.at }, ` at ${dayOf(ev.at)} ${timeOf(ev.at)}`))] : null,
      ),
    ),
    h('div.card', {}, h('h3', {}, s.before ? `What version ${s.version} changed` : 'The first version'), changeList(s)),
    ev && Object.keys(ev.data ?? {}).length ? h('div.card', {}, h('h3', {}, 'Event data'), h('pre', {}, JSON.stringify(ev.data, null, 2))) : null,
    h('div.card', {}, h('details.whole', {}, h('summary', {}, 'Whole context'), h('pre', { 'data-testid': 'context' }, JSON.stringify(s.context, null, 2)))),
  );
}

/** The state value and the context of s against s.before, as a list of what changed. */
function changeList(s) {
  const changes = [];
  const beforeValue = s.before ? stateValueText(s.before.value) : null;
  const value = stateValueText(s.value);
  if (beforeValue !== value) changes.push({ key: 'machine state', was: beforeValue, now: value, kind: beforeValue === null ? 'set' : 'changed' });
  if (s.before && s.before.status !== s.status) changes.push({ key: 'status', was: s.before.status, now: s.status, kind: 'changed' });
  changes.push(...diffValues(s.before ? s.before.context : undefined, s.context, 'context'));
  if (changes.length === 0) return h('div.faint', { 'data-testid': 'changes' }, 'Nothing in the state changed (the event was recorded, the state stayed as it was).');
  return h(
    'ul.changes',
    { 'data-testid': 'changes' },
    changes.map((c) =>
      h(
        'li',
        { 'data-key': c.key, 'data-kind': c.kind },
        h('span.key', {}, c.key, ' ', h('span.kind', {}, c.kind)),
        h('span.vals', {}, c.kind === 'added' || c.kind === 'set' ? null : h('span.was', {}, show(c.was)), c.kind === 'removed' ? null : h('span.now', {}, show(c.now))),
      ),
    ),
  );
}

function show(v) {
  if (v === undefined) return '—';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

const isPlain = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Paths whose values differ between a and b: objects are walked, anything else compared whole. */
export function diffValues(a, b, path) {
  if (isPlain(a) && isPlain(b)) {
    const out = [];
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) out.push(...diffValues(a[k], b[k], `${path}.${k}`));
    return out;
  }
  if (a === undefined && isPlain(b)) return Object.keys(b).flatMap((k) => diffValues(undefined, b[k], `${path}.${k}`));
  if (JSON.stringify(a) === JSON.stringify(b)) return [];
  if (a === undefined) return [{ key: path, was: undefined, now: b, kind: 'added' }];
  if (b === undefined) return [{ key: path, was: a, now: undefined, kind: 'removed' }];
  return [{ key: path, was: a, now: b, kind: 'changed' }];
}

/** A row's one line: the event's scalar fields, `pid 4711 · port 3000`. */
function eventSummary(e) {
  const parts = [];
  for (const [k, v] of Object.entries(e.data ?? {})) {
    if (v === null || v === undefined || v === '') continue;
    if (typeof v === 'object') {
      if (Array.isArray(v)) parts.push(`${k} [${v.length}]`);
      continue;
    }
    const text = String(v);
    parts.push(`${k} ${text.length > 40 ? `${text.slice(0, 39)}…` : text}`);
    if (parts.length === 4) break;
  }
  return parts.join(' · ');
}

function dayOf(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString().slice(0, 10);
}

/** XState's value: 'running', or for parallel/nested states {life: 'running', watch: 'quiet'}. */
function stateValueText(value) {
  if (typeof value === 'string') return value;
  return Object.entries(value ?? {})
    .map(([region, v]) => `${region}: ${stateValueText(v)}`)
    .join(' · ');
}
