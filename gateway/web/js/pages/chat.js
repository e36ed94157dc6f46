import { api, enc } from '../api.js';
import { ago, coalesce, h, pageHead, render, statusBadge } from '../dom.js';
import { live, onStreamType } from '../live.js';
import { navigate } from '../router.js';
import { listOf, messageRole, messageText } from '../opencode.js';

// Loaded on its own: if the markdown code cannot be had, replies show as plain text, the rest works.
let renderMarkdown = (text) => document.createTextNode(text);
const markdownReady = import('../markdown.js').then((m) => (renderMarkdown = m.renderMarkdown)).catch(() => {});
import { askToNotify } from '../notify.js';

const isMac = /Mac|iPhone|iPad/.test(navigator.platform);

/**
 * One OpenCode session as a chat (seed 004): the history, then the reply as it streams, delta by
 * delta, from /api/sessions/:id/events; `message.completed` replaces the streamed text with the
 * final one. Ctrl+Enter (Cmd+Enter on a Mac) sends. That feed is live only, so after it
 * reconnects the history is read again rather than trusted to be complete.
 */
export function chatPage(el, params) {
  const sessionId = params.id;
  const head = h('div.chat-head');
  const attention = h('div.attention');
  const messages = h('div.messages', { 'data-testid': 'messages' });
  const input = h('textarea', { placeholder: `Message… (${isMac ? '⌘' : 'Ctrl'}+Enter to send)`, rows: 3, 'data-testid': 'composer' });
  const sendButton = h('button.primary', { onclick: () => void send() }, 'Send');
  const sendError = h('div.error-text.hint');
  // The model for the next message: the instance's default unless one is chosen (opencode's list).
  const model = h('select.model', { 'data-testid': 'model', 'aria-label': 'Model', hidden: true }, h('option', { value: '' }, 'Default model'));
  render(el, h('div.chat', { 'data-page': 'chat', 'data-session': sessionId }, head, messages, attention, h('div.composer', {}, input, h('div.send', {}, model, sendButton, sendError, h('span.hint', {}, `${isMac ? '⌘' : 'Ctrl'}+Enter`)))));

  let modelsOf = null;
  const loadModels = async (instanceId) => {
    if (modelsOf === instanceId) return;
    modelsOf = instanceId;
    try {
      const { models, defaults } = await api(`/api/instances/${enc(instanceId)}/models`);
      const isDefault = (m) => defaults.some((d) => d.providerId === m.providerId && d.modelId === m.modelId);
      render(model, h('option', { value: '' }, 'Default model'), models.map((m) => h('option', { value: JSON.stringify({ providerId: m.providerId, modelId: m.modelId }) }, `${m.name}${isDefault(m) ? ' (default)' : ''}`)));
      model.hidden = models.length === 0;
    } catch {
      model.hidden = true; // not running, or an opencode without the list: the default it is
    }
  };

  /** userMessageId → its diff element, once the turn's diff was read. */
  const diffs = new Map();
  const showDiff = async (userBubble) => {
    const id = userBubble.dataset.message;
    let files;
    try {
      files = (await api(`/api/sessions/${enc(sessionId)}/diff?messageId=${enc(id)}`)).files;
    } catch {
      return; // a stopped instance has no diffs to give
    }
    diffs.get(id)?.remove();
    if (files.length === 0) return;
    const el = diffView(id, files);
    diffs.set(id, el);
    // At the end of the turn: before the next message the user sent, or at the end.
    let next = userBubble.nextElementSibling;
    while (next && !(next.classList.contains('bubble') && next.classList.contains('user'))) next = next.nextElementSibling;
    messages.insertBefore(el, next);
  };

  /** messageId → { el, role, text } for every bubble on screen. */
  const bubbles = new Map();
  const scrollToEnd = () => {
    messages.scrollTop = messages.scrollHeight;
  };

  const bubbleFor = (id, role) => {
    let b = bubbles.get(id);
    if (!b) {
      const toolsEl = h('div.tools');
      const textEl = h('span.text');
      b = { el: h('div.bubble', { class: role, 'data-message': id, 'data-role': role }, toolsEl, textEl), toolsEl, textEl, role, text: '' };
      bubbles.set(id, b);
      messages.append(b.el);
    }
    return b;
  };

  /** A message as the API lists it: final, or (an assistant reply still being written) in progress. */
  const showMessage = (m) => {
    const role = messageRole(m);
    if (role === 'assistant' && !m.completedAt && !m.error) return showInProgress(m);
    return showFinal(m);
  };

  const showInProgress = (m) => {
    const b = bubbleFor(m.id, 'assistant');
    // The feed may already have shown more of it than this listing knew.
    if (b.el.dataset.complete || b.text.length >= messageText(m).length) return;
    b.text = messageText(m);
    b.el.classList.add('streaming');
    render(b.textEl, b.text);
  };

  const showFinal = (m) => {
    const role = messageRole(m);
    // A user message we sent shows at once; its stored copy takes over that bubble.
    const pending = role === 'user' && !bubbles.has(m.id) ? [...messages.querySelectorAll('.bubble.pending')].find((e) => e.dataset.text === messageText(m)) : null;
    const b = bubbleFor(m.id, role);
    if (pending) pending.replaceWith(b.el);
    b.text = messageText(m);
    b.el.classList.remove('streaming');
    b.el.classList.toggle('error', Boolean(m.error));
    const meta = [];
    if (m.error) meta.push(m.error.message);
    if (role === 'assistant' && m.tokens) meta.push(`${m.tokens.input + m.tokens.cacheRead} in · ${m.tokens.output} out`);
    if (role === 'assistant' && m.cost) meta.push(`$${m.cost.toFixed(4)}`);
    // A reply is markdown (sanitized); what the user typed is shown as typed.
    if (role === 'assistant') {
      b.textEl.classList.add('md');
      render(b.textEl, renderMarkdown(b.text));
    } else render(b.textEl, b.text);
    for (const part of m.parts ?? []) if (part.tool) showTool(b, part);
    // A step that only called a tool has no text: its tool line is what there is to see.
    b.el.classList.toggle('empty', !b.text && !b.toolsEl.childElementCount && !m.error);
    b.el.querySelector('.meta')?.remove();
    if (meta.length) b.el.append(h('span.meta', {}, meta.join(' · ')));
    b.el.dataset.complete = 'true';
  };

  /** A tool call in a reply: its name, title and status, input and output folded away; updated in place. */
  const showTool = (b, part) => {
    const t = part.tool;
    let el = b.toolsEl.querySelector(`[data-part="${CSS.escape(part.id)}"]`);
    if (!el) el = b.toolsEl.appendChild(h('details.tool', { 'data-part': part.id }));
    el.dataset.status = t.status;
    render(
      el,
      h('summary', {}, h('span.tname', {}, t.name), h('span.ttitle.muted', { title: t.title ?? '' }, t.title ?? ''), statusBadge(t.status)),
      t.input ? [h('div.io-label', {}, 'Input'), h('pre.tool-input', {}, t.input)] : null,
      t.output ? [h('div.io-label', {}, 'Output'), h('pre.tool-output', {}, t.output)] : null,
      t.error ? [h('div.io-label', {}, 'Error'), h('pre.error-text', {}, t.error)] : null,
    );
  };

  const loadHistory = async () => {
    try {
      const data = await api(`/api/sessions/${enc(sessionId)}/messages`);
      for (const m of listOf(data, 'messages')) showMessage(m);
      if (data.source === 'opencode') await Promise.all([...messages.querySelectorAll('.bubble.user[data-message]')].slice(-10).map(showDiff));
      scrollToEnd();
    } catch (err) {
      if (err.status !== 401) messages.append(h('div.banner', {}, err.message));
    }
  };

  const showSession = (s) => {
    render(
      head,
      h('div', {}, h('h2', { style: { margin: 0 } }, s.title || s.id), h('div.sub', {}, h('a', { href: `#/instances/${enc(s.instanceId)}` }, s.instanceId), ` · ${s.messages} message${s.messages === 1 ? '' : 's'} · updated ${ago(s.updatedAt)}`)),
      h('div.btns', {}, statusBadge(s.status), s.state === 'busy' || s.state === 'retry' ? h('button.small', { onclick: () => void api(`/api/sessions/${enc(sessionId)}/abort`, { method: 'POST' }).catch((e) => alert(e.message)) }, 'Stop') : null),
    );
    render(attention, [...(s.permissions ?? []).map(permissionCard), ...(s.questions ?? []).map(questionCard)]);
  };

  const permissionCard = (p) => {
    const reply = (answer) => () => void api(`/api/sessions/${enc(sessionId)}/permissions/${enc(p.id)}`, { method: 'POST', body: { reply: answer } }).catch((e) => alert(e.message));
    return h(
      'div.banner.info',
      { 'data-permission': p.id },
      h('strong', {}, `OpenCode asks to use ${p.permission}`),
      p.detail ? h('pre', { style: { margin: '6px 0' } }, p.detail) : null,
      h('div.btns', {}, h('button.small.primary', { onclick: reply('once') }, 'Allow once'), h('button.small', { onclick: reply('always') }, 'Always allow'), h('button.small.danger', { onclick: reply('reject') }, 'Reject')),
    );
  };

  const questionCard = (q) =>
    h(
      'div.banner.info',
      { 'data-question': q.id },
      q.questions.map((item, i) =>
        h(
          'div',
          {},
          h('strong', {}, item.question),
          h(
            'div.btns',
            { style: { marginTop: '6px' } },
            item.options.map((o) =>
              h(
                'button.small',
                {
                  title: o.description ?? '',
                  onclick: () => {
                    const answers = q.questions.map((_, j) => (j === i ? [o.label] : []));
                    void api(`/api/sessions/${enc(sessionId)}/questions/${enc(q.id)}`, { method: 'POST', body: { answers } }).catch((e) => alert(e.message));
                  },
                },
                o.label,
              ),
            ),
          ),
        ),
      ),
    );

  const send = async () => {
    const text = input.value;
    if (!text.trim()) return;
    askToNotify(); // a user gesture: the only time a browser lets a page ask
    sendError.textContent = '';
    sendButton.disabled = true;
    const pending = h('div.bubble.user.pending', { 'data-text': text, 'data-role': 'user' }, text);
    messages.append(pending);
    scrollToEnd();
    try {
      const body = { text };
      if (model.value) body.model = JSON.parse(model.value);
      await api(`/api/sessions/${enc(sessionId)}/messages`, { method: 'POST', body });
      input.value = '';
    } catch (err) {
      pending.remove();
      sendError.textContent = err.message;
    } finally {
      sendButton.disabled = false;
      input.focus();
    }
  };

  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      void send();
    }
  });

  // The live feed: named SSE events, one per kind of change (services/opencode/feed.ts).
  const feed = new EventSource(`/api/sessions/${enc(sessionId)}/events`);
  const roles = new Map();
  let opens = 0;
  // EventSource reconnects by itself; what streamed while it was away is read from the history.
  feed.onopen = () => {
    if (opens++ > 0) void loadHistory();
  };
  feed.addEventListener('session', (msg) => {
    const session = JSON.parse(msg.data).session;
    showSession(session);
    void loadModels(session.instanceId);
  });
  feed.addEventListener('message', (msg) => {
    const m = JSON.parse(msg.data);
    roles.set(m.messageId, m.role);
  });
  feed.addEventListener('delta', (msg) => {
    const d = JSON.parse(msg.data);
    if (d.field !== 'text' || roles.get(d.messageId) === 'user') return;
    const b = bubbleFor(d.messageId, 'assistant');
    if (b.el.dataset.complete) return;
    const pinned = messages.scrollTop + messages.clientHeight >= messages.scrollHeight - 8;
    b.el.classList.add('streaming');
    b.text += d.delta;
    b.textEl.append(d.delta);
    if (pinned) scrollToEnd();
  });
  feed.addEventListener('part', (msg) => {
    const { part } = JSON.parse(msg.data);
    if (!part.tool || roles.get(part.messageId) === 'user') return;
    const b = bubbleFor(part.messageId, 'assistant');
    b.el.classList.remove('empty');
    showTool(b, part);
  });
  feed.addEventListener('message.completed', (msg) => {
    const m = JSON.parse(msg.data).message;
    showFinal(m);
    // A reply that ends its turn: the history is read again, which gives the message just sent
    // its id (the feed tells replies, not our own messages) and shows the files the turn changed.
    if (messageRole(m) === 'assistant' && m.finish !== 'tool-calls') void loadHistory();
    scrollToEnd();
  });
  feed.addEventListener('session.deleted', () => navigate('/backends'));
  feed.onerror = () => {
    // 404 (no such session) or 401 end the feed; anything else EventSource retries itself.
    if (feed.readyState === EventSource.CLOSED) void api(`/api/sessions/${enc(sessionId)}`).catch((err) => render(head, h('div.banner', {}, err.message)));
  };

  void markdownReady.then(loadHistory);
  input.focus();
  return () => feed.close();
}

