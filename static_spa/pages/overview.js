// Overview: balance, spend and requests today / 7d / 30d, daily charts, spend by model and key.
import { h, errorBox } from '../js/dom.js';
import { t } from '../js/i18n.js';
import { api, listOf } from '../js/api.js';
import { money, moneyOf, compact, num, setCurrency, parseTime } from '../js/format.js';
import { statCard, card, pageHeader } from '../js/ui.js';
import { timeChart, barList, PALETTE } from '../js/charts.js';

const KINDS = ['input', 'output', 'cache_write_5m', 'cache_write_1h', 'cache_read'];
const DAY = 86400;

function sumTokens(tokens) {
  return KINDS.reduce((a, k) => a + (Number((tokens || {})[k]) || 0), 0);
}

/** Daily series: from the stats response if it has one, else aggregated from the request log. */
async function dailySeries(stats, days = 30) {
  const given = stats.daily || stats.by_day || stats.series;
  let rows = Array.isArray(given) ? given : null;
  const todayStart = Math.floor(Date.now() / 1000 / DAY) * DAY; // UTC days, like the API's periods
  const x = [];
  for (let i = days - 1; i >= 0; i--) x.push(todayStart - i * DAY);
  const cost = new Array(days).fill(0);
  const requests = new Array(days).fill(0);
  const tokens = Object.fromEntries(KINDS.map((k) => [k, new Array(days).fill(0)]));
  const add = (when, c, tk, n = 1) => {
    const d = parseTime(when);
    if (!d) return;
    const idx = days - 1 - Math.floor((todayStart - Math.floor(d.getTime() / 1000 / DAY) * DAY) / DAY);
    if (idx < 0 || idx >= days) return;
    cost[idx] += c;
    requests[idx] += n;
    for (const k of KINDS) tokens[k][idx] += Number((tk || {})[k]) || 0;
  };
  let truncated = false;
  if (rows) {
    for (const r of rows) add(r.date || r.day || r.ts, moneyOf(r, 'cost') || 0, r.tokens, Number(r.requests) || 0);
  } else {
    const from = new Date((todayStart - (days - 1) * DAY) * 1000).toISOString();
    const limit = 500;
    for (let offset = 0; offset < 4000; offset += limit) {
      const body = await api.get('/api/user/logs', { limit, offset, from });
      const page = listOf(body);
      for (const r of page) add(r.ts, moneyOf(r, 'cost') || 0, r.tokens, 1);
      if (page.length < limit) break;
      if (offset + limit >= 4000) truncated = true;
    }
  }
  return { x, cost, requests, tokens, truncated };
}

export async function render(root, ctx) {
  const stats = await api.get('/api/user/stats');
  if (stats.currency) setCurrency(stats.currency);
  const periods = stats.periods || {};
  const p = (name) => periods[name] || stats[name] || {};
  const cleanups = [];

  const balance = moneyOf(stats, 'balance') ?? moneyOf(ctx.user, 'balance');
  const periodCard = (name, label) => {
    const d = p(name);
    return statCard(label, money(moneyOf(d, 'cost') ?? 0),
      `${t('overview.requests')} ${num(d.requests || 0)} · ${t('overview.tokens')} ${compact(sumTokens(d.tokens))}`);
  };
  root.append(
    pageHeader(t('nav.overview'), t('overview.subtitle'),
      h('a.btn.btn-primary', { href: '/keys' }, t('keys.create')),
      h('a.btn', { href: '/recharge' }, t('nav.recharge'))),
    h('div.stats-grid',
      statCard(t('overview.balance'), money(balance), h('a', { href: '/transactions' }, t('nav.transactions')), 'primary'),
      periodCard('today', t('overview.today')),
      periodCard('7d', t('overview.last7')),
      periodCard('30d', t('overview.last30'))));

  const spendChart = h('div.chart', { role: 'img', 'aria-label': t('overview.dailySpend') });
  const tokenChart = h('div.chart', { role: 'img', 'aria-label': t('overview.dailyTokens') });
  const chartNote = h('p.muted.small');
  root.append(h('div.grid-2',
    card(t('overview.dailySpend'), spendChart),
    card(t('overview.dailyTokens'), tokenChart)), chartNote);

  const byModel = listOf(stats.by_model);
  const byKey = listOf(stats.by_key);
  const modelRows = byModel.map((r) => ({ label: r.model || '—', value: moneyOf(r, 'cost') || 0,
    sub: `${num(r.requests)} ${t('overview.requestsUnit')} · ${compact(sumTokens(r.tokens))} tokens` }));
  const keyRows = byKey.map((r) => ({ label: (r.key_name || r.key_id || '—') + (r.deleted ? ` (${t('keys.deleted')})` : ''),
    value: moneyOf(r, 'cost') || 0, sub: `${num(r.requests)} ${t('overview.requestsUnit')}` }));
  root.append(h('div.grid-2',
    card(t('overview.byModel'), modelRows.length ? barList(modelRows, { fmt: money }) : h('p.muted', t('overview.noUsage'))),
    card(t('overview.byKey'), keyRows.length ? barList(keyRows, { fmt: money, color: PALETTE[1] }) : h('p.muted', t('overview.noUsage')))));
  root.append(h('p.muted.small', t('overview.utcNote')));

  // Charts render after the page is attached (they need a width).
  setTimeout(async () => {
    try {
      const s = await dailySeries(stats);
      if (!ctx.isCurrent()) return;
      if (s.truncated) chartNote.textContent = t('overview.truncated');
      cleanups.push(await timeChart(spendChart, {
        x: s.x, height: 240, yFmt: (v) => money(v),
        y2Fmt: (v) => compact(v),
        series: [
          { label: t('overview.spend'), data: s.cost, bars: true, color: PALETTE[0], fmt: (v) => money(v) },
          { label: t('overview.requests'), data: s.requests, scale: 'y2', color: PALETTE[2], fmt: num },
        ],
      }));
      cleanups.push(await timeChart(tokenChart, {
        x: s.x, height: 240, yFmt: compact,
        series: KINDS.map((k, i) => ({ label: t('tokens.' + k), data: s.tokens[k], color: PALETTE[i], fmt: num })),
      }));
    } catch (err) {
      if (ctx.isCurrent()) spendChart.append(errorBox(err));
    }
  }, 0);
  return () => cleanups.forEach((fn) => fn());
}
