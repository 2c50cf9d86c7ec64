// Operator: recharge orders — approve or reject pending ones; browse by status.
import { h, field, modal, errorBox, toast, clear } from '../js/dom.js';
import { t } from '../js/i18n.js';
import { api, listOf, totalOf } from '../js/api.js';
import { money, moneyOf, dateTime } from '../js/format.js';
import { dataTable, pager, pageHeader, statusBadge } from '../js/ui.js';

const LIMIT = 50;
const STATUSES = ['pending', 'credited', 'approved', 'rejected'];

export async function render(root, ctx) {
  const state = { status: ctx.query.get('status') ?? 'pending', offset: 0 };
  const sel = h('select', { name: 'status' }, h('option', { value: '' }, t('common.all')),
    STATUSES.map((s) => h('option', { value: s, selected: s === state.status }, t('status.' + s))));
  sel.addEventListener('change', () => { state.status = sel.value; state.offset = 0; load(); });
  const slot = h('div');

  async function decide(o, action) {
    try {
      let body = {};
      if (action === 'reject') {
        const reason = await modal(t('approvals.rejectTitle'), (close) => {
          const input = h('input', { name: 'reason', maxlength: '200' });
          const f = h('form.form-grid', field(t('approvals.reason'), input),
            h('div.actions', h('button.btn', { type: 'button', onclick: () => close() }, t('common.cancel')),
              h('button.btn.btn-danger', { type: 'submit' }, t('approvals.reject'))));
          f.addEventListener('submit', (e) => { e.preventDefault(); close(input.value.trim() || ' '); });
          return f;
        });
        if (reason === undefined) return;
        body = { reason: reason.trim() };
      }
      await api.post(`/api/admin/recharges/${encodeURIComponent(o.id)}/${action}`, body);
      toast(action === 'approve' ? t('approvals.approved', { amount: money(moneyOf(o, 'amount')) }) : t('approvals.rejected'), 'success');
      await load();
    } catch (err) { toast(err.message, 'error'); }
  }

  async function load() {
    try {
      const body = await api.get('/api/admin/recharges', { status: state.status, limit: LIMIT, offset: state.offset });
      const rows = listOf(body);
      clear(slot).append(dataTable([
        { key: 'created_at', label: t('logs.time'), render: (o) => dateTime(o.created_at) },
        { key: 'user', label: t('approvals.user'), render: (o) => o.username || o.user_email || o.email || h('code.small', o.user_id) },
        { key: 'amount', label: t('recharge.amount'), align: 'right', render: (o) => h('strong', money(moneyOf(o, 'amount'))) },
        { key: 'description', label: t('recharge.description') },
        { key: 'method', label: t('recharge.method'), render: (o) => t('recharge.method.' + o.method) },
        { key: 'status', label: t('common.status'), render: (o) => [statusBadge(o.status), o.reason ? h('div.muted.small', o.reason) : null] },
        { key: 'actions', label: t('common.actions'), render: (o) => (o.status === 'pending' ? h('div.row-actions',
          h('button.btn.btn-sm.btn-primary', { type: 'button', onclick: () => decide(o, 'approve') }, t('approvals.approve')),
          h('button.btn.btn-sm.btn-danger-ghost', { type: 'button', onclick: () => decide(o, 'reject') }, t('approvals.reject'))) : dateTime(o.decided_at)) },
      ], rows, { caption: t('nav.approvals'), empty: t('approvals.empty'), rowKey: (o) => o.id }),
      pager({ offset: state.offset, limit: LIMIT, total: totalOf(body), count: rows.length }, (o) => { state.offset = o; load(); }));
    } catch (err) { clear(slot).append(errorBox(err)); }
  }
  root.append(pageHeader(t('nav.approvals'), t('approvals.subtitle')),
    h('section.card', h('div.form-inline', field(t('common.status'), sel))), h('section.card.flush', slot));
  await load();
}
