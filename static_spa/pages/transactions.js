// Transactions: the user's ledger (recharges, charges, adjustments, redemptions), paged. A usage
// flush charges one entry per user; its "N requests" link lists the rows it summed.
import { h, field, clear, errorBox } from '../js/dom.js';
import { t } from '../js/i18n.js';
import { api, listOf, totalOf } from '../js/api.js';
import { money, moneyOf, dateTime, setCurrency } from '../js/format.js';
import { dataTable, pager, pageHeader } from '../js/ui.js';

const TYPES = ['recharge', 'charge', 'refund', 'adjustment', 'redeem'];
const LIMIT = 50;

export async function render(root) {
  const state = { offset: 0, type: '' };
  const typeSel = h('select', { name: 'type' }, h('option', { value: '' }, t('tx.allTypes')),
    TYPES.map((ty) => h('option', { value: ty }, t('tx.type.' + ty))));
  typeSel.addEventListener('change', () => { state.type = typeSel.value; state.offset = 0; load(); });
  const slot = h('div');
  const detail = h('div');

  async function showRows(entry) {
    clear(detail).append(h('div.loading', t('common.loading')));
    try {
      const body = await api.get(entry.rows_url);
      const cols = [
        { key: 'ts', label: t('logs.time'), render: (r) => dateTime(r.ts) },
        { key: 'model', label: 'model' },
        { key: 'key_name', label: 'key' },
        { key: 'cost', label: t('tx.amount'), align: 'right', render: (r) => money(-moneyOf(r, 'cost'), { sign: true }) },
        { key: 'id', label: t('tx.ref'), render: (r) => h('code.small', r.id) },
      ];
      clear(detail).append(h('section.card.flush', dataTable(cols, listOf(body), { caption: t('tx.rowsTitle') })));
    } catch (err) { clear(detail).append(errorBox(err)); }
  }

  async function load() {
    clear(slot).append(h('div.loading', t('common.loading')));
    try {
      const body = await api.get('/api/user/transactions', { limit: LIMIT, offset: state.offset, type: state.type });
      if (body && body.currency) setCurrency(body.currency);
      const rows = listOf(body);
      const cols = [
        { key: 'ts', label: t('logs.time'), render: (r) => dateTime(r.ts) },
        { key: 'type', label: t('tx.typeLabel'), render: (r) => h('span.badge', { class: (moneyOf(r, 'amount') || 0) >= 0 ? 'badge-ok' : 'badge-neutral' }, t('tx.type.' + r.type) === 'tx.type.' + r.type ? r.type : t('tx.type.' + r.type)) },
        { key: 'description', label: t('tx.description') },
        { key: 'amount', label: t('tx.amount'), align: 'right', render: (r) => {
          const v = moneyOf(r, 'amount');
          return h('strong', { class: v < 0 ? 'neg' : 'pos' }, money(v, { sign: true }));
        } },
        { key: 'balance_after', label: t('tx.balanceAfter'), align: 'right', render: (r) => money(moneyOf(r, 'balance_after')) },
        { key: 'ref', label: t('tx.ref'), render: (r) => {
          if (r.rows_url && r.rows > 1) {
            const link = h('a', { href: '#' }, t('tx.rows', { n: r.rows }));
            link.addEventListener('click', (ev) => { ev.preventDefault(); showRows(r); });
            return link;
          }
          return r.ref ? h('code.small', r.ref) : '';
        } },
      ];
      clear(slot).append(dataTable(cols, rows, { caption: t('nav.transactions'), empty: t('tx.empty') }),
        pager({ offset: state.offset, limit: LIMIT, total: totalOf(body), count: rows.length }, (o) => { state.offset = o; load(); }));
    } catch (err) { clear(slot).append(errorBox(err)); }
  }
  root.append(pageHeader(t('nav.transactions'), t('tx.subtitle')),
    h('section.card', h('div.form-inline', field(t('tx.typeLabel'), typeSel))), h('section.card.flush', slot), detail);
  await load();
}
