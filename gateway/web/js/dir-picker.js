import { api, enc } from './api.js';
import { h, render } from './dom.js';

/**
 * The working-directory picker of the new-instance dialog: recent directories first, then the
 * subdirectories of where you are, read from the server (GET /api/fs/dirs, confined to the home
 * directory and FLOW_DIR_ROOTS). Choosing a row fills `input` and opens that directory; a path
 * typed into `input` is still what is sent, and Enter-less typing is never overwritten.
 */
export function dirPicker(input) {
  const where = h('span.where', { 'data-testid': 'picker-where' });
  const up = h('button.small', { type: 'button', disabled: true, 'data-action': 'up', title: 'Parent directory' }, '↑ Up');
  const list = h('div.picker', { 'data-testid': 'dir-picker', role: 'listbox', 'aria-label': 'Directories' });
  const error = h('div.error-text.hint');
  let parent = null;
  let recent = [];

  const row = (path, label, cls = '') =>
    h('div.row', { class: cls, role: 'option', tabindex: 0, 'data-path': path, title: path, onclick: () => choose(path), onkeydown: (e) => e.key === 'Enter' && (e.preventDefault(), choose(path)) }, h('span', {}, '📁'), label);

  const show = async (path) => {
    error.textContent = '';
    let data;
    try {
      data = await api(path ? `/api/fs/dirs?path=${enc(path)}` : '/api/fs/dirs');
    } catch (err) {
      if (err.status === 404 && !path) return render(list.parentElement ?? list); // this Flow has no picker route
      error.textContent = err.message;
      return;
    }
    recent = data.recent;
    parent = data.parent;
    up.disabled = !data.path;
    // The end of a long path is the part that tells directories apart.
    const parts = (data.path ?? '').split('/');
    where.textContent = data.path ? (parts.length > 3 ? `…/${parts.slice(-2).join('/')}` : data.path) : 'Places you may browse';
    where.title = data.path ?? '';
    render(
      list,
      !path && recent.length ? [h('div.group', {}, 'Recent'), recent.map((p) => row(p, p, 'recent'))] : null,
      data.path ? null : h('div.group', {}, 'Roots'),
      data.entries.length === 0 ? h('div.group', {}, 'No subdirectories') : data.entries.map((e) => row(e.path, data.path ? e.name : e.path, e.hidden ? 'hidden-dir' : '')),
      data.truncated ? h('div.group', {}, 'More not shown: type the path') : null,
    );
    list.scrollTop = 0;
  };

  const choose = (path) => {
    input.value = path;
    void show(path);
  };
  up.addEventListener('click', () => void show(parent ?? ''));

  void show('');
  return h('div.dir-picker', {}, h('div.picker-bar', {}, up, where), list, error);
}
