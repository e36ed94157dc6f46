import { api } from './api.js';
import { h, render } from './dom.js';

/** The login screen: shown whenever the API answers 401. The server sets an HttpOnly cookie. */
export function showLogin(root, onLoggedIn) {
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', placeholder: 'Password', required: true, autofocus: true });
  const error = h('div.error-text', { role: 'alert' });
  const submit = h('button.primary', { type: 'submit' }, 'Log in');
  const form = h(
    'form',
    {
      onsubmit: async (e) => {
        e.preventDefault();
        submit.disabled = true;
        error.textContent = '';
        try {
          await api('/api/auth/login', { method: 'POST', body: { password: password.value } });
          onLoggedIn();
        } catch (err) {
          // The login route itself answers 401 for a wrong password; that is a message, not a loop.
          error.textContent = err.status === 401 ? 'That password is not right.' : err.message;
          submit.disabled = false;
          password.select();
        }
      },
    },
    h('div.brand', {}, h('span.logo'), 'Flow'),
    h('div.muted', {}, 'This Flow has a password. Log in to see its dashboard.'),
    h('label', {}, 'Password', password),
    error,
    submit,
  );
  root.className = '';
  render(root, h('div.login', { 'data-page': 'login' }, form));
  password.focus();
}
