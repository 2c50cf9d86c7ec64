// Usage logs: paged, filtered request log; each row expands to its cost breakdown; CSV export.
import { h, field, clear, errorBox, download, toast } from '../js/dom.js';
import { t } from '../js/i18n.js';
import { api, listOf, totalOf } from '../js/api.js';
import { money, moneyOf, moneyValue, num, dateTime, ms, localInputToIso, csvCell, setCurrency } from '../js/format.js';
import { dataTable, pager, pageHeader } from '../js/ui.js';

const KINDS = ['input', 'output', 'cache_write_5m', 'cache_write_1h', 'cache_read'];
const LIMIT = 50;
const EXPORT_CAP = 20000;

function priceOf(row, kind) {
  const d = row.prices_display && row.prices_display[kind];
  if (d !== undefined) return moneyValue(d);
  const m = row.prices && row.prices[kind];
  return m === undefined ? null : Number(m) / 1e6;
}

function multiplierOf(row) {
  if (row.multiplier !== undefined) return Number(row.multiplier);
  if (row.multiplier_ppm !== undefined) return Number(row.multiplier_ppm) / 1e6;
  return 1;
}

/** The breakdown: tokens × price per million (× group multiplier) = charge, per kind. */
export function breakdown(row) {
  const tokens = row.tokens || {};
  const mult = multiplierOf(row);
  const lines = KINDS.map((k) => {
    const n = Number(tokens[k]) || 0;
    const price = priceOf(row, k);
    const charge = price === null ? null : (n * price * mult) / 1e6;
    return { kind: k, tokens: n, price, charge };
  });
  return { lines, mult, total: moneyOf(row, 'cost') };
}

/** A cut stream billed on an estimate: what the note says, or null for reported usage. */
export function estimateNote(row) {
  if (!row.estimated) return null;
  const method = row.estimate_method || '';
  const how = t('logs.estimate.' + method);
  return t('logs.estimateNote', { method: how === 'logs.estimate.' + method ? method : how });
}

/** Detail lines for what the vendor bills beyond tokens (shown only when reported). */
function extrasView(row) {
  const out = [];
  if (row.service_tier) out.push(h('dt', t('logs.serviceTier')), h('dd', h('code', row.service_tier)));
  if (row.web_search_requests) out.push(h('dt', t('logs.webSearches')), h('dd', num(row.web_search_requests)));
  if (row.speed) out.push(h('dt', t('logs.speed')), h('dd', h('code', row.speed)));
  return out;
}

// What the vendor bills beyond tokens at the rule's base prices: one line each (cost_parts).
const EXTRA_PARTS = ['long_context', 'service_tier', 'speed', 'web_search'];

export function extraLines(row) {
  const parts = row.cost_parts_display || {};
  const pricing = row.pricing || {};
  return EXTRA_PARTS.filter((k) => parts[k] !== undefined).map((k) => ({
    kind: k, charge: moneyValue(parts[k]),
    count: k === 'web_search' ? (pricing.web_search_requests ?? null) : null,
    note: k === 'long_context' ? `> ${num(pricing.tier || 0)}` : (k === 'service_tier' || k === 'speed') ? (pricing.variant || '') : '',
  }));
}

