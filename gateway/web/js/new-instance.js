import { api } from './api.js';
import { h, withCode } from './dom.js';
import { dirPicker } from './dir-picker.js';
import { listOf } from './opencode.js';

/** Seed 004's modal: start OpenCode in a working directory. Calls created(id) when it exists. */
export function openNewInstanceDialog(created) {
  const directory = h('input', { name: 'directory', placeholder: '/home/me/project', required: true, autocomplete: 'off', 'data-testid': 'instance-directory' });
  const id = h('input', { name: 'id', placeholder: 'optional: lower-case letters, digits, - or _', autocomplete: 'off' });
  const error = h('div.error-text', { role: 'alert' });
  const submit = h('button.primary', { type: 'submit' }, 'Start instance');
  const dialog = h(
    'dialog',
    { 'data-testid': 'new-instance-dialog', onclose: () => dialog.remove() },
    h(
      'form',
      {
        onsubmit: async (e) => {
          e.preventDefault();
          submit.disabled = true;
          error.textContent = '';
          try {
            const body = { directory: directory.value.trim() };
            if (id.value.trim()) body.id = id.value.trim();
            const made = await api('/api/instances', { method: 'POST', body });
            const inst = made?.instance ?? made ?? {};
            dialog.close();
            created(inst.id ?? listOf(made, 'instances')[0]?.id ?? body.id);
          } catch (err) {
            error.textContent = err.message;
            submit.disabled = false;
          }
        },
      },
      h('h2', {}, 'New OpenCode instance'),
      h('div.muted', {}, withCode('Flow starts `opencode serve` in this directory and keeps it supervised.')),
      h('label', {}, 'Working directory', directory),
      dirPicker(directory),
      h('label', {}, 'Name', id),
      error,
      h('div.btns', {}, h('button', { type: 'button', onclick: () => dialog.close() }, 'Cancel'), submit),
    ),
  );
  document.body.append(dialog);
  dialog.showModal();
  directory.focus();
}
