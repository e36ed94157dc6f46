import { api, enc } from '../api.js';
import { ago, coalesce, h, pageHead, render } from '../dom.js';
import { live } from '../live.js';

const COLUMNS = [
  ['pending', 'Pending'],
  ['in_progress', 'In progress'],
  ['completed', 'Completed'],
];

/**
 * The task board (seed 003): agents' task files as three columns, filterable by session, with
 * notes and deletion. It re-reads when the board says a task file was added, changed or removed.
 */
export function tasksPage(el) {
  let sessionFilter = '';
  const picker = h('select', { 'data-testid': 'task-session', onchange: () => ((sessionFilter = picker.value), void load()) });
  const board = h('div', { 'data-testid': 'board' });
  render(el, h('div.page', { 'data-page': 'tasks', style: { maxWidth: 'none' } }, pageHead('Task board', 'Tasks your agents keep, by session', h('label', { style: { minWidth: '260px' } }, 'Session', picker)), board));

  const load = async () => {
    let sessions, tasks;
    try {
      [sessions, tasks] = await Promise.all([api('/api/tasks/sessions'), api('/api/tasks/all')]);
    } catch (err) {
      if (err.status === 404) render(board, h('div.card.empty', {}, 'This Flow has no task board.'));
      else if (err.status !== 401) render(board, h('div.banner', {}, err.message));
      return;
    }
    const sessionList = Array.isArray(sessions) ? sessions : (sessions?.sessions ?? []);
    const taskList = (Array.isArray(tasks) ? tasks : (tasks?.tasks ?? [])).filter((t) => !sessionFilter || sessionIdOf(t) === sessionFilter);
    render(
      picker,
      h('option', { value: '' }, `All sessions (${sessionList.length})`),
      sessionList.map((s) => h('option', { value: s.id, selected: s.id === sessionFilter }, sessionLabel(s))),
    );
    render(
      board,
      h(
        'div.board',
        {},
        COLUMNS.map(([status, title]) => {
          const items = taskList.filter((t) => (t.status ?? 'pending') === status);
          return h('div.column', { 'data-column': status }, h('div.column-head', {}, h('h3', { style: { margin: 0 } }, title), h('span.pill', {}, String(items.length))), items.length ? items.map((t) => taskCard(t, refresh)) : h('div.faint', { style: { padding: '8px 4px' } }, 'Nothing here.'));
        }),
      ),
    );
  };
  const refresh = coalesce(load);
  const offs = [
    // File changes arrive as live messages (`update` per task file, `metadata-update` for sessions).
    live.onLive((item) => {
      if (item.streamType === 'taskboard') refresh();
    }),
    live.onResync(refresh),
  ];
  refresh(); // the first load goes through the same queue, so an older response never paints over a newer one
  return () => offs.forEach((off) => off());
}

const sessionIdOf = (t) => t.sessionId ?? t.session ?? t.session_id ?? '';

function sessionLabel(s) {
  const name = s.name ?? s.title ?? s.project ?? s.id;
  const when = s.modifiedAt ?? s.updatedAt;
  return `${name}${when ? ` · ${ago(when)}` : ''}`;
}

function taskCard(t, refresh) {
  const session = sessionIdOf(t);
  const addNote = async () => {
    const note = prompt(`A note for “${t.subject ?? t.id}”`);
    if (!note) return;
    try {
      await api(`/api/tasks/${enc(session)}/${enc(t.id)}/note`, { method: 'POST', body: { note } });
    } catch (err) {
      alert(err.message);
    }
    refresh();
  };
  const remove = async () => {
    if (!confirm(`Delete the task “${t.subject ?? t.id}”?`)) return;
    try {
      await api(`/api/tasks/${enc(session)}/${enc(t.id)}`, { method: 'DELETE' });
    } catch (err) {
      alert(err.message);
    }
    refresh();
  };
  const blockedBy = t.blockedBy ?? [];
  return h(
    'div.task',
    { 'data-task': t.id },
    h('div.subject', {}, t.subject ?? t.title ?? `Task ${t.id}`),
    t.status === 'in_progress' && t.activeForm ? h('div.faint', {}, t.activeForm) : null,
    t.description ? h('div.desc', {}, t.description) : null,
    blockedBy.length ? h('div.blocked', {}, `blocked by ${blockedBy.map((b) => `#${b}`).join(', ')}`) : null,
    h('div.foot', {}, h('span.faint.mono', {}, `#${t.id}${session ? ` · ${session.slice(0, 8)}` : ''}`), h('div.btns', {}, h('button.small', { onclick: addNote }, 'Note'), h('button.small.danger', { onclick: remove }, 'Delete'))),
  );
}