function breakdownView(row) {
  const b = breakdown(row);
  const note = estimateNote(row);
  const shown = b.lines.filter((l) => l.tokens > 0 || ['input', 'output'].includes(l.kind));
  return h('div.breakdown',
    note ? h('p.alert.alert-warn.estimate-note', h('span.badge.badge-warn', t('logs.estimated')), ' ', note) : null,
    h('table.data.compact', { 'aria-label': t('logs.breakdown') },
      h('thead', h('tr', h('th', t('logs.kind')), h('th.num', t('logs.tokens')), h('th.num', t('logs.pricePerM')),
        h('th.num', t('logs.charge')))),
      h('tbody', shown.map((l) => h('tr',
        h('td', t('tokens.' + l.kind)), h('td.num', num(l.tokens)),
        h('td.num', l.price === null ? '—' : money(l.price) + (b.mult !== 1 ? ` × ${b.mult}` : '')),
        h('td.num', l.charge === null ? '—' : money(l.charge)))),
      extraLines(row).map((l) => h('tr.breakdown-extra',
        h('td', t('logs.part.' + l.kind) + (l.note ? ` (${l.note})` : '')), h('td.num', l.count === null ? '' : num(l.count)),
        h('td.num', ''), h('td.num', money(l.charge))))),
      h('tfoot', h('tr', h('th', { colspan: '3' }, t('logs.total')), h('th.num.breakdown-total', money(b.total))))),
    h('dl.kv',
      h('dt', t('logs.requestId')), h('dd', h('code', row.id || row.request_id || '—')),
      h('dt', t('logs.priceRule')), h('dd', h('code', row.price_rule || '—'),
        (row.pricing && row.pricing.base_model) ? h('span.muted', ' · ' + t('logs.baseModel', { model: row.pricing.base_model })) : null),
      h('dt', t('keys.group')), h('dd', `${row.group || '—'} (×${b.mult})`),
      (row.tokens && row.tokens.reasoning) ? [h('dt', t('tokens.reasoning')), h('dd', num(row.tokens.reasoning) + ' ' + t('logs.reasoningNote'))] : null,
      h('dt', t('logs.endpoint')), h('dd', `${row.endpoint || '—'}${row.stream ? ' · stream' : ''}`),
      h('dt', t('logs.ttft')), h('dd', ms(row.ttft_ms)),
      row.upstream_request_id ? [h('dt', t('logs.upstreamId')), h('dd', h('code', row.upstream_request_id))] : null,
      extrasView(row)),
    h('p.muted.small', t('logs.roundingNote')));
}

export function toCsv(rows) {
  const head = ['time', 'request_id', 'key', 'model', 'group', 'status', 'outcome', ...KINDS, 'reasoning',
    ...KINDS.map((k) => 'price_' + k), 'multiplier', 'cost', 'latency_ms',
    'estimated', 'estimate_method', 'service_tier', 'web_search_requests', 'speed'];
  const lines = [head.join(',')];
  for (const r of rows) {
    const tk = r.tokens || {};
    lines.push([r.ts, r.id, r.key_name || r.key_id, r.model, r.group, r.status, r.outcome,
      ...KINDS.map((k) => tk[k] || 0), tk.reasoning || 0,
      ...KINDS.map((k) => (priceOf(r, k) ?? '')), multiplierOf(r), r.cost_display ?? moneyOf(r, 'cost'), r.latency_ms ?? '',
      r.estimated ? 'true' : 'false', r.estimate_method || '', r.service_tier || '', r.web_search_requests || 0, r.speed || '']
      .map(csvCell).join(','));
  }
  return '\ufeff' + lines.join('\r\n') + '\r\n';
}

