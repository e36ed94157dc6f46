import { api, enc } from '../api.js';
import { ago, coalesce, h, pageHead, render, statusBadge, withCode } from '../dom.js';
import { live, onStreamType } from '../live.js';
import { relayHandlesSection } from './relay-handles.js';

/** Tunnels: each one's public URL and health, live, with stop/restart and a form to open one; below, the relay handles this Flow holds. */
export function tunnelsPage(el) {
  const list = h('div', { 'data-testid': 'tunnels' });
  const banner = h('div');
  render(el, h('div.page', { 'data-page': 'tunnels' }, pageHead('Tunnels', 'Public URLs for local ports'), banner, startForm(() => refresh()), list, relayHandlesSection()));

  const load = async () => {
    try {
      const { tunnels } = await api('/api/tunnels');
      render(banner);
      render(list, tunnels.length === 0 ? h('div.card.empty', {}, withCode('No tunnels. Open one for a local port above, or with `f tunnel`.')) : tunnels.map((t) => tunnelCard(t, refresh)));
    } catch (err) {
      if (err.status === 404) render(list, h('div.card.empty', {}, 'This Flow does not run tunnels.'));
      else if (err.status !== 401) render(banner, h('div.banner', {}, err.message));
    }
  };
  const refresh = coalesce(load);
  const offs = [onStreamType('tunnel', refresh), live.onResync(refresh)];
  refresh(); // the first load goes through the same queue, so an older response never paints over a newer one
  return () => offs.forEach((off) => off());
}

function startForm(done) {
  const port = h('input', { name: 'port', type: 'number', min: 1, max: 65535, placeholder: '3000', required: true });
  const name = h('input', { name: 'name', placeholder: 'optional name', autocomplete: 'off' });
  const error = h('div.error-text', { role: 'alert' });
  return h(
    'form.card',
    {
      'data-form': 'start-tunnel',
      onsubmit: async (e) => {
        e.preventDefault();
        error.textContent = '';
        const body = { port: Number(port.value) };
        if (name.value.trim()) body.name = name.value.trim();
        try {
          await api('/api/tunnels', { method: 'POST', body });
          port.value = name.value = '';
          done();
        } catch (err) {
          error.textContent = err.message;
        }
      },
    },
    h('div.form-grid', { style: { gridTemplateColumns: '1fr 2fr auto' } }, h('label', {}, 'Local port', port), h('label', {}, 'Name', name), h('button.primary', { type: 'submit' }, 'Open tunnel')),
    error,
  );
}

function healthText(t) {
  const hlt = t.health;
  if (!hlt.lastCheckAt) return h('span.faint', {}, 'not checked yet');
  if (hlt.failures > 0) return h('span.pill.bad', { title: hlt.lastError ?? '' }, `${hlt.failures} failed check${hlt.failures === 1 ? '' : 's'}${hlt.lastStatus ? ` (HTTP ${hlt.lastStatus})` : ''}`);
  return h('span.pill.good', { title: `last checked ${hlt.lastCheckAt}` }, `healthy${hlt.lastStatus ? ` (HTTP ${hlt.lastStatus})` : ''}`);
}

function tunnelCard(t, refresh) {
  const act = (action) => async () => {
    if (action === 'remove' && !confirm(`Stop and remove the tunnel ${t.name}?`)) return;
    try {
      await api(`/api/tunnels/${enc(t.name)}/${action}`, { method: 'POST' });
    } catch (err) {
      alert(err.message);
    }
    refresh();
  };
  return h(
    'div.card',
    { 'data-tunnel': t.name, 'data-status': t.status },
    h(
      'div.page-head',
      { style: { marginBottom: '10px' } },
      h('div', {}, h('h2', {}, t.name), statusBadge(t.status)),
      h(
        'div.btns',
        {},
        h('button.small', { onclick: act('restart'), 'data-action': 'restart' }, 'Restart'),
        h('button.small', { onclick: act('stop'), 'data-action': 'stop' }, 'Stop'),
        h('a.btn.small', { href: `#/timeline/${enc(`tunnel:${t.name}`)}` }, 'Timeline'),
        h('button.small.danger', { onclick: act('remove'), 'data-action': 'remove' }, 'Remove'),
      ),
    ),
    h(
      'dl.kv',
      {},
      h('dt', {}, 'Public URL'), h('dd', {}, t.url ? h('a.tunnel-url', { href: t.url, target: '_blank', rel: 'noreferrer' }, t.url) : h('span.faint', {}, 'waiting for a URL…')),
      h('dt', {}, 'Local port'), h('dd', {}, t.port ?? '—'),
      h('dt', {}, 'Health'), h('dd', {}, healthText(t), t.health.lastOkAt ? h('span.faint', {}, ` · last OK ${ago(t.health.lastOkAt)}`) : null),
      h('dt', {}, 'Restarts'), h('dd', {}, String(t.restarts), t.restartReason ? h('span.faint', {}, ` · ${t.restartReason}`) : null),
      t.urlChanges ? [h('dt', {}, 'URL changes'), h('dd', {}, `${t.urlChanges}${t.previousUrl ? ` (was ${t.previousUrl})` : ''}`)] : null,
      t.relay ? [h('dt', {}, 'Relay'), h('dd', {}, `${t.relay.url} · ${t.relay.status}`)] : null,
      t.lastError ? [h('dt', {}, 'Last error'), h('dd.error-text', {}, t.lastError)] : null,
    ),
  );
}
