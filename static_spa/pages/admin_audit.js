// Operator: audit log of operator writes, with before/after of each.
import { h, field, errorBox, clear } from '../js/dom.js';
import { t } from '../js/i18n.js';
import { api, listOf, totalOf } from '../js/api.js';
import { dateTime } from '../js/format.js';
import { dataTable, pager, pageHeader } from '../js/ui.js';

const LIMIT = 50;

export async function render(root) {
  const state = { action: '', offset: 0 };
  const action = h('input', { name: 'action', placeholder: 'upstream.create' });
  const form = h('form.form-inline', { role: 'search' }, field(t('audit.action'), action), h('button.btn.btn-primary', { type: 'submit' }, t('common.filter')));
  form.addEventListener('submit', (e) => { e.preventDefault(); state.action = action.value.trim(); state.offset = 0; load(); });
  const slot = h('div');
  const detail = (r) => h('div.grid-2',
    h('div', h('h4', t('audit.before')), h('pre.json', JSON.stringify(r.before ?? null, null, 2))),
    h('div', h('h4', t('audit.after')), h('pre.json', JSON.stringify(r.after ?? null, null, 2))));
  async function load() {
    try {
      const body = await api.get('/api/admin/audit', { action: state.action, limit: LIMIT, offset: state.offset });
      const rows = listOf(body);
      clear(slot).append(dataTable([
        { key: 'ts', label: t('logs.time'), render: (r) => dateTime(r.ts) },
        { key: 'admin', label: t('audit.admin'), render: (r) => r.admin_name || h('code.small', r.admin_id) },
        { key: 'action', label: t('audit.action'), render: (r) => h('code', r.action) },
        { key: 'target', label: t('audit.target'), render: (r) => h('code.small', r.target) },
      ], rows, { expand: detail, caption: t('nav.audit') }),
      pager({ offset: state.offset, limit: LIMIT, total: totalOf(body), count: rows.length }, (o) => { state.offset = o; load(); }));
    } catch (ex) { clear(slot).append(errorBox(ex)); }
  }
  root.append(pageHeader(t('nav.audit'), t('audit.subtitle')), h('section.card', form), h('section.card.flush', slot));
  await load();
}
