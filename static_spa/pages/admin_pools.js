// Operator: upstream pools — live health (colour, reason, cooldown countdown), latency and error
// numbers with sparklines sampled while the page is open, enable/disable, test now, add/edit.
import { h, field, modal, confirmDialog, showFieldError, errorBox, toast, clear } from '../js/dom.js';
import { t } from '../js/i18n.js';
import { api, listOf } from '../js/api.js';
import { money, moneyOf, num, pct, ms, duration, compact } from '../js/format.js';
import { pageHeader, statCard } from '../js/ui.js';
import { sparkline, PALETTE } from '../js/charts.js';

const POLL_MS = 10000;
const HISTORY = 60;
const history = new Map(); // account id -> [{latency, errorRate, requests}] sampled while open

async function loadGroups() {
  try {
    const groups = listOf(await api.get('/api/admin/groups'));
    if (groups.length) return groups;
  } catch (_) { /* fall back */ }
  return [{ name: 'claude', protocol: 'anthropic' }, { name: 'codex', protocol: 'openai' }];
}

function healthOf(a) {
  const live = a.live || {};
  const state = a.state || {};
  let status = live.status || state.status || 'healthy';
  if (a.enabled === false) status = 'disabled';
  return { status, reason: state.reason || live.last_error || '', until: Number(state.cooldown_until || live.cooldown_until || 0) };
}

function accountForm(groups, account, close) {
  const editing = !!account;
  const a = account || {};
  const name = h('input', { name: 'name', required: true, maxlength: '64', value: a.name || '' });
  const protocol = h('select', { name: 'protocol' },
    h('option', { value: 'anthropic', selected: a.protocol !== 'openai' }, 'anthropic (Claude /v1/messages)'),
    h('option', { value: 'openai', selected: a.protocol === 'openai' }, 'openai (Codex /v1/responses)'));
  const baseUrl = h('input', { name: 'base_url', type: 'url', required: true, value: a.base_url || '', placeholder: 'https://api.anthropic.com' });
  const apiKey = h('input', { name: 'api_key', type: 'password', autocomplete: 'new-password', required: !editing,
    placeholder: editing ? t('pools.keepKey', { masked: a.api_key_masked || '…' }) : 'sk-ant-…' });
  // Shown masked (user:***@host); sent back unchanged, the server keeps the stored password.
  const proxy = h('input', { name: 'proxy', value: a.proxy || '', placeholder: t('pools.proxyPlaceholder'), autocomplete: 'off' });
  const groupBoxes = groups.map((g) => h('label.check', h('input', { type: 'checkbox', name: 'groups', value: g.name,
    checked: (a.groups || []).includes(g.name) || (!editing && g.name === 'claude') }), ` ${g.name}`, g.protocol ? h('span.muted', ` (${g.protocol})`) : null));
  const weight = h('input', { name: 'weight', type: 'number', min: '1', max: '1000', value: String(a.weight ?? 1) });
  const priority = h('input', { name: 'priority', type: 'number', min: '-1000', max: '1000', value: String(a.priority ?? 0) });
  const maxConc = h('input', { name: 'max_concurrency', type: 'number', min: '0', value: String(a.max_concurrency ?? 0) });
  const models = h('input', { name: 'models', value: (a.models || []).join(', '), placeholder: t('pools.allModels') });
  const modelMap = h('textarea', { name: 'model_map', rows: '2', placeholder: '{"claude-x": "claude-y"}' });
  modelMap.value = a.model_map && Object.keys(a.model_map).length ? JSON.stringify(a.model_map) : '';
  const notes = h('textarea', { name: 'notes', rows: '2' });
  notes.value = a.notes || '';
  const enabled = h('input', { type: 'checkbox', name: 'enabled', checked: a.enabled !== false });
  const err = h('div');
  const submit = h('button.btn.btn-primary', { type: 'submit' }, editing ? t('common.save') : t('pools.add'));
  const form = h('form.form-grid.two-col', { novalidate: true },
    field(t('pools.name'), name), field(t('pools.protocol'), protocol),
    field(t('pools.baseUrl'), baseUrl, t('pools.baseUrlHint')),
    field(t('pools.apiKey'), apiKey, editing ? t('pools.writeOnly') : t('pools.writeOnlyNew')),
    field(t('pools.proxy'), proxy, t('pools.proxyHint')),
    h('fieldset.field.span-2', h('legend', t('pools.groups')), h('div.check-row', groupBoxes)),
    field(t('pools.weight'), weight), field(t('pools.priority'), priority, t('pools.priorityHint')),
    field(t('pools.maxConcurrency'), maxConc, t('pools.zeroUnlimited')), field(t('pools.models'), models, t('keys.modelsHint')),
    field(t('pools.modelMap'), modelMap, t('pools.modelMapHint')), field(t('pools.notes'), notes),
    h('label.check.span-2', enabled, ' ' + t('pools.enabled')),
    h('div.span-2', err),
    h('div.actions.span-2', h('button.btn', { type: 'button', onclick: () => close() }, t('common.cancel')), submit));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clear(err);
    showFieldError(form, null);
    let map = {};
    if (modelMap.value.trim()) {
      try { map = JSON.parse(modelMap.value); } catch (_) {
        showFieldError(form, { field: 'model_map', message: t('pools.badJson') });
        return;
      }
    }
    const body = {
      name: name.value.trim(), protocol: protocol.value, base_url: baseUrl.value.trim(),
      groups: groupBoxes.map((l) => l.querySelector('input')).filter((i) => i.checked).map((i) => i.value),
      weight: Number(weight.value || 1), priority: Number(priority.value || 0), max_concurrency: Number(maxConc.value || 0),
      models: models.value.split(/[\s,]+/).filter(Boolean), model_map: map, notes: notes.value, enabled: enabled.checked,
      proxy: proxy.value.trim(),
    };
    if (apiKey.value.trim()) body.api_key = apiKey.value.trim();
    submit.disabled = true;
    try {
      const res = editing
        ? await api.patch(`/api/admin/upstreams/${encodeURIComponent(a.id)}`, body)
        : await api.post('/api/admin/upstreams', body);
      close(res || true);
    } catch (ex) {
      if (!showFieldError(form, ex)) err.append(errorBox(ex));
    } finally { submit.disabled = false; }
  });
  return form;
}

