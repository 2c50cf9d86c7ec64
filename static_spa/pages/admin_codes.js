// Operator: redeem codes — create a batch, list by status, revoke, export CSV.
import { h, field, errorBox, toast, clear, download, codeBlock, modal, confirmDialog, onSubmit } from '../js/dom.js';
import { t } from '../js/i18n.js';
import { api, listOf, totalOf, getText } from '../js/api.js';
import { money, moneyOf, dateTime, localInputToIso } from '../js/format.js';
import { dataTable, pager, pageHeader, statusBadge } from '../js/ui.js';

const LIMIT = 50;
const STATUSES = ['active', 'redeemed', 'revoked', 'expired'];

export async function render(root) {
  const state = { status: '', offset: 0 };
  const amount = h('input', { name: 'amount', type: 'number', min: '0.01', step: '0.01', required: true });
  const count = h('input', { name: 'count', type: 'number', min: '1', max: '1000', value: '10', required: true });
  const expires = h('input', { name: 'expires_at', type: 'datetime-local' });
  const err = h('div');
  const submit = h('button.btn.btn-primary', { type: 'submit' }, t('codes.create'));
  const form = h('form.form-inline', { novalidate: true }, field(t('recharge.amount'), amount), field(t('codes.count'), count),
    field(t('keys.expiresAt'), expires), h('div.filter-actions', submit), err);
  onSubmit(form, submit, err, async () => {
    const body = { amount: amount.value.trim(), count: Number(count.value || 1) };
    if (expires.value) body.expires_at = localInputToIso(expires.value);
    const res = await api.post('/api/admin/codes', body);
    const codes = listOf(res, 'codes');
    await modal(t('codes.created', { n: codes.length }), () => codeBlock(codes.map((c) => c.code).join('\n'), { title: t('codes.codes') }));
    await load();
  });
  const sel = h('select', { name: 'status' }, h('option', { value: '' }, t('common.all')), STATUSES.map((s) => h('option', { value: s }, t('status.' + s))));
  sel.addEventListener('change', () => { state.status = sel.value; state.offset = 0; load(); });
  const exportBtn = h('button.btn', { type: 'button', onclick: async () => {
    try {
      const { text } = await getText('/api/admin/codes/export', { status: state.status });
      download(`codes-${new Date().toISOString().slice(0, 10)}.csv`, text);
    } catch (ex) { toast(ex.message, 'error'); }
  } }, t('codes.export'));
  const slot = h('div');

  async function revoke(c) {
    if (!(await confirmDialog(t('codes.confirmRevoke', { code: c.code }), { danger: true }))) return;
    try { await api.post(`/api/admin/codes/${encodeURIComponent(c.id)}/revoke`); toast(t('common.saved'), 'success'); await load(); } catch (ex) { toast(ex.message, 'error'); }
  }

  async function load() {
    try {
      const body = await api.get('/api/admin/codes', { status: state.status, limit: LIMIT, offset: state.offset });
      const rows = listOf(body);
      clear(slot).append(dataTable([
        { key: 'code', label: t('recharge.code'), render: (c) => h('code', c.code) },
        { key: 'amount', label: t('recharge.amount'), align: 'right', render: (c) => money(moneyOf(c, 'amount')) },
        { key: 'status', label: t('common.status'), render: (c) => statusBadge(c.status) },
        { key: 'expires_at', label: t('keys.expiresAt'), render: (c) => (c.expires_at ? dateTime(c.expires_at) : t('keys.never')) },
        { key: 'created_at', label: t('users.created'), render: (c) => dateTime(c.created_at) },
        { key: 'redeemed', label: t('codes.redeemedBy'), render: (c) => (c.redeemed_by ? [h('code.small', c.redeemed_by), h('div.muted.small', dateTime(c.redeemed_at))] : '') },
        { key: 'actions', label: t('common.actions'), render: (c) => (c.status === 'active' ? h('button.btn.btn-sm.btn-danger-ghost', { type: 'button', onclick: () => revoke(c) }, t('codes.revoke')) : '') },
      ], rows, { caption: t('nav.codes') }),
      pager({ offset: state.offset, limit: LIMIT, total: totalOf(body), count: rows.length }, (o) => { state.offset = o; load(); }));
    } catch (ex) { clear(slot).append(errorBox(ex)); }
  }
  root.append(pageHeader(t('nav.codes'), t('codes.subtitle'), exportBtn),
    h('section.card', h('h2.card-title', t('codes.create')), form),
    h('section.card', h('div.form-inline', field(t('common.status'), sel))), h('section.card.flush', slot));
  await load();
}
