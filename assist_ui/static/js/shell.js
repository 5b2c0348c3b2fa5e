// The one page shell: header (brand, the links the user's role may open, connection state,
// user name and role chip, language switch, sign out) and the sign-in form.  Every page's
// HTML holds only its own <main id="app">; initChrome() builds the rest in front of it.
// <body data-signin-title="key"> picks the sign-in heading (the landing page says more).
import { api, setToken, forgetToken, signOut, token } from './api.js';
import { clear, cssToken, el } from './dom.js';
import { roleLabel } from './format.js';
import { applyI18n, currentLang, onLang, setLang, t } from './i18n.js';
import { NAV } from './vocab.js';

function header() {
  return el('header', { className: 'topbar' },
    el('a', { className: 'brand', href: '/', dataset: { i18n: 'brand' } }, 'callassist'),
    el('nav', {}, NAV.map((n) => el('a', { href: n.href, dataset: { i18n: n.key, roles: n.roles.join(' ') }, hidden: true }))),
    el('span', { className: 'spacer' }),
    el('span', { id: 'conn', className: 'conn' }),
    el('span', { id: 'user', className: 'user' }),
    el('button', { id: 'lang', type: 'button', className: 'link-button', dataset: { i18n: 'lang_toggle' } }),
    el('button', { id: 'signout', type: 'button', className: 'link-button', dataset: { i18n: 'sign_out' }, hidden: true }));
}

function signInForm() {
  const title = (document.body && document.body.dataset.signinTitle) || 'sign_in';
  return el('form', { id: 'signin', className: 'signin card', hidden: true, autocomplete: 'off' },
    el('h1', { dataset: { i18n: title } }),
    el('p', { dataset: { i18n: 'sign_in_hint' } }),
    el('label', {}, el('span', { dataset: { i18n: 'token' } }),
      el('input', { name: 'token', type: 'password', required: true, autocomplete: 'off', spellcheck: 'false' })),
    el('button', { type: 'submit', className: 'primary', dataset: { i18n: 'sign_in' } }),
    el('p', { className: 'form-error', role: 'alert' }));
}

// Builds the shell (once), translates the page and wires the language switch and sign-out.
export function initChrome() {
  if (!document.getElementById('signin')) {
    const app = document.getElementById('app');
    const parts = [header(), signInForm()];
    if (app) app.before(...parts); else document.body.prepend(...parts);
  }
  applyI18n();
  document.getElementById('lang').addEventListener('click', () => setLang(currentLang() === 'zh' ? 'en' : 'zh'));
  document.getElementById('signout').addEventListener('click', signOut);
}

function showUser(user) {
  const box = document.getElementById('user');
  if (box) {
    clear(box).append(el('span', { className: 'user-name' }, user.name),
      el('span', { className: 'role role-' + cssToken(user.role), dataset: { role: user.role } }, roleLabel(user.role)));
    box.title = user.name;
  }
  document.querySelectorAll('[data-roles]').forEach((n) => {
    n.hidden = !n.dataset.roles.split(' ').includes(user.role);
  });
  const out = document.getElementById('signout');
  if (out) out.hidden = false;
}
onLang(() => document.querySelectorAll('.role[data-role]').forEach((n) => { n.textContent = roleLabel(n.dataset.role); }));

// Shows the sign-in form until a token is accepted; resolves with the user.
export function requireUser() {
  return new Promise((resolve) => {
    const form = document.getElementById('signin');
    const app = document.getElementById('app');
    const tryToken = async () => {
      const r = await api('/api/me');
      if (r.ok) {
        form.hidden = true; app.hidden = false; showUser(r.body); resolve(r.body); return true;
      }
      return false;
    };
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const input = form.querySelector('input[name=token]');
      setToken(input.value.trim());
      input.value = '';
      if (!(await tryToken())) {
        forgetToken();
        form.querySelector('.form-error').textContent = t('bad_token');
      }
    });
    (token() ? tryToken() : Promise.resolve(false)).then((ok) => {
      if (!ok) { form.hidden = false; app.hidden = true; form.querySelector('input').focus(); }
    });
  });
}