export async function render(root, ctx) {
  const groups = await loadGroups();
  let accounts = listOf(await api.get('/api/admin/upstreams'));
  const grid = h('div.pool-grid', { 'aria-live': 'off' });
  const summary = h('div.stats-grid');
  const filterSel = h('select', { 'aria-label': t('pools.filterGroup') }, h('option', { value: '' }, t('pools.allGroups')),
    groups.map((g) => h('option', { value: g.name }, g.name)));
  filterSel.addEventListener('change', () => draw());
  const timers = [];

  function sample() {
    for (const a of accounts) {
      const s = (a.live || {}).stats_5m || {};
      const list = history.get(a.id) || [];
      list.push({ latency: s.latency_p50_ms ?? null, errorRate: s.error_rate ?? 0, requests: s.requests ?? 0 });
      while (list.length > HISTORY) list.shift();
      history.set(a.id, list);
    }
  }

  async function refresh() {
    try {
      accounts = listOf(await api.get('/api/admin/upstreams'));
      sample();
      draw();
    } catch (err) { if (err.status !== 401) toast(err.message, 'error'); }
  }

  async function act(a, action) {
    try {
      if (action === 'test') {
        toast(t('pools.testing', { name: a.name }), 'info', 1500);
        const r = await api.post(`/api/admin/upstreams/${encodeURIComponent(a.id)}/test`);
        const res = r.result || r;
        toast(res.ok ? t('pools.testOk', { name: a.name, ms: ms(res.latency_ms) })
          : t('pools.testFail', { name: a.name, error: res.error || res.status || '?' }), res.ok ? 'success' : 'error', 6000);
      } else if (action === 'enable' || action === 'disable') {
        try {
          await api.post(`/api/admin/upstreams/${encodeURIComponent(a.id)}/${action}`);
        } catch (err) {
          if (err.status !== 404 && err.status !== 405) throw err;
          await api.patch(`/api/admin/upstreams/${encodeURIComponent(a.id)}`, { enabled: action === 'enable' });
        }
        toast(t(action === 'enable' ? 'pools.enabledToast' : 'pools.disabledToast', { name: a.name }), 'success');
      } else if (action === 'delete') {
        if (!(await confirmDialog(t('pools.confirmDelete', { name: a.name }), { danger: true, okText: t('common.delete') }))) return;
        await api.del(`/api/admin/upstreams/${encodeURIComponent(a.id)}`);
        toast(t('common.deleted'), 'success');
      } else if (action === 'edit') {
        const saved = await modal(t('pools.editTitle', { name: a.name }), (close) => accountForm(groups, a, close), { wide: true });
        if (!saved) return;
        toast(t('common.saved'), 'success');
      }
      await refresh();
    } catch (err) { toast(err.message, 'error', 6000); }
  }

  function accountCard(a) {
    const hl = healthOf(a);
    const live = a.live || {};
    const s5 = live.stats_5m || {};
    const s1h = live.stats_1h || {};
    const hist = history.get(a.id) || [];
    const countdown = h('span.countdown', { dataset: { until: String(hl.until) } });
    const now = Date.now() / 1000;
    if (hl.status === 'cooling' && hl.until > now) countdown.textContent = t('pools.cooldownLeft', { left: duration(hl.until - now) });
    return h('article.pool-card', { class: 'health-' + hl.status, dataset: { id: a.id }, 'aria-label': a.name },
      h('header.pool-head',
        h('span.health-dot', { class: 'dot-' + hl.status, 'aria-hidden': 'true' }),
        h('h3.pool-name', a.name),
        h('span.badge', { class: { healthy: 'badge-ok', cooling: 'badge-warn', disabled: 'badge-bad' }[hl.status] || 'badge-neutral' },
          t('status.' + hl.status))),
      h('div.pool-meta.muted.small', `${a.protocol} · ${(a.groups || []).join(', ') || '—'} · ${t('pools.weight')} ${a.weight ?? 1} · ${t('pools.priority')} ${a.priority ?? 0}`),
      h('div.pool-meta.small', h('code', a.base_url || ''), ' ', h('span.muted', t('pools.key') + ' ' + (a.api_key_masked || '…')),
        a.proxy ? h('span.muted', ' · ' + t('pools.proxy') + ' ', h('code.pool-proxy', a.proxy)) : null),
      hl.reason && hl.status !== 'healthy' ? h('p.pool-reason', { role: 'note' }, t('pools.reason') + ': ' + hl.reason) : null,
      countdown,
      h('dl.pool-stats',
        h('div', h('dt', t('pools.req5m')), h('dd', num(s5.requests ?? 0))),
        h('div', h('dt', t('pools.err5m')), h('dd', { class: (s5.error_rate || 0) > 0.2 ? 'neg' : '' }, pct(s5.error_rate ?? 0))),
        h('div', h('dt', 'p50 / p95'), h('dd', `${ms(s5.latency_p50_ms)} / ${ms(s5.latency_p95_ms)}`)),
        h('div', h('dt', 'TTFT p50'), h('dd', ms(s5.ttft_p50_ms))),
        h('div', h('dt', t('pools.req1h')), h('dd', `${num(s1h.requests ?? 0)} · ${pct(s1h.error_rate ?? 0)}`)),
        h('div', h('dt', t('pools.inflight')), h('dd', `${num(live.inflight ?? 0)}${a.max_concurrency ? ' / ' + a.max_concurrency : ''}`)),
        h('div', h('dt', t('pools.today')), h('dd', `${num(live.requests_today ?? 0)} · ${compact(live.tokens_today ?? 0)} tok`)),
        h('div', h('dt', t('pools.sticky')), h('dd', num(live.sticky_sessions ?? 0))),
        live.upstream_cost_today !== undefined ? h('div', h('dt', t('pools.upstreamCost')), h('dd', money(moneyOf(live, 'upstream_cost_today')))) : null),
      hist.length > 1 ? h('div.spark-row',
        h('span.small.muted', t('pools.latencyTrend')), sparkline(hist.map((x) => x.latency), { label: t('pools.latencyTrend'), color: PALETTE[0] }),
        h('span.small.muted', t('pools.errorTrend')), sparkline(hist.map((x) => x.errorRate), { label: t('pools.errorTrend'), color: PALETTE[6] })) : null,
      h('div.row-actions',
        h('button.btn.btn-sm', { type: 'button', onclick: () => act(a, 'test') }, t('pools.test')),
        a.enabled === false
          ? h('button.btn.btn-sm', { type: 'button', onclick: () => act(a, 'enable') }, t('keys.enable'))
          : h('button.btn.btn-sm', { type: 'button', onclick: () => act(a, 'disable') }, t('keys.disable')),
        h('button.btn.btn-sm', { type: 'button', onclick: () => act(a, 'edit') }, t('common.edit')),
        h('button.btn.btn-sm.btn-danger-ghost', { type: 'button', onclick: () => act(a, 'delete') }, t('common.delete'))));
  }

  function draw() {
    const g = filterSel.value;
    const shown = accounts.filter((a) => !g || (a.groups || []).includes(g));
    const counts = { healthy: 0, cooling: 0, disabled: 0 };
    for (const a of accounts) counts[healthOf(a).status] = (counts[healthOf(a).status] || 0) + 1;
    clear(summary).append(
      statCard(t('pools.total'), num(accounts.length)),
      statCard(t('status.healthy'), num(counts.healthy), null, 'ok'),
      statCard(t('status.cooling'), num(counts.cooling), null, 'warn'),
      statCard(t('status.disabled'), num(counts.disabled), null, 'bad'));
    clear(grid).append(...(shown.length ? shown.map(accountCard) : [h('div.card.empty', t('pools.empty'))]));
  }

  const addBtn = h('button.btn.btn-primary#add-upstream', { type: 'button', onclick: async () => {
    const saved = await modal(t('pools.addTitle'), (close) => accountForm(groups, null, close), { wide: true });
    if (saved) { toast(t('common.saved'), 'success'); await refresh(); }
  } }, '+ ' + t('pools.add'));
  root.append(pageHeader(t('nav.pools'), t('pools.subtitle'), filterSel,
    h('button.btn', { type: 'button', onclick: refresh }, t('common.refresh')), addBtn), summary, grid);
  sample();
  draw();
  timers.push(setInterval(refresh, POLL_MS));
  timers.push(setInterval(() => {
    const now = Date.now() / 1000;
    for (const el of grid.querySelectorAll('.countdown')) {
      const until = Number(el.dataset.until);
      el.textContent = until > now ? t('pools.cooldownLeft', { left: duration(until - now) }) : '';
    }
  }, 1000));
  return () => timers.forEach(clearInterval);
}
