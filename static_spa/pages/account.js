// The signed-in user's account dialog: profile and password change (POST /api/user/password,
// which ends other sessions and returns a fresh token for this one).
import { h, field, modal, toast, onSubmit } from '../js/dom.js';
import { t } from '../js/i18n.js';
import { api, setSession } from '../js/api.js';
import { money, moneyOf, dateTime } from '../js/format.js';

export function openAccount(user) {
  return modal(t('account.title'), (close) => {
    const oldPw = h('input', { name: 'old_password', type: 'password', autocomplete: 'current-password', required: true });
    const newPw = h('input', { name: 'new_password', type: 'password', autocomplete: 'new-password', required: true, minlength: '8' });
    const err = h('div');
    const submit = h('button.btn.btn-primary', { type: 'submit' }, t('account.change'));
    const form = h('form.form-grid', { novalidate: true }, h('h3', t('account.password')),
      field(t('account.old'), oldPw), field(t('account.new'), newPw, t('auth.passwordHint')), err,
      h('div.actions', h('button.btn', { type: 'button', onclick: () => close() }, t('common.close')), submit));
    onSubmit(form, submit, err, async () => {
      setSession(await api.post('/api/user/password', { old_password: oldPw.value, new_password: newPw.value }));
      toast(t('account.changed'), 'success');
      close(true);
    });
    return h('div',
      h('dl.kv', h('dt', t('auth.username')), h('dd', user.username || '—'), h('dt', t('auth.email')), h('dd', user.email || '—'),
        h('dt', t('users.role')), h('dd', user.role === 'admin' ? t('users.admin') : t('users.user')),
        h('dt', t('overview.balance')), h('dd', money(moneyOf(user, 'balance'))), h('dt', t('users.created')), h('dd', dateTime(user.created_at))),
      form);
  });
}
