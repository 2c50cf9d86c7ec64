// Operator: price rules per million tokens — edit inline in a dialog, add, delete.
import { h, field, modal, confirmDialog, errorBox, toast, clear, onSubmit } from '../js/dom.js';
import { t } from '../js/i18n.js';
import { api, listOf } from '../js/api.js';
import { money, moneyValue, dateTime } from '../js/format.js';
import { dataTable, pageHeader, statusBadge } from '../js/ui.js';

const KINDS = ['input', 'output', 'cache_write_5m', 'cache_write_1h', 'cache_read'];

const CACHE = ['cache_write_5m', 'cache_write_1h', 'cache_read'];

// A cache price the operator never set follows the input price: shown as a placeholder, sent
// only when typed; clearing an explicit one sends null (follow the input again).
function priceForm(rule, close) {
  const r = rule || {};
  const catalogueRow = r.source === 'catalogue';
  const explicit = new Set(catalogueRow ? [] : (r.explicit || KINDS));
  const inputs = {};
  const pattern = h('input', { name: 'pattern', required: true, value: r.pattern || '', placeholder: 'claude-sonnet-4*', disabled: catalogueRow });
  for (const k of KINDS) {
    const shown = !CACHE.includes(k) || explicit.has(k);
    inputs[k] = h('input', { name: k, inputmode: 'decimal', value: shown ? (r[k] ?? '') : '',
      placeholder: CACHE.includes(k) ? (r[k] !== undefined ? `${r[k]} · ${t('prices.derived')}` : t('prices.derived')) : '' });
  }
  const webSearch = h('input', { name: 'web_search', inputmode: 'decimal', value: r.web_search ?? '' });
  const note = h('input', { name: 'note', value: catalogueRow ? '' : (r.note || '') });
  const placeholder = h('input', { type: 'checkbox', name: 'placeholder', checked: !!r.placeholder });
  const err = h('div.span-2');
  const submit = h('button.btn.btn-primary', { type: 'submit' }, t('common.save'));
  const form = h('form.form-grid.two-col', { novalidate: true },
    h('div.span-2', field(t('prices.pattern'), pattern, t('prices.patternHint'))),
    KINDS.map((k) => field(t('tokens.' + k) + ' / 1M', inputs[k])),
    field(t('prices.webSearch'), webSearch),
    field(t('prices.note'), note),
    h('label.check.span-2', placeholder, ' ' + t('prices.placeholderLabel')),
    h('p.muted.small.span-2', t('prices.operatorHint')), err,
    h('div.actions.span-2', h('button.btn', { type: 'button', onclick: () => close() }, t('common.cancel')), submit));
  onSubmit(form, submit, err, async () => {
    const body = { note: note.value.trim(), placeholder: placeholder.checked };
    if (!catalogueRow) body.pattern = pattern.value.trim();
    for (const k of KINDS) {
      const v = inputs[k].value.trim();
      const before = (!CACHE.includes(k) || explicit.has(k)) ? String(r[k] ?? '') : '';
      if (v !== '' && (!rule || v !== before)) body[k] = v;
      else if (v === '' && rule && !catalogueRow && CACHE.includes(k) && explicit.has(k)) body[k] = null;
    }
    const ws = webSearch.value.trim();
    if (ws !== '' && (!rule || ws !== String(r.web_search ?? ''))) body.web_search = ws;
    close(rule ? await api.patch(`/api/admin/prices/${encodeURIComponent(r.id)}`, body) : await api.post('/api/admin/prices', body));
  });
  return form;
}

function tierText(r) {
  const tiers = (r.tiers || []).map((x) => `> ${x.above}: ${money(moneyValue(x.input))} / ${money(moneyValue(x.output))}`);
  const variants = (r.variants || []).map((v) => `${Object.values(v.when || {}).join(',')}: ${money(moneyValue(v.input))} / ${money(moneyValue(v.output))}`);
  return [...tiers, ...variants].join(' · ');
}

