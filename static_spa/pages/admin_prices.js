// Operator: price rules per million tokens — edit inline in a dialog, add, delete.
import { h, field, modal, confirmDialog, errorBox, toast, clear, onSubmit } from '../js/dom.js';
import { t } from '../js/i18n.js';
import { api, listOf } from '../js/api.js';
import { money, moneyValue, dateTime } from '../js/format.js';
import { dataTable, pageHeader, statusBadge } from '../js/ui.js';

const KINDS = ['input', 'output', 'cache_write_5m', 'cache_write_1h', 'cache_read'];

function priceForm(rule, close) {
  const r = rule || {};
  const inputs = {};
  const pattern = h('input', { name: 'pattern', required: true, value: r.pattern || '', placeholder: 'claude-sonnet-4*' });
  for (const k of KINDS) {
    inputs[k] = h('input', { name: k, inputmode: 'decimal', value: r[k] ?? '', placeholder: k === 'input' || k === 'output' ? '' : t('prices.derived') });
  }
  const note = h('input', { name: 'note', value: r.note || '' });
  const placeholder = h('input', { type: 'checkbox', name: 'placeholder', checked: !!r.placeholder });
  const err = h('div.span-2');
  const submit = h('button.btn.btn-primary', { type: 'submit' }, t('common.save'));
  const form = h('form.form-grid.two-col', { novalidate: true },
    h('div.span-2', field(t('prices.pattern'), pattern, t('prices.patternHint'))),
    KINDS.map((k) => field(t('tokens.' + k) + ' / 1M', inputs[k])),
    field(t('prices.note'), note),
    h('label.check.span-2', placeholder, ' ' + t('prices.placeholderLabel')), err,
    h('div.actions.span-2', h('button.btn', { type: 'button', onclick: () => close() }, t('common.cancel')), submit));
  onSubmit(form, submit, err, async () => {
    const body = { pattern: pattern.value.trim(), note: note.value.trim(), placeholder: placeholder.checked };
    for (const k of KINDS) {
      const v = inputs[k].value.trim();
      // On edit only changed prices are sent (the others keep their stored values).
      if (v !== '' && (!rule || v !== String(r[k] ?? ''))) body[k] = v;
    }
    close(rule ? await api.patch(`/api/admin/prices/${encodeURIComponent(r.id)}`, body) : await api.post('/api/admin/prices', body));
  });
  return form;
}

function groupForm(group, close) {
  const g = group || {};
  const name = h('input', { name: 'name', required: true, value: g.name || '', disabled: !!group, placeholder: 'claude-pro' });
  const protocol = h('select', { name: 'protocol' }, ['anthropic', 'openai'].map((p) => h('option', { value: p, selected: g.protocol === p }, p)));
  const multiplier = h('input', { name: 'multiplier', inputmode: 'decimal', value: g.multiplier ?? '1' });
  const description = h('input', { name: 'description', value: g.description || '' });
  const err = h('div');
  const submit = h('button.btn.btn-primary', { type: 'submit' }, t('common.save'));
  const form = h('form.form-grid', { novalidate: true }, field(t('groups.name'), name, group ? t('groups.nameFixed') : null),
    field(t('pools.protocol'), protocol), field(t('groups.multiplier'), multiplier, t('groups.multiplierHint')),
    field(t('groups.description'), description), err,
    h('div.actions', h('button.btn', { type: 'button', onclick: () => close() }, t('common.cancel')), submit));
  onSubmit(form, submit, err, async () => {
    const body = { protocol: protocol.value, multiplier: multiplier.value.trim(), description: description.value.trim() };
    close(group ? await api.patch(`/api/admin/groups/${encodeURIComponent(g.name)}`, body)
      : await api.post('/api/admin/groups', { name: name.value.trim(), ...body }));
  });
  return form;
}

