// Recharge: an order (awaiting approval, or credited at once) or a redeem code, by the relay's
// mode; and the user's past orders.
import { h, field, clear, errorBox, showFieldError } from '../js/dom.js';
import { t } from '../js/i18n.js';
import { api, listOf, totalOf } from '../js/api.js';
import { money, moneyOf, dateTime } from '../js/format.js';
import { dataTable, pager, pageHeader, statusBadge } from '../js/ui.js';

const LIMIT = 20;

const MODES = ['manual', 'code', 'open'];

export async function render(root, ctx) {
  let first = await api.get('/api/user/recharge', { limit: LIMIT, offset: 0 });
  // The operator's mode (GET /api/user/recharge tells it): only the form that works is shown.
  // Without one (an older relay), the server's default mode is assumed.
  const mode = MODES.includes(first.recharge_mode) ? first.recharge_mode : 'manual';
  const historySlot = h('div');
  const resultSlot = h('div', { 'aria-live': 'polite' });
  let offset = 0;

  function showResult(body) {
    const order = body.order || body;
    const credited = order.status === 'credited' || order.status === 'approved';
    clear(resultSlot).append(credited
      ? h('div.alert.alert-success', { role: 'status' }, t('recharge.credited', { amount: money(moneyOf(order, 'amount')), balance: money(moneyOf(body, 'balance')) }))
      : h('div.alert.alert-info', { role: 'status' }, t('recharge.pending', { amount: money(moneyOf(order, 'amount')) })));
  }

  async function submit(form, body, btn) {
    showFieldError(form, null);
    btn.disabled = true;
    try {
      const res = await api.post('/api/user/recharge', body);
      showResult(res);
      form.reset();
      await ctx.refreshUser().catch(() => {});
      offset = 0;
      await loadHistory();
    } catch (err) {
      if (!showFieldError(form, err)) clear(resultSlot).append(errorBox(err));
      else clear(resultSlot);
    } finally { btn.disabled = false; }
  }

  /** manual: amount and a note, filed for approval; open: an amount, credited at once. */
  function orderForm() {
    const amount = h('input', { name: 'amount', type: 'number', min: '0.01', step: '0.01', required: true, inputmode: 'decimal' });
    const desc = mode === 'manual' ? h('input', { name: 'description', maxlength: '200', placeholder: t('recharge.descPh') }) : null;
    const btn = h('button.btn.btn-primary', { type: 'submit' }, mode === 'open' ? t('recharge.topUp') : t('recharge.submitOrder'));
    const form = h('form.form-grid', { novalidate: true },
      h('div.quick-amounts', { role: 'group', 'aria-label': t('recharge.quick') },
        [10, 50, 100, 500].map((v) => h('button.btn.btn-sm', { type: 'button', onclick: () => { amount.value = String(v); amount.focus(); } }, money(v)))),
      field(t('recharge.amount'), amount), desc ? field(t('recharge.description'), desc) : null, h('div.actions', btn));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const body = { amount: amount.value.trim() };
      if (desc) body.description = desc.value.trim();
      submit(form, body, btn);
    });
    return h('section.card', h('h2.card-title', t('recharge.orderTitle')), form);
  }

  /** code: a redeem code made by an operator. */
  function codeForm() {
    const code = h('input', { name: 'code', required: true, autocomplete: 'off', placeholder: 'XXXX-XXXX-XXXX-XXXX', spellcheck: 'false' });
    const btn = h('button.btn.btn-primary', { type: 'submit' }, t('recharge.redeem'));
    const form = h('form.form-grid', { novalidate: true }, field(t('recharge.code'), code), h('div.actions', btn));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      submit(form, { code: code.value.trim(), description: t('recharge.redeemDesc') }, btn);
    });
    return h('section.card', h('h2.card-title', t('recharge.codeTitle')), form);
  }

  const modeNote = { manual: t('recharge.modeManual'), code: t('recharge.modeCode'), open: t('recharge.modeOpen') }[mode];
  const section = mode === 'code' ? codeForm() : orderForm();

  async function loadHistory(body) {
    try {
      body = body || await api.get('/api/user/recharge', { limit: LIMIT, offset });
      const rows = listOf(body);
      const cols = [
        { key: 'created_at', label: t('logs.time'), render: (r) => dateTime(r.created_at) },
        { key: 'amount', label: t('recharge.amount'), align: 'right', render: (r) => money(moneyOf(r, 'amount')) },
        { key: 'method', label: t('recharge.method'), render: (r) => t('recharge.method.' + r.method) },
        { key: 'status', label: t('common.status'), render: (r) => statusBadge(r.status) },
        { key: 'description', label: t('recharge.description'), render: (r) => [r.description, r.reason ? h('div.muted.small', t('recharge.reason') + ': ' + r.reason) : null] },
      ];
      clear(historySlot).append(dataTable(cols, rows, { caption: t('recharge.history'), empty: t('recharge.noOrders') }),
        pager({ offset, limit: LIMIT, total: totalOf(body), count: rows.length }, (o) => { offset = o; loadHistory(); }));
    } catch (err) { clear(historySlot).append(errorBox(err)); }
  }

  root.append(pageHeader(t('nav.recharge'), t('recharge.subtitle')),
    h('div.alert.alert-info', { role: 'note' }, modeNote), resultSlot,
    h('div.grid-2', section),
    h('section.card.flush', h('h2.card-title.pad', t('recharge.history')), historySlot));
  await loadHistory(first);
  first = null;
}
