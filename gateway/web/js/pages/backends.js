import { api, enc } from '../api.js';
import { ago, coalesce, h, pageHead, render, statusBadge, timeOf } from '../dom.js';
import { live, onStreamType } from '../live.js';
import { navigate } from '../router.js';

/**
 * Backends: every supervised process with its status (live: re-read on each backend-child
 * event), restart count and controls; choosing one shows its details and its output as it is
 * written (the logs endpoint's SSE follow, which resumes by line number on reconnect).
 */
export function backendsPage(el, params) {
  const selected = params.name ?? null;
  const table = h('div.card.flush', { 'data-testid': 'backends' });
  const detail = h('div', { 'data-testid': 'backend-detail' });
  const banner = h('div');
  const summary = h('span');
  render(el, h('div.page', { 'data-page': 'backends' }, pageHead('Backends', summary), banner, addForm(() => refresh()), table, detail));

  let logs = null;
  if (selected) logs = followLogs(selected);

  const load = async () => {
    try {
      const { backends } = await api('/api/backends');
      render(banner);
      const running = backends.filter((b) => b.status === 'running').length;
      summary.textContent = backends.length ? `${running} of ${backends.length} running` : 'Supervised processes, restarted when they crash';
      render(table, backendTable(backends, selected, refresh));
      const chosen = selected && backends.find((b) => b.name === selected);
      if (selected && !chosen) render(detail, h('div.banner', {}, `No backend named ${selected}.`));
      else if (chosen) {
        // Re-rendering moves the log box; keep where the reader was in it.
        const scroll = logs.el.scrollTop;
        render(detail, backendDetail(chosen, logs.el, refresh));
        logs.el.scrollTop = scroll;
      }
    } catch (err) {
      if (err.status !== 401) render(banner, h('div.banner', {}, err.message));
    }
  };
  const refresh = coalesce(load);
  const offs = [onStreamType('backend-child', refresh), live.onResync(refresh)];
  refresh(); // the first load goes through the same queue, so an older response never paints over a newer one
  return () => {
    for (const off of offs) off();
    logs?.close();
  };
}

/** `node server.js --flag "two words"` → ['node', 'server.js', '--flag', 'two words']. */
export function splitCommand(text) {
  const out = [];
  for (const m of text.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)) out.push(m[1] ?? m[2] ?? m[3]);
  return out;
}

/** `A=1` lines (or `A=1, B=2`) → {A: '1'}; a line without `=` is an error naming it. */
export function parseEnv(text) {
  const env = {};
  for (const raw of text.split(/\n|,(?=\s*[A-Za-z_][A-Za-z0-9_]*=)/)) {
    const line = raw.trim();
    if (!line) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`Environment: "${line}" is not NAME=value`);
    env[line.slice(0, eq).trim()] = line.slice(eq + 1);
  }
  return env;
}

function addForm(done) {
  const name = h('input', { name: 'name', placeholder: 'api', required: true, autocomplete: 'off' });
  const command = h('input', { name: 'command', placeholder: 'node server.js', required: true, autocomplete: 'off' });
  const cwd = h('input', { name: 'cwd', placeholder: 'default: where Flow runs', autocomplete: 'off' });
  const port = h('input', { name: 'port', type: 'number', min: 1, max: 65535, placeholder: 'PORT', autocomplete: 'off' });
  const watch = h('input', { name: 'watch', placeholder: 'src, config (restart when they change)', autocomplete: 'off' });
  const env = h('textarea', { name: 'env', rows: 1, placeholder: 'NODE_ENV=production', autocomplete: 'off', spellcheck: false });
  const error = h('div.error-text', { role: 'alert' });
  const submit = h('button.primary', { type: 'submit' }, 'Add backend');
  return h(
    'form.card',
    {
      'data-testid': 'add-backend',
      onsubmit: async (e) => {
        e.preventDefault();
        error.textContent = '';
        const body = { name: name.value.trim(), command: splitCommand(command.value) };
        if (cwd.value.trim()) body.cwd = cwd.value.trim();
        if (port.value) body.port = Number(port.value);
        const paths = watch.value.split(',').map((p) => p.trim()).filter(Boolean);
        if (paths.length) body.watch = paths;
        try {
          const vars = parseEnv(env.value);
          if (Object.keys(vars).length) body.env = vars;
        } catch (err) {
          error.textContent = err.message;
          return;
        }
        submit.disabled = true;
        try {
          await api('/api/backends', { method: 'POST', body });
          name.value = command.value = cwd.value = port.value = watch.value = env.value = '';
          done();
        } catch (err) {
          error.textContent = err.message;
        } finally {
          submit.disabled = false;
        }
      },
    },
    h('h2', {}, 'Add a backend'),
    h(
      'div.form-grid.backend-form',
      {},
      h('label', {}, 'Name', name),
      h('label', {}, 'Command', command),
      h('label', {}, 'Directory', cwd),
      h('label', {}, 'Port', port),
      h('label.wide', {}, 'Watch paths (comma-separated)', watch),
      h('label.wide', {}, 'Environment (NAME=value, one a line)', env),
    ),
    h('div.form-actions', {}, submit),
    error,
  );
}