async function groupsCard() {
  const slot = h('div');
  async function edit(group) {
    const saved = await modal(group ? t('groups.editTitle', { name: group.name }) : t('groups.addTitle'), (close) => groupForm(group, close));
    if (saved) { toast(t('common.saved'), 'success'); await load(); }
  }
  async function load() {
    try {
      const rows = listOf(await api.get('/api/admin/groups'));
      clear(slot).append(dataTable([
        { key: 'name', label: t('groups.name'), render: (g) => h('code', g.name) },
        { key: 'protocol', label: t('pools.protocol') },
        { key: 'multiplier', label: t('groups.multiplier'), align: 'right', render: (g) => '×' + (g.multiplier ?? '1') },
        { key: 'description', label: t('groups.description') },
        { key: 'accounts', label: t('nav.pools'), render: (g) => (listOf(g.accounts).length
          ? listOf(g.accounts).map((a) => h('span', { style: { marginRight: '6px' } }, a.name, ' ', statusBadge(a.enabled === false ? 'disabled' : a.status)))
          : h('span.neg', t('groups.noAccounts'))) },
        { key: 'actions', label: t('common.actions'), render: (g) => h('button.btn.btn-sm', { type: 'button', 'aria-label': t('common.edit') + ' ' + g.name, onclick: () => edit(g) }, t('common.edit')) },
      ], rows, { caption: t('groups.title') }));
    } catch (ex) { clear(slot).append(errorBox(ex)); }
  }
  await load();
  return h('section.card.flush', h('div.card-head.pad', h('h2.card-title', t('groups.title')),
    h('button.btn.btn-sm', { type: 'button', onclick: () => edit(null) }, '+ ' + t('groups.add'))),
  h('p.muted.small.pad', t('groups.subtitle')), slot);
}

export async function render(root) {
  const slot = h('div');
  async function edit(rule) {
    const saved = await modal(rule ? t('prices.editTitle', { pattern: rule.pattern }) : t('prices.addTitle'), (close) => priceForm(rule, close), { wide: true });
    if (saved) { toast(t('common.saved'), 'success'); await load(); }
  }
  async function remove(rule) {
    if (!(await confirmDialog(t('prices.confirmDelete', { pattern: rule.pattern }), { danger: true, okText: t('common.delete') }))) return;
    try { await api.del(`/api/admin/prices/${encodeURIComponent(rule.id)}`); toast(t('common.deleted'), 'success'); await load(); } catch (ex) { toast(ex.message, 'error'); }
  }
  async function load() {
    try {
      const rows = listOf(await api.get('/api/admin/prices'));
      clear(slot).append(dataTable([
        { key: 'pattern', label: t('prices.pattern'), render: (r) => h('div', h('code', r.pattern),
          r.placeholder ? h('span.badge.badge-warn', t('pricing.placeholder')) : null, r.note ? h('div.muted.small', r.note) : null) },
        ...KINDS.map((k) => ({ key: k, label: t('tokens.' + k), align: 'right', render: (r) => money(moneyValue(r[k])) })),
        { key: 'updated_at', label: t('prices.updated'), render: (r) => dateTime(r.updated_at) },
        { key: 'actions', label: t('common.actions'), render: (r) => h('div.row-actions',
          h('button.btn.btn-sm', { type: 'button', 'aria-label': t('common.edit') + ' ' + r.pattern, onclick: () => edit(r) }, t('common.edit')),
          h('button.btn.btn-sm.btn-danger-ghost', { type: 'button', 'aria-label': t('common.delete') + ' ' + r.pattern, onclick: () => remove(r) }, t('common.delete'))) },
      ], rows, { caption: t('nav.prices'), rowKey: (r) => r.pattern }));
    } catch (ex) { clear(slot).append(errorBox(ex)); }
  }
  root.append(pageHeader(t('nav.prices'), t('prices.subtitle'), h('button.btn.btn-primary', { type: 'button', onclick: () => edit(null) }, '+ ' + t('prices.add'))),
    h('section.card.flush', slot), h('p.muted.small', t('pricing.cacheNote')), await groupsCard());
  await load();
}
