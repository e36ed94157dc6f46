import { api } from '../api.js';
import { h, render } from '../dom.js';

// The relay asked last, so the form starts where the user left off (FLOW_RELAY_URL otherwise).
const LAST_RELAY = 'flow.relayUrl';

function lastRelay() {
  try {
    return window.localStorage.getItem(LAST_RELAY) ?? '';
  } catch {
    return '';
  }
}

function rememberRelay(url) {
  try {
    if (url) window.localStorage.setItem(LAST_RELAY, url);
  } catch {
    // Storage off (private mode): the field just starts empty next time.
  }
}

/**
 * Relay handles: stable public names on a relay (as `f relay handle` manages them). Check a
 * name, register it (the token stays with Flow, where tunnels with --relay find it), and rename
 * or release the handles this Flow holds.
 */
export function relayHandlesSection() {
  const relay = h('input', { name: 'relay', placeholder: 'https://relay.example.test', autocomplete: 'url', value: lastRelay() });
  const username = h('input', { name: 'username', placeholder: 'a-name', autocomplete: 'off', required: true });
  const tier = h('select', { name: 'tier' }, h('option', { value: 'premium' }, 'premium (name.domain)'), h('option', { value: 'free' }, 'free (name.my.domain)'));
  const result = h('div', { 'data-testid': 'handle-result' });
  const error = h('div.error-text', { role: 'alert' });
  const held = h('div', { 'data-testid': 'relay-handles' });

  /** The relay field, or nothing (the gateway then asks FLOW_RELAY_URL). */
  const relayOf = () => relay.value.trim() || undefined;
  const attempt = (fn) => async () => {
    error.textContent = '';
    try {
      await fn();
    } catch (err) {
      render(result);
      error.textContent = err.message;
    }
  };

  const check = attempt(async () => {
    const name = username.value.trim();
    if (!name) throw new Error('Type a name to check.');
    const q = new URLSearchParams({ username: name, tier: tier.value });
    if (relayOf()) q.set('relay', relayOf());
    const r = await api(`/api/relay/handles/check?${q}`);
    rememberRelay(relayOf());
    render(result, r.available ? h('span.pill.good', { 'data-available': 'true' }, `${r.username} is available (${r.tier})`) : h('span.pill.bad', { 'data-available': 'false' }, `${r.username} is not available (${r.tier}): ${r.message}`));
  });

  const registerIt = attempt(async () => {
    const v = await api('/api/relay/handles', { method: 'POST', body: { relay: relayOf(), username: username.value.trim(), tier: tier.value } });
    rememberRelay(relayOf());
    username.value = '';
    render(result, 'Registered ', h('a', { href: v.url, target: '_blank', rel: 'noreferrer' }, v.url), h('span.faint', {}, ' · open a tunnel behind it with '), h('code', {}, `f tunnel start --relay … --handle ${v.username}${v.tier === 'free' ? ' --tier free' : ''}`));
    await load();
  });

  const load = async () => {
    try {
      const { handles, defaultRelay } = await api('/api/relay/handles');
      if (!relay.value && defaultRelay) relay.value = defaultRelay;
      render(held, handles.length === 0 ? h('div.faint', { style: { padding: '8px 0' } }, 'This Flow holds no relay handles yet.') : handleTable(handles, load, error));
    } catch (err) {
      if (err.status !== 401) error.textContent = err.message;
    }
  };

  const section = h(
    'section',
    { 'data-testid': 'relay-section' },
    h('h2', { style: { marginTop: '8px' } }, 'Relay handles'),
    h(
      'form.card',
      {
        'data-form': 'relay-handle',
        onsubmit: (e) => {
          e.preventDefault();
          void registerIt();
        },
      },
      h(
        'div.form-grid',
        { style: { gridTemplateColumns: '2fr 1.4fr 1.2fr auto auto' } },
        h('label', {}, 'Relay', relay),
        h('label', {}, 'Name', username),
        h('label', {}, 'Tier', tier),
        h('button', { type: 'button', onclick: check, 'data-action': 'check' }, 'Check'),
        h('button.primary', { type: 'submit', 'data-action': 'register' }, 'Register'),
      ),
      h('div', { style: { marginTop: '8px' } }, result),
      error,
      held,
    ),
  );
  void load();
  return section;
}

function handleTable(handles, refresh, error) {
  return h(
    'table',
    { style: { marginTop: '10px' } },
    h('thead', {}, h('tr', {}, h('th', {}, 'Handle'), h('th', {}, 'Tier'), h('th', {}, 'Relay'), h('th', {}))),
    h('tbody', {}, handles.map((x) => handleRow(x, refresh, error))),
  );
}

function handleRow(x, refresh, error) {
  const row = h('tr', { 'data-handle': x.username, 'data-tier': x.tier, 'data-relay': x.relay });
  const body = { relay: x.relay, username: x.username, tier: x.tier };
  const act = (fn) => async () => {
    error.textContent = '';
    try {
      await fn();
      await refresh();
    } catch (err) {
      error.textContent = err.message;
    }
  };
  const release = act(async () => {
    if (!confirm(`Release ${x.username} (${x.tier}) on ${x.relay}? Anyone may register the name after that.`)) return;
    await api('/api/relay/handles/release', { method: 'POST', body });
  });
  const showRename = () => {
    const input = h('input', { name: 'newUsername', value: x.username, autocomplete: 'off', style: { width: '14em' } });
    const save = act(() => api('/api/relay/handles/rename', { method: 'POST', body: { ...body, newUsername: input.value.trim() } }));
    render(
      row,
      h('td', {}, h('form', { 'data-form': 'rename', style: { display: 'flex', gap: '6px' }, onsubmit: (e) => (e.preventDefault(), void save()) }, input, h('button.small.primary', { type: 'submit', 'data-action': 'save' }, 'Save'), h('button.small', { type: 'button', onclick: () => void refresh() }, 'Cancel'))),
      h('td', {}, x.tier),
      h('td.faint', {}, x.relay),
      h('td'),
    );
    input.focus();
    input.select();
  };
  return render(
    row,
    h('td', {}, h('span.mono', {}, x.username)),
    h('td', {}, x.tier),
    h('td.faint', {}, x.relay),
    h('td', {}, h('div.btns', {}, h('button.small', { onclick: showRename, 'data-action': 'rename' }, 'Rename'), h('button.small.danger', { onclick: release, 'data-action': 'release' }, 'Release'))),
  );
}