export async function render(root, ctx) {
  const keys = listOf(await api.get('/api/user/keys'));
  const q = ctx.query;
  const state = { offset: Number(q.get('offset')) || 0, key: q.get('key') || '', model: q.get('model') || '', from: q.get('from') || '', to: q.get('to') || '' };
  const keySel = h('select', { name: 'key' }, h('option', { value: '' }, t('logs.allKeys')),
    keys.map((k) => h('option', { value: k.id, selected: k.id === state.key }, `${k.name} (${k.prefix || ''})`)));
  const model = h('input', { name: 'model', value: state.model, placeholder: 'claude-sonnet-4-5' });
  const from = h('input', { name: 'from', type: 'datetime-local', value: state.from });
  const to = h('input', { name: 'to', type: 'datetime-local', value: state.to });
  const slot = h('div');
  const exportBtn = h('button.btn#export-csv', { type: 'button' }, t('logs.export'));
  const form = h('form.filters', { role: 'search' },
    field(t('logs.key'), keySel), field(t('logs.model'), model), field(t('logs.from'), from), field(t('logs.to'), to),
    h('div.filter-actions', h('button.btn.btn-primary', { type: 'submit' }, t('common.filter')),
      h('button.btn', { type: 'button', onclick: () => { keySel.value = ''; model.value = ''; from.value = ''; to.value = ''; apply(0); } }, t('common.reset'))));

  const params = (offset, limit) => ({ limit, offset, key: state.key, model: state.model,
    from: localInputToIso(state.from), to: localInputToIso(state.to) });

  function apply(offset) {
    Object.assign(state, { offset, key: keySel.value, model: model.value.trim(), from: from.value, to: to.value });
    const sp = new URLSearchParams();
    for (const k of ['key', 'model', 'from', 'to']) if (state[k]) sp.set(k, state[k]);
    if (offset) sp.set('offset', String(offset));
    history.replaceState(null, '', '/logs' + (sp.toString() ? '?' + sp : ''));
    load();
  }
  form.addEventListener('submit', (e) => { e.preventDefault(); apply(0); });

  async function load() {
    clear(slot).append(h('div.loading', t('common.loading')));
    try {
      const body = await api.get('/api/user/logs', params(state.offset, LIMIT));
      if (body && body.currency) setCurrency(body.currency);
      const rows = listOf(body);
      const cols = [
        { key: 'ts', label: t('logs.time'), render: (r) => dateTime(r.ts) },
        { key: 'key', label: t('logs.key'), render: (r) => r.key_name || r.key_id },
        { key: 'model', label: t('logs.model'), render: (r) => h('code', r.model) },
        { key: 'in', label: t('logs.inOut'), align: 'right', render: (r) => `${num((r.tokens || {}).input || 0)} / ${num((r.tokens || {}).output || 0)}` },
        { key: 'cache', label: t('logs.cache'), align: 'right', render: (r) => {
          const tk = r.tokens || {};
          return `${num(tk.cache_read || 0)} / ${num((tk.cache_write_5m || 0) + (tk.cache_write_1h || 0))}`;
        } },
        { key: 'cost', label: t('logs.cost'), align: 'right', render: (r) => [
          r.estimated ? h('span.badge.badge-warn.estimated', { title: estimateNote(r) }, t('logs.estimated')) : null,
          h('strong', money(moneyOf(r, 'cost')))] },
        { key: 'status', label: t('common.status'), render: (r) => h('span.badge', { class: (r.status || 200) < 400 ? 'badge-ok' : 'badge-bad' }, String(r.status ?? '—')) },
        { key: 'latency', label: t('logs.latency'), align: 'right', render: (r) => ms(r.latency_ms) },
      ];
      clear(slot).append(
        dataTable(cols, rows, { expand: breakdownView, caption: t('nav.logs'), empty: t('logs.empty'), rowKey: (r) => r.id }),
        // total_exact false (a model filter matching very many rows): the total is a lower bound.
        pager({ offset: state.offset, limit: LIMIT, total: body && body.total_exact === false ? undefined : totalOf(body),
          count: rows.length }, (o) => apply(o)));
    } catch (err) {
      clear(slot).append(errorBox(err));
    }
  }

  exportBtn.addEventListener('click', async () => {
    exportBtn.disabled = true;
    try {
      // Keyset pages (before = the previous page's next_cursor): each costs the same at any depth.
      const all = [];
      let before = null;
      while (all.length < EXPORT_CAP) {
        const body = await api.get('/api/user/logs', { ...params(0, 500), before });
        const page = listOf(body);
        all.push(...page);
        before = body && body.next_cursor;
        if (!before || page.length < 500) break;
      }
      download(`usage-${new Date().toISOString().slice(0, 10)}.csv`, toCsv(all));
      toast(t('logs.exported', { n: all.length }), 'success');
    } catch (err) { toast(err.message, 'error'); } finally { exportBtn.disabled = false; }
  });

  root.append(pageHeader(t('nav.logs'), t('logs.subtitle'), exportBtn), h('section.card', form), h('section.card.flush', slot));
  await load();
}