function actionButtons(b, refresh) {
  const act = (action) => async (e) => {
    e.stopPropagation();
    e.currentTarget.disabled = true;
    try {
      if (action === 'remove') {
        if (!confirm(`Stop and remove ${b.name}?`)) return;
        await api(`/api/backends/${enc(b.name)}`, { method: 'DELETE' });
        navigate('/backends');
      } else {
        await api(`/api/backends/${enc(b.name)}/${action}`, { method: 'POST' });
      }
    } catch (err) {
      alert(err.message);
    } finally {
      refresh();
    }
  };
  const stopped = ['stopped', 'exited', 'failed', 'interrupted'].includes(b.status);
  return h(
    'div.btns',
    {},
    stopped ? h('button.small', { onclick: act('start'), 'data-action': 'start' }, 'Start') : h('button.small', { onclick: act('stop'), 'data-action': 'stop' }, 'Stop'),
    h('button.small', { onclick: act('restart'), 'data-action': 'restart' }, 'Restart'),
    h('a.btn.small', { href: `#/timeline/${enc(`backend-child:${b.name}`)}`, onclick: (e) => e.stopPropagation(), 'data-action': 'timeline' }, 'Timeline'),
    h('button.small.danger', { onclick: act('remove'), 'data-action': 'remove' }, 'Remove'),
  );
}

function backendTable(backends, selected, refresh) {
  if (backends.length === 0) return h('div.empty', {}, 'No backends yet. Add one above, or with ', h('code', {}, 'f backend add'), '.');
  return h(
    'table.cards',
    {},
    h('thead', {}, h('tr', {}, ['Name', 'Status', 'Restarts', 'PID', 'Up since', 'Last exit', ''].map((t) => h('th', {}, t)))),
    h(
      'tbody',
      {},
      backends.map((b) =>
        h(
          'tr.selectable',
          { class: b.name === selected ? 'selected' : '', 'data-backend': b.name, onclick: () => navigate(b.name === selected ? '/backends' : `/backends/${enc(b.name)}`) },
          h('td', {}, h('strong', {}, b.name), h('div.faint.mono', {}, (b.config?.command ?? []).join(' '))),
          h('td', { 'data-testid': 'status', 'data-label': 'Status' }, statusBadge(b.status)),
          h('td.num', { 'data-testid': 'restarts', 'data-label': 'Restarts' }, String(b.restarts)),
          h('td.num.mono', { 'data-label': 'PID' }, b.pid ?? '—'),
          h('td', { title: b.startedAt ?? '', 'data-label': 'Up since', style: { whiteSpace: 'nowrap' } }, b.startedAt ? ago(b.startedAt) : '—'),
          h('td', { 'data-label': 'Last exit' }, b.lastExit ? exitText(b.lastExit) : '—'),
          h('td', {}, actionButtons(b, refresh)),
        ),
      ),
    ),
  );
}

// The server's own words (a reload reads as a reload, not as "killed by SIGTERM"), as f backend ls shows them.
function exitText(x) {
  const how = x.summary ?? (x.signal ? `killed by ${x.signal}` : `code ${x.code}`);
  return h('span', { title: x.at }, how);
}

function backendDetail(b, logsEl, refresh) {
  const c = b.config ?? {};
  return h(
    'div.card',
    { 'data-detail': b.name },
    h('div.page-head', {}, h('div', {}, h('h2', {}, b.name), statusBadge(b.status)), actionButtons(b, refresh)),
    b.lastError ? h('div.banner', {}, b.lastError) : null,
    h(
      'div.grid-2',
      {},
      h(
        'dl.kv',
        {},
        h('dt', {}, 'Command'), h('dd.mono', {}, (c.command ?? []).join(' ')),
        h('dt', {}, 'Directory'), h('dd.mono', {}, c.cwd ?? '—'),
        h('dt', {}, 'Port'), h('dd', {}, c.port ?? '—'),
        h('dt', {}, 'Watching'), h('dd.mono', {}, (c.watch ?? []).join(', ') || '—'),
        h('dt', {}, 'Environment'), h('dd.mono', {}, Object.keys(c.env ?? {}).join(', ') || '—'),
      ),
      h(
        'dl.kv',
        {},
        h('dt', {}, 'Restarts'), h('dd', {}, String(b.restarts)),
        h('dt', {}, 'Exits'), h('dd', {}, String(b.exits)),
        h('dt', {}, 'Last exit'), h('dd', {}, b.lastExit ? exitText(b.lastExit) : '—'),
        h('dt', {}, 'Version'), h('dd', {}, h('a', { href: `#/timeline/${enc(`backend-child:${b.name}`)}` }, `${b.version} events`)),
      ),
    ),
    h('h3', { style: { marginTop: '16px' } }, 'Output'),
    logsEl,
  );
}

/** The kept output, then new lines as they are written; stays pinned to the bottom unless scrolled up. */
function followLogs(name) {
  const el = h('div.logs', { 'data-testid': 'logs' });
  const source = new EventSource(`/api/backends/${enc(name)}/logs?follow=1&limit=500`);
  source.addEventListener('line', (msg) => {
    const line = JSON.parse(msg.data);
    const pinned = el.scrollTop + el.clientHeight >= el.scrollHeight - 4;
    const text = h('span.l', {}, line.line);
    if (line.truncated) text.append(h('span.cut', { title: 'this line was longer than the limit and was cut here' }, ' … [line cut]'));
    el.append(h('div.line', { class: line.fd }, h('span.t', {}, timeOf(line.at)), text));
    // Keep the DOM bounded like the server keeps its history.
    while (el.childElementCount > 2000) el.firstElementChild.remove();
    if (pinned) el.scrollTop = el.scrollHeight;
  });
  return { el, close: () => source.close() };
}
