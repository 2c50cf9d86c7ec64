// Overview: balance, spend and requests today / 7d / 30d, daily charts, spend by model and key.
import { h, errorBox } from '../js/dom.js';
import { t } from '../js/i18n.js';
import { api, listOf } from '../js/api.js';
import { money, moneyOf, compact, num, setCurrency, parseTime } from '../js/format.js';
import { statCard, card, pageHeader } from '../js/ui.js';
import { timeChart, barList, PALETTE } from '../js/charts.js';

const KINDS = ['input', 'output', 'cache_write_5m', 'cache_write_1h', 'cache_read'];

function sumTokens(tokens) {
  return KINDS.reduce((a, k) => a + (Number((tokens || {})[k]) || 0), 0);
}

/** The chart series from the stats' `daily` (30 UTC days, oldest first, zero-filled by the API). */
function dailySeries(stats) {
  const days = listOf(stats.daily);
  const x = days.map((d) => Math.floor((parseTime(d.date + 'T00:00:00Z') || new Date()).getTime() / 1000));
  const cost = days.map((d) => moneyOf(d, 'cost') || 0);
  const requests = days.map((d) => Number(d.requests) || 0);
  const tokens = Object.fromEntries(KINDS.map((k) => [k, days.map((d) => Number((d.tokens || {})[k]) || 0)]));
  return { x, cost, requests, tokens };
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
  root.append(h('div.grid-2',
    card(t('overview.dailySpend'), spendChart),
    card(t('overview.dailyTokens'), tokenChart)));

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
      const s = dailySeries(stats);
      if (!ctx.isCurrent()) return;
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
