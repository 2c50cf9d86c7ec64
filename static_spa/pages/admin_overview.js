// Operator: system overview — traffic now, revenue vs upstream cost for two weeks, top lists.
import { h, errorBox, toast } from '../js/dom.js';
import { t } from '../js/i18n.js';
import { api, listOf } from '../js/api.js';
import { money, moneyOf, fromMicro, num, pct, compact, parseTime, dateTime, duration } from '../js/format.js';
import { statCard, card, pageHeader, dataTable, statusBadge } from '../js/ui.js';
import { timeChart, PALETTE } from '../js/charts.js';

export async function render(root, ctx) {
  const o = await api.get('/api/admin/overview');
  const today = o.today || {};
  const accounts = o.accounts || {};
  const cleanups = [];
  root.append(pageHeader(t('nav.adminOverview'), t('adminOverview.subtitle'),
    h('a.btn', { href: '/admin/recharges' }, t('nav.approvals'), o.pending_recharges ? h('span.badge.badge-warn', { style: { marginLeft: '6px' } }, String(o.pending_recharges)) : null)),
  h('div.stats-grid',
    statCard(t('adminOverview.rpm'), num(o.requests_per_minute ?? 0), t('adminOverview.last5m')),
    statCard(t('adminOverview.errorRate'), pct(o.error_rate ?? 0), t('adminOverview.last5m'), (o.error_rate || 0) > 0.05 ? 'bad' : null),
    statCard(t('adminOverview.active'), num(o.active_streams ?? 0)),
    statCard(t('adminOverview.revenueToday'), money(moneyOf(today, 'revenue') ?? 0), `${t('adminOverview.upstreamCost')} ${money(moneyOf(today, 'upstream_cost') ?? 0)}`, 'primary'),
    statCard(t('adminOverview.marginToday'), money(moneyOf(today, 'margin') ?? 0), `${num(today.requests ?? 0)} ${t('overview.requestsUnit')} · ${num(today.errors ?? 0)} ${t('adminOverview.errors')}`),
    statCard(t('nav.pools'), h('span', h('span.ok', num(accounts.healthy || 0)), ' / ', h('span.warn', num(accounts.cooling || 0)), ' / ', h('span.bad', num(accounts.disabled || 0))), t('adminOverview.poolLegend')),
    statCard(t('adminOverview.pending'), h('a', { href: '/admin/recharges' }, num(o.pending_recharges ?? 0)))));

  const days = listOf(o.days);
  const money14 = h('div.chart', { role: 'img', 'aria-label': t('adminOverview.revenueChart') });
  const req14 = h('div.chart', { role: 'img', 'aria-label': t('adminOverview.requestsChart') });
  root.append(h('div.grid-2', card(t('adminOverview.revenueChart'), money14), card(t('adminOverview.requestsChart'), req14)));

  const top = o.top || {};
  const topTable = (rows) => dataTable([
    { key: 'name', label: t('adminOverview.name'), render: (r) => h('span.cell-name', { title: r.name }, r.name) },
    { key: 'requests', label: t('overview.requests'), align: 'right', render: (r) => num(r.requests) + (r.errors ? ` (${num(r.errors)}✕)` : '') },
    { key: 'tokens', label: t('overview.tokens'), align: 'right', render: (r) => compact(r.tokens) },
    { key: 'cost', label: t('adminOverview.revenue'), align: 'right', render: (r) => money(moneyOf(r, 'cost')) },
  ], listOf(rows), { compact: true });
  root.append(h('div.grid-3',
    card(t('adminOverview.topUsers'), topTable(top.users)),
    card(t('adminOverview.topModels'), topTable(top.models)),
    card(t('adminOverview.topAccounts'), topTable(top.accounts))));
  const jobs = listOf(o.jobs);
  if (jobs.length) {
    root.append(card(t('adminOverview.jobs'), dataTable([
      { key: 'name', label: t('adminOverview.name'), render: (j) => h('code', j.name || j.id) },
      { key: 'interval', label: t('adminOverview.interval'), align: 'right', render: (j) => (j.interval ? duration(j.interval) : '—') },
      { key: 'runs', label: t('adminOverview.runs'), align: 'right', render: (j) => `${num(j.runs ?? 0)} / ${num(j.failures ?? 0)} / ${num(j.skipped ?? 0)}` },
      { key: 'last', label: t('adminOverview.lastRun'), render: (j) => dateTime(j.last_run) },
      { key: 'err', label: t('adminOverview.lastError'), render: (j) => (j.last_error ? h('span.neg', j.last_error) : statusBadge('healthy')) },
    ], jobs, { compact: true })));
  }

  root.append(await setAsideBlock());

  setTimeout(async () => {
    try {
      const x = days.map((d) => Math.floor((parseTime(d.date + 'T00:00:00Z') || new Date()).getTime() / 1000));
      cleanups.push(await timeChart(money14, { x, height: 240, yFmt: (v) => money(v), series: [
        { label: t('adminOverview.revenue'), data: days.map((d) => moneyOf(d, 'revenue') || 0), color: PALETTE[0], bars: true, fmt: (v) => money(v) },
        { label: t('adminOverview.upstreamCost'), data: days.map((d) => moneyOf(d, 'upstream_cost') || 0), color: PALETTE[2], fmt: (v) => money(v) },
        { label: t('adminOverview.margin'), data: days.map((d) => moneyOf(d, 'margin') || 0), color: PALETTE[1], fmt: (v) => money(v) },
      ] }));
      cleanups.push(await timeChart(req14, { x, height: 240, yFmt: compact, series: [
        { label: t('overview.requests'), data: days.map((d) => d.requests || 0), color: PALETTE[0], fmt: num },
        { label: t('adminOverview.errors'), data: days.map((d) => d.errors || 0), color: PALETTE[6], fmt: num },
      ] }));
    } catch (err) { if (ctx.isCurrent()) money14.append(errorBox(err)); }
  }, 0);
  return () => cleanups.forEach((fn) => fn());
}

// Usage records the database refused (kept durably on this machine), with a re-drive button.
// Shown only when there are some: an empty span otherwise.
async function setAsideBlock() {
  const box = h('div.set-aside');
  const load = async () => {
    const res = await api.get('/api/admin/usage/set-aside');
    box.replaceChildren();
    if (!res.total) return;
    const button = h('button.btn', { type: 'button', 'data-action': 'redrive' }, t('adminOverview.redrive'));
    button.addEventListener('click', async () => {
      button.disabled = true;
      try {
        const r = await api.post('/api/admin/usage/set-aside/redrive');
        toast(t('adminOverview.redriven', { written: r.written, failed: r.failed }), r.failed ? 'error' : 'success');
        await load();
      } catch (ex) { toast(ex.message, 'error'); button.disabled = false; }
    });
    box.append(card(`${t('adminOverview.setAside')} (${num(res.total)})`,
      h('p.muted', t('adminOverview.setAsideHelp')), button,
      dataTable([
        { key: 'request_id', label: t('adminOverview.request'), render: (r) => h('code', r.request_id) },
        { key: 'ts', label: t('adminOverview.time'), render: (r) => dateTime(r.ts) },
        { key: 'model', label: t('adminOverview.name'), render: (r) => `${r.key_name || r.user_id} · ${r.model}` },
        { key: 'cost', label: t('adminOverview.cost'), align: 'right', render: (r) => money(fromMicro(r.cost ?? 0)) },
        { key: 'error', label: t('adminOverview.error'), render: (r) => h('span.neg', r.error) },
      ], listOf(res.data), { compact: true })));
  };
  try { await load(); } catch (ex) { box.append(errorBox(ex)); }
  return box;
}
