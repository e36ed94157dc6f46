import { api, enc } from '../api.js';
import { ago, coalesce, h, pageHead, render, statusBadge, withCode } from '../dom.js';
import { live, onStreamType } from '../live.js';

/**
 * Installed tools: what `f cli <id>` can run (links, remote installs, dev roots; conflicts and
 * broken manifests included), and the install actors with their current status.
 */
export function toolsPage(el) {
  const tools = h('div', { 'data-testid': 'tools' });
  const installs = h('div', { 'data-testid': 'tool-installs' });
  render(el, h('div.page', { 'data-page': 'tools' }, pageHead('Installed tools', withCode('What `f cli <id>` runs, and installs in progress')), tools, installs));

  const load = async () => {
    await Promise.all([loadTools(tools), loadInstalls(installs)]);
  };
  const refresh = coalesce(load);
  const offs = [onStreamType('tool-install', refresh), live.onResync(refresh)];
  refresh(); // the first load goes through the same queue, so an older response never paints over a newer one
  return () => offs.forEach((off) => off());
}

async function loadTools(el) {
  let listing;
  try {
    listing = await api('/api/installs');
  } catch (err) {
    if (err.status === 404) return render(el, h('div.card.empty', {}, 'This Flow does not list installed tools.'));
    if (err.status !== 401) render(el, h('div.banner', {}, err.message));
    return;
  }
  const list = listing.tools ?? [];
  render(
    el,
    (listing.conflicts ?? []).map((c) => h('div.banner.info', {}, `${c.id}: ${c.active} is used; also found ${c.others.join(', ')}`)),
    (listing.broken ?? []).map((b) => h('div.banner', {}, `Broken manifest ${b.path ?? b.root ?? ''}: ${b.error ?? ''}`)),
    h(
      'div.card.flush',
      {},
      list.length === 0
        ? h('div.empty', {}, withCode('No tools installed. `f install <dir>` links one; `f install cli_<id>` installs one from a catalog.'))
        : h(
            'table.cards',
            {},
            h('thead', {}, h('tr', {}, ['Tool', 'Source', 'Version', 'Language', 'Description', ''].map((t) => h('th', {}, t)))),
            h(
              'tbody',
              {},
              list.map((t) =>
                h(
                  'tr',
                  { 'data-tool': t.id },
                  h('td', {}, h('strong.mono.tool-id', {}, t.id), t.aliases?.length ? h('div.faint', {}, `also ${t.aliases.join(', ')}`) : null),
                  h('td', { 'data-label': 'Source' }, h('span.pill', {}, t.kind), h('div.faint.mono', { title: t.root, style: { overflowWrap: 'anywhere' } }, t.root)),
                  h('td.mono', { 'data-label': 'Version' }, t.version ?? '—'),
                  h('td', { 'data-label': 'Language' }, t.language ?? '—'),
                  h('td', { 'data-label': 'About' }, t.error ? h('span.error-text', {}, t.error) : (t.description ?? '')),
                  h('td', {}, t.active ? h('span.pill.good', {}, 'active') : h('span.pill', { title: `shadowed by ${t.shadowedBy}` }, 'shadowed')),
                ),
              ),
            ),
          ),
    ),
  );
}

async function loadInstalls(el) {
  try {
    const { actors } = await api('/api/actors?streamType=tool-install');
    if (actors.length === 0) return render(el);
    render(
      el,
      h(
        'div.card.flush',
        {},
        h('h3', { style: { padding: '12px 14px 4px' } }, 'Installs'),
        h(
          'table.cards',
          {},
          h(
            'tbody',
            {},
            actors.map((a) =>
              h(
                'tr',
                { 'data-install': a.streamId },
                h('td.mono', {}, a.streamId.slice(a.streamId.indexOf(':') + 1)),
                h('td', {}, statusBadge(a.status)),
                h('td.faint', {}, ago(a.updatedAt)),
                h('td', {}, h('a', { href: `#/timeline/${enc(a.streamId)}` }, 'Timeline')),
              ),
            ),
          ),
        ),
      ),
    );
  } catch (err) {
    if (err.status !== 401) render(el, h('div.banner', {}, err.message));
  }
}
