// Log in and register (one module, two modes).
import { h, field, showFieldError, errorBox, clear } from '../js/dom.js';
import { t, getLang, setLang } from '../js/i18n.js';
import { api, setSession } from '../js/api.js';
import { session } from '../js/session.js';

export async function render(root, ctx) {
  const register = ctx.route.mode === 'register';
  const errSlot = h('div.form-alert');
  const inputs = {
    username: h('input', { name: 'username', type: 'text', autocomplete: 'username', required: true, minlength: '3', maxlength: '32' }),
    email: h('input', { name: 'email', type: 'email', autocomplete: 'email', required: true }),
    password: h('input', { name: 'password', type: 'password', autocomplete: register ? 'new-password' : 'current-password', required: true, minlength: register ? '8' : null }),
    password2: h('input', { name: 'password2', type: 'password', autocomplete: 'new-password', required: true }),
  };
  const submit = h('button.btn.btn-primary.btn-block', { type: 'submit' }, register ? t('auth.register') : t('auth.login'));
  const form = h('form.auth-form', { novalidate: true },
    register ? field(t('auth.username'), inputs.username, t('auth.usernameHint')) : null,
    field(t('auth.email'), inputs.email),
    field(t('auth.password'), inputs.password, register ? t('auth.passwordHint') : null),
    register ? field(t('auth.password2'), inputs.password2) : null,
    errSlot, submit);

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clear(errSlot);
    showFieldError(form, null);
    if (register && inputs.password.value !== inputs.password2.value) {
      showFieldError(form, { field: 'password2', message: t('auth.mismatch') });
      return;
    }
    submit.disabled = true;
    try {
      const email = inputs.email.value.trim();
      const password = inputs.password.value;
      if (register) {
        await api.post('/api/user/register', { username: inputs.username.value.trim(), email, password });
      }
      const body = await api.post('/api/user/login', { email, password });
      setSession(body);
      session.user = null;
      const next = ctx.query.get('next');
      ctx.navigate(next && next.startsWith('/') && !next.startsWith('//') ? next : (register ? '/keys' : '/overview'), { replace: true });
    } catch (err) {
      if (!showFieldError(form, err)) errSlot.append(errorBox(err));
    } finally {
      submit.disabled = false;
    }
  });

  const other = getLang() === 'zh' ? 'en' : 'zh';
  root.append(h('div.auth-card.card',
    h('div.auth-brand', h('span.brand-mark', { 'aria-hidden': 'true' }, '96'), h('span', t('app.name'))),
    h('h1.auth-title', register ? t('auth.registerTitle') : t('auth.loginTitle')),
    h('p.muted', t('app.tagline')),
    form,
    h('p.auth-switch', register ? t('auth.haveAccount') : t('auth.noAccount'), ' ',
      h('a', { href: register ? '/login' : '/register' }, register ? t('auth.login') : t('auth.register'))),
    h('div.auth-lang', h('button.btn.btn-ghost.btn-sm', { type: 'button', lang: other === 'en' ? 'en' : 'zh-CN', onclick: () => setLang(other) },
      other === 'en' ? 'English' : '中文'))));
  setTimeout(() => (register ? inputs.username : inputs.email).focus(), 0);
}
