// Operator: users — search, detail, balance adjustment with a reason, disable/enable.
import { h, field, modal, confirmDialog, errorBox, toast, clear, onSubmit } from '../js/dom.js';
import { t } from '../js/i18n.js';
import { api, listOf, totalOf } from '../js/api.js';
import { money, moneyOf, dateTime, num } from '../js/format.js';
import { dataTable, pager, pageHeader, statusBadge } from '../js/ui.js';

const LIMIT = 50;

function adjustForm(user, close) {
  const amount = h('input', { name: 'amount', required: true, inputmode: 'decimal', placeholder: '10 / -2.5' });
  const reason = h('input', { name: 'reason', required: true, maxlength: '500' });
  const err = h('div');
  const submit = h('button.btn.btn-primary', { type: 'submit' }, t('users.adjust'));
  const form = h('form.form-grid', { novalidate: true },
    h('p', t('users.current'), ' ', h('strong', money(moneyOf(user, 'balance')))),
    field(t('users.amount'), amount, t('users.amountHint')), field(t('users.reason'), reason), err,
    h('div.actions', h('button.btn', { type: 'button', onclick: () => close() }, t('common.cancel')), submit));
  onSubmit(form, submit, err, async () => {
    close(await api.post(`/api/admin/users/${encodeURIComponent(user.id)}/adjust`, { amount: amount.value.trim(), reason: reason.value.trim() }));
  });
  return form;
}

async function showDetail(user) {
  let d;
  try { d = await api.get(`/api/admin/users/${encodeURIComponent(user.id)}`); } catch (err) { toast(err.message, 'error'); return; }
  d = d.user ? { ...d.user, ...d } : d;
  await modal(`${d.username || d.email}`, () => h('div',
    h('dl.kv', h('dt', 'ID'), h('dd', h('code', d.id)), h('dt', t('auth.email')), h('dd', d.email),
      h('dt', t('users.role')), h('dd', d.role), h('dt', t('overview.balance')), h('dd', money(moneyOf(d, 'balance'))),
      h('dt', t('users.created')), h('dd', dateTime(d.created_at))),
    h('h3', t('nav.keys')),
    dataTable([
      { key: 'name', label: t('keys.name'), render: (k) => [k.name, ' ', h('code.small', k.prefix || '')] },
      { key: 'group', label: t('keys.group') },
      { key: 'status', label: t('common.status'), render: (k) => statusBadge(k.status) },
      { key: 'cost', label: t('keys.usage'), align: 'right', render: (k) => money(moneyOf(k.usage, 'cost')) },
    ], listOf(d.keys)),
    h('h3', t('users.recent')),
    dataTable([
      { key: 'ts', label: t('logs.time'), render: (r) => dateTime(r.ts) },
      { key: 'model', label: t('logs.model') },
      { key: 'account_name', label: t('users.account') },
      { key: 'status', label: t('common.status') },
      { key: 'cost', label: t('logs.cost'), align: 'right', render: (r) => money(moneyOf(r, 'cost')) },
    ], listOf(d.recent_usage))), { wide: true });
}

export async function render(root, ctx) {
  const state = { q: ctx.query.get('q') || '', offset: 0 };
  const q = h('input', { name: 'q', type: 'search', value: state.q, placeholder: t('users.searchPh') });
  const slot = h('div');
  const form = h('form.form-inline', { role: 'search' }, field(t('users.search'), q), h('button.btn.btn-primary', { type: 'submit' }, t('common.search')));
  form.addEventListener('submit', (e) => { e.preventDefault(); state.q = q.value.trim(); state.offset = 0; load(); });

  async function act(u, action) {
    try {
      if (action === 'adjust') {
        const res = await modal(t('users.adjustTitle', { name: u.username || u.email }), (close) => adjustForm(u, close));
        if (!res) return;
        toast(t('users.adjusted', { balance: money(moneyOf(res, 'balance')) }), 'success');
      } else if (action === 'detail') {
        await showDetail(u);
        return;
      } else {
        if (action === 'disable' && !(await confirmDialog(t('users.confirmDisable', { name: u.username || u.email }), { danger: true }))) return;
        await api.post(`/api/admin/users/${encodeURIComponent(u.id)}/${action}`);
        toast(t('common.saved'), 'success');
      }
      await load();
    } catch (err) { toast(err.message, 'error'); }
  }

  async function load() {
    try {
      const body = await api.get('/api/admin/users', { q: state.q, limit: LIMIT, offset: state.offset });
      const rows = listOf(body);
      clear(slot).append(dataTable([
        { key: 'username', label: t('auth.username'), render: (u) => h('div', h('strong', u.username), h('div.muted.small', u.email)) },
        { key: 'role', label: t('users.role'), render: (u) => (u.role === 'admin' ? h('span.badge.badge-info', t('users.admin')) : t('users.user')) },
        { key: 'status', label: t('common.status'), render: (u) => statusBadge(u.status) },
        { key: 'balance', label: t('overview.balance'), align: 'right', render: (u) => money(moneyOf(u, 'balance')) },
        { key: 'created_at', label: t('users.created'), render: (u) => dateTime(u.created_at) },
        { key: 'actions', label: t('common.actions'), render: (u) => h('div.row-actions',
          h('button.btn.btn-sm', { type: 'button', onclick: () => act(u, 'detail') }, t('common.details')),
          h('button.btn.btn-sm', { type: 'button', onclick: () => act(u, 'adjust') }, t('users.adjust')),
          u.status === 'disabled'
            ? h('button.btn.btn-sm', { type: 'button', onclick: () => act(u, 'enable') }, t('keys.enable'))
            : h('button.btn.btn-sm.btn-danger-ghost', { type: 'button', onclick: () => act(u, 'disable') }, t('keys.disable'))) },
      ], rows, { caption: t('nav.users') }),
      pager({ offset: state.offset, limit: LIMIT, total: totalOf(body), count: rows.length }, (o) => { state.offset = o; load(); }));
    } catch (err) { clear(slot).append(errorBox(err)); }
  }
  root.append(pageHeader(t('nav.users'), t('users.subtitle')), h('section.card', form), h('section.card.flush', slot));
  await load();
}
