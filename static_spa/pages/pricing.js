// Pricing: every price rule per million tokens, and per group with its multiplier.
import { h, field } from '../js/dom.js';
import { t } from '../js/i18n.js';
import { api, listOf } from '../js/api.js';
import { money, moneyValue, setCurrency, getCurrency } from '../js/format.js';
import { dataTable, pageHeader } from '../js/ui.js';

const KINDS = ['input', 'output', 'cache_write_5m', 'cache_write_1h', 'cache_read'];

// Long-context tiers, service-tier/speed prices and web search, under the chosen group.
function extrasOf(r, g) {
  const of = g ? ((r.groups || []).find((x) => x.group === g) || {}) : r;
  const bits = (of.tiers || []).map((x) => `${t('pricing.aboveTier', { n: x.above })}: ${money(moneyValue(x.prices.input))} / ${money(moneyValue(x.prices.output))}`);
  for (const v of of.variants || []) bits.push(`${Object.values(v.when || {}).join(',')}: ${money(moneyValue(v.prices.input))} / ${money(moneyValue(v.prices.output))}`);
  const ws = (of.prices || {}).web_search;
  if (ws && moneyValue(ws) > 0) bits.push(t('pricing.webSearch', { price: money(moneyValue(ws)) }));
  return bits.length ? h('div.muted.small', bits.join(' · ')) : null;
}

export async function render(root) {
  const body = await api.get('/api/user/pricing');
  if (body.currency) setCurrency(body.currency);
  const groups = listOf(body.groups);
  const rules = listOf(body);
  const sel = h('select', { name: 'group' }, h('option', { value: '' }, t('pricing.base')),
    groups.map((g) => h('option', { value: g.name }, `${g.name} (×${g.multiplier ?? 1})`)));
  const slot = h('div');
  const draw = () => {
    const g = sel.value;
    const pricesOf = (r) => (g ? ((r.groups || []).find((x) => x.group === g) || {}).prices : r.prices) || {};
    const cols = [
      { key: 'pattern', label: t('pricing.model'), render: (r) => h('div', h('code', r.pattern),
        r.operator_changed ? h('span.badge.badge-ok', t('pricing.operatorChanged')) : null,
        r.placeholder ? h('span.badge.badge-warn', { title: t('pricing.placeholderHint') }, t('pricing.placeholder')) : null,
        r.note ? h('div.muted.small', r.note) : null, extrasOf(r, g)) },
      ...KINDS.map((k) => ({ key: k, label: t('tokens.' + k), align: 'right', render: (r) => money(moneyValue(pricesOf(r)[k])) })),
    ];
    // A catalogue entry beaten by an operator rule is not what anyone is charged: left out.
    slot.replaceChildren(dataTable(cols, rules.filter((r) => !r.overridden_by), { caption: t('nav.pricing'), rowKey: (r) => `${r.source}:${r.pattern}` }));
  };
  sel.addEventListener('change', draw);
  root.append(pageHeader(t('nav.pricing'), t('pricing.subtitle', { currency: getCurrency() })),
    body.catalogue && body.catalogue.version ? h('p.muted.small#catalogue-version', t('pricing.catalogueVersion', { version: body.catalogue.version })) : null,
    groups.length ? h('section.card', h('div.form-inline', field(t('keys.group'), sel)),
      h('ul.group-list', groups.map((g) => h('li', h('strong', g.name), ` — ${g.protocol || ''} ×${g.multiplier ?? 1}`, g.description ? h('span.muted', ' · ' + g.description) : null)))) : null,
    h('section.card.flush', slot), h('p.muted.small', t('pricing.cacheNote')));
  draw();
}