async function catalogueCard(reload) {
  const box = h('section.card#price-catalogue');
  const c = await api.get('/api/admin/prices/catalogue');
  const diff = listOf(c.diff);
  const apply = async () => {
    if (!(await confirmDialog(t('prices.catalogueConfirm', { version: c.pending }), { okText: t('prices.catalogueApply', { version: c.pending }) }))) return;
    try {
      await api.post('/api/admin/prices/catalogue/apply', { version: c.pending });
      toast(t('prices.catalogueApplied', { version: c.pending }), 'success');
      await reload();
    } catch (ex) { toast(ex.message, 'error'); }
  };
  box.append(h('h2.card-title', t('prices.catalogue')), h('p', t('prices.catalogueActive', { version: c.active || '—' })));
  // Every model the pools offer and what prices it: flagged when only its base model has a price, or none.
  const served = listOf(c.served);
  if (served.length) {
    box.append(h('details#served-models', h('summary', t('prices.served', { n: served.length, flagged: served.filter((m) => !m.source || m.base_model).length })),
      dataTable([
        { key: 'model', label: t('pricing.model'), render: (m) => h('code', m.model) },
        { key: 'rule', label: t('prices.pricedBy'), render: (m) => (m.source ? h('span', h('code', m.rule), ' ',
          h('span.badge', { class: m.source === 'operator' ? 'badge-ok' : '' }, t(m.source === 'operator' ? 'prices.sourceOperator' : 'prices.sourceCatalogue')),
          m.base_model ? h('span.badge.badge-warn', t('prices.baseModel', { model: m.base_model })) : null)
          : h('span.badge.badge-bad', t('prices.unpriced'))) },
        { key: 'price', label: `${t('tokens.input')} / ${t('tokens.output')}`, align: 'right', render: (m) => (m.source ? `${money(moneyValue(m.input))} / ${money(moneyValue(m.output))}` : '—') },
      ], served, { caption: t('prices.pricedBy'), rowKey: (m) => m.model })));
  }
  if (c.pending) {
    box.append(h('p.warn', t('prices.cataloguePending', { version: c.pending, n: diff.length })),
      dataTable([
        { key: 'model', label: t('pricing.model'), render: (d) => h('code', d.model) },
        { key: 'change', label: t('prices.change'), render: (d) => `${d.change}${(d.fields || []).length ? ' (' + d.fields.join(', ') + ')' : ''}` },
        { key: 'before', label: t('prices.before'), render: (d) => (d.before ? `${money(d.before.input / 1e6)} / ${money(d.before.output / 1e6)}` : '—') },
        { key: 'after', label: t('prices.after'), render: (d) => (d.after ? `${money(d.after.input / 1e6)} / ${money(d.after.output / 1e6)}` : '—') },
      ], diff, { caption: t('prices.catalogue'), rowKey: (d) => d.model }),
      h('div.actions', h('button.btn.btn-primary#apply-catalogue', { type: 'button', onclick: apply }, t('prices.catalogueApply', { version: c.pending }))));
  }
  return box;
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
  const slot = h('div#price-rules');
  const catSlot = h('div');
  async function edit(rule) {
    const saved = await modal(rule ? t('prices.editTitle', { pattern: rule.pattern }) : t('prices.addTitle'), (close) => priceForm(rule, close), { wide: true });
    if (saved) { toast(t('common.saved'), 'success'); await load(); }
  }
  async function remove(rule) {
    if (!(await confirmDialog(t('prices.confirmDelete', { pattern: rule.pattern }), { danger: true, okText: t('common.delete') }))) return;
    try { await api.del(`/api/admin/prices/${encodeURIComponent(rule.id)}`); toast(t('common.deleted'), 'success'); await load(); } catch (ex) { toast(ex.message, 'error'); }
  }
  const search = h('input#price-filter', { type: 'search', name: 'q', placeholder: 'claude-opus / gpt-5.4', 'aria-label': t('prices.pattern') });
  let rows = [];
  search.addEventListener('input', () => draw());
  async function load() {
    try {
      clear(catSlot).append(await catalogueCard(load));
      rows = listOf(await api.get('/api/admin/prices'));
      draw();
    } catch (ex) { clear(slot).append(errorBox(ex)); }
  }
  function draw() {
    const q = search.value.trim().toLowerCase();
    const shown = q ? rows.filter((r) => r.pattern.toLowerCase().includes(q) || (r.note || '').toLowerCase().includes(q)) : rows;
    clear(slot).append(dataTable([
      { key: 'pattern', label: t('prices.pattern'), render: (r) => h('div', h('code', r.pattern),
        h('span.badge', { class: r.source === 'operator' ? 'badge-ok' : '' }, t(r.source === 'operator' ? 'prices.sourceOperator' : 'prices.sourceCatalogue')),
        r.review ? h('span.badge.badge-warn', { title: r.review }, t('prices.review')) : null,
        r.overridden_by ? h('span.badge.badge-warn', t('prices.overriddenBy', { pattern: r.overridden_by })) : null,
        r.placeholder ? h('span.badge.badge-warn', t('pricing.placeholder')) : null, r.note ? h('div.muted.small', r.note) : null) },
      ...KINDS.map((k) => ({ key: k, label: t('tokens.' + k), align: 'right', render: (r) => money(moneyValue(r[k])) })),
      { key: 'web_search', label: t('prices.webSearch'), align: 'right', render: (r) => money(moneyValue(r.web_search)) },
      { key: 'tiers', label: t('prices.tiers'), render: (r) => h('span.small', tierText(r)) },
      { key: 'updated_at', label: t('prices.updated'), render: (r) => (r.updated_at ? dateTime(r.updated_at) : (r.version || '')) },
      { key: 'actions', label: t('common.actions'), render: (r) => h('div.row-actions',
        h('button.btn.btn-sm', { type: 'button', 'aria-label': t('common.edit') + ' ' + r.pattern, onclick: () => edit(r) }, t('common.edit')),
        r.source === 'operator' ? h('button.btn.btn-sm.btn-danger-ghost', { type: 'button', 'aria-label': t('common.delete') + ' ' + r.pattern, onclick: () => remove(r) }, t('common.delete')) : null) },
    ], shown, { caption: t('nav.prices'), rowKey: (r) => r.id }));
  }
  root.append(pageHeader(t('nav.prices'), t('prices.subtitle'), h('button.btn.btn-primary', { type: 'button', onclick: () => edit(null) }, '+ ' + t('prices.add'))),
    catSlot, h('div.form-inline', search), h('section.card.flush', slot), h('p.muted.small', t('prices.operatorHint')), await groupsCard());
  await load();
}