/** A turn's changed files: one folded entry per file, `+3 −1`, its patch coloured by line. */
function diffView(messageId, files) {
  const adds = files.reduce((n, f) => n + f.additions, 0);
  const dels = files.reduce((n, f) => n + f.deletions, 0);
  return h(
    'div.diffs',
    { 'data-diff-for': messageId, 'data-testid': 'turn-diff' },
    h('div.hint', {}, `${files.length} file${files.length === 1 ? '' : 's'} changed · `, h('span.add', {}, `+${adds}`), ' ', h('span.del', {}, `−${dels}`)),
    files.map((f) =>
      h(
        'details.diff-file',
        { 'data-file': f.file },
        h('summary', {}, f.file, ' ', h('span.add', {}, `+${f.additions}`), ' ', h('span.del', {}, `−${f.deletions}`), f.status ? h('span.faint', {}, ` · ${f.status}`) : null),
        h(
          'div.diff-lines',
          {},
          f.patch.split('\n').map((line) => h(`span.${line.startsWith('+') && !line.startsWith('+++') ? 'add' : line.startsWith('-') && !line.startsWith('---') ? 'del' : 'ctx'}`, {}, line || ' ')),
        ),
      ),
    ),
  );
}

/** One instance: its state, its sessions, and the controls to start, stop and add a session. */
export function instancePage(el, params) {
  const id = params.id;
  const body = h('div');
  render(el, h('div.page', { 'data-page': 'instance', 'data-instance': id }, body));

  const act = (path, method = 'POST', then) => async () => {
    try {
      const res = await api(path, { method, body: method === 'POST' ? {} : undefined });
      then?.(res);
    } catch (err) {
      alert(err.message);
    }
    refresh();
  };

  const load = async () => {
    let inst, sessions;
    try {
      [inst, sessions] = await Promise.all([api(`/api/instances/${enc(id)}`), api(`/api/instances/${enc(id)}/sessions`).then((d) => listOf(d, 'sessions'))]);
    } catch (err) {
      if (err.status !== 401) render(body, pageHead(id), h('div.banner', {}, err.message));
      return;
    }
    const running = inst.status === 'running';
    // Flow is at work on it (a start, a restart after a crash or a hang): it can be stopped.
    const live = running || ['starting', 'restarting', 'backoff'].includes(inst.status);
    const check = inst.healthCheck;
    render(
      body,
      pageHead(
        inst.id,
        inst.directory,
        statusBadge(inst.health === 'unhealthy' ? 'unhealthy' : inst.status),
        h('button.primary', { disabled: !running, 'data-testid': 'new-session', onclick: act(`/api/instances/${enc(id)}/sessions`, 'POST', (s) => navigate(`/sessions/${enc(s.id)}`)) }, 'New session'),
        live ? h('button', { onclick: act(`/api/instances/${enc(id)}/stop`) }, 'Stop') : h('button', { onclick: act(`/api/instances/${enc(id)}/start`) }, 'Start'),
        h('a.btn', { href: `#/timeline/${enc(`opencode-instance:${id}`)}` }, 'Timeline'),
        h('button.danger', { onclick: () => confirm(`Stop and remove ${id}?`) && act(`/api/instances/${enc(id)}`, 'DELETE', () => navigate('/backends'))() }, 'Remove'),
      ),
      inst.lastError ? h('div.banner', {}, inst.lastError) : null,
      h(
        'div.card',
        {},
        h(
          'dl.kv',
          {},
          h('dt', {}, 'OpenCode'), h('dd', {}, inst.version ?? '—'),
          h('dt', {}, 'PID'), h('dd.mono', {}, inst.pid ?? '—'),
          h('dt', {}, 'Port'), h('dd.mono', {}, inst.port ?? '—'),
          h('dt', {}, 'Ready since'), h('dd', {}, inst.readyAt ? ago(inst.readyAt) : '—'),
          h('dt', {}, 'Health'), h('dd', { 'data-testid': 'instance-health' }, !inst.health ? '—' : inst.health === 'healthy' ? `healthy${check?.lastOkAt ? ` · answered ${ago(check.lastOkAt)}` : ''}` : `unhealthy · ${check?.failures ?? '?'} check(s) failed: ${check?.lastError ?? ''}`),
          h('dt', {}, 'Restarts'), h('dd', { 'data-testid': 'instance-restarts' }, inst.restarts ? `${inst.restarts} · ${inst.restartReason ?? ''}` : '0'),
          h('dt', {}, 'Busy / waiting'), h('dd', {}, `${inst.busy} busy · ${inst.needsAttention} waiting for you`),
        ),
      ),
      h(
        'div.card.flush',
        {},
        sessions.length === 0
          ? h('div.empty', {}, running ? 'No sessions yet: start one with “New session”.' : 'No sessions.')
          : h(
              'table.cards',
              {},
              h('thead', {}, h('tr', {}, ['Session', 'Status', 'Messages', 'Last message', 'Updated'].map((t) => h('th', {}, t)))),
              h(
                'tbody',
                {},
                sessions.map((s) =>
                  h(
                    'tr.selectable',
                    { onclick: () => navigate(`/sessions/${enc(s.id)}`), 'data-session': s.id },
                    h('td', {}, h('strong', {}, s.title || s.id), h('div.faint.mono', {}, s.id)),
                    h('td', { 'data-label': 'Status' }, statusBadge(s.status)),
                    h('td.num', { 'data-label': 'Messages' }, String(s.messages)),
                    h('td.muted', { 'data-label': 'Last' }, s.lastMessage ? s.lastMessage.preview.slice(0, 80) : '—'),
                    h('td.faint', { 'data-label': 'Updated' }, ago(s.updatedAt)),
                  ),
                ),
              ),
            ),
      ),
    );
  };
  const refresh = coalesce(load);
  const offs = [
    onStreamType('opencode-instance', (e) => {
      if (e.streamId === `opencode-instance:${id}`) refresh();
    }),
    live.onResync(refresh),
  ];
  refresh(); // the first load goes through the same queue, so an older response never paints over a newer one
  return () => offs.forEach((off) => off());
}
