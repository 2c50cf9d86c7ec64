// API keys: create (the full key shown once), list with usage, disable/enable, delete.
import { h, field, modal, confirmDialog, showFieldError, errorBox, toast, copyButton, clear } from '../js/dom.js';
import { t } from '../js/i18n.js';
import { api, listOf } from '../js/api.js';
import { money, moneyOf, num, compact, dateTime, localInputToIso } from '../js/format.js';
import { dataTable, pageHeader, statusBadge } from '../js/ui.js';
import { rememberSecret } from '../js/secrets.js';

export async function loadGroups() {
  try {
    const pricing = await api.get('/api/user/pricing');
    const groups = listOf(pricing.groups);
    if (groups.length) return groups;
  } catch (_) { /* fall back below */ }
  return [{ name: 'claude', protocol: 'anthropic' }, { name: 'codex', protocol: 'openai' }];
}

function groupLabel(g) {
  const proto = g.protocol === 'openai' ? 'OpenAI Responses · Codex' : (g.protocol === 'anthropic' ? 'Anthropic · Claude' : g.protocol || '');
  const mult = g.multiplier && g.multiplier !== '1' ? ` ×${g.multiplier}` : '';
  return `${g.name}${proto ? ' — ' + proto : ''}${mult}`;
}

function createForm(groups, close) {
  const name = h('input', { name: 'name', required: true, maxlength: '64', value: t('keys.defaultName') });
  const group = h('select', { name: 'group' }, groups.map((g) => h('option', { value: g.name }, groupLabel(g))));
  const rate = h('input', { name: 'rateLimit', type: 'number', min: '0', max: '100000', placeholder: t('keys.rateDefault'), inputmode: 'numeric' });
  const expires = h('input', { name: 'expiresAt', type: 'datetime-local' });
  const models = h('input', { name: 'models', placeholder: 'claude-sonnet-4*, claude-opus-4*' });
  const quota = h('input', { name: 'spendQuota', type: 'number', min: '0', step: '0.01', placeholder: '0' });
  const err = h('div');
  const submit = h('button.btn.btn-primary', { type: 'submit' }, t('keys.create'));
  const form = h('form.form-grid', { novalidate: true },
    field(t('keys.name'), name),
    field(t('keys.group'), group, h('span', h('strong', t('keys.codexHint')))),
    field(t('keys.rateLimit'), rate, t('keys.rateHint')),
    field(t('keys.expiresAt'), expires, t('keys.optional')),
    field(t('keys.models'), models, t('keys.modelsHint')),
    field(t('keys.spendQuota'), quota, t('keys.quotaHint')),
    err,
    h('div.actions', h('button.btn', { type: 'button', onclick: () => close() }, t('common.cancel')), submit));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clear(err);
    showFieldError(form, null);
    const body = { name: name.value.trim(), group: group.value };
    if (rate.value !== '') body.rateLimit = Number(rate.value);
    if (expires.value) body.expiresAt = localInputToIso(expires.value);
    const list = models.value.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean);
    if (list.length) body.models = list;
    if (quota.value !== '' && Number(quota.value) > 0) body.spendQuota = quota.value;
    submit.disabled = true;
    try {
      close(await api.post('/api/user/keys', body));
    } catch (ex) {
      if (!showFieldError(form, ex)) err.append(errorBox(ex));
    } finally { submit.disabled = false; }
  });
  return form;
}

function showSecret(created) {
  const secret = created.key || created.secret || created.api_key;
  return modal(t('keys.createdTitle'), (close) => h('div.secret-box',
    h('p.alert.alert-warn', { role: 'note' }, t('keys.onceWarning')),
    h('div.secret-row',
      h('code.secret#new-key-secret', { tabindex: '0', 'aria-label': t('keys.fullKey') }, secret),
      copyButton(() => secret)),
    h('p.muted', t('keys.groupIs', { group: created.group })),
    h('div.actions',
      h('a.btn.btn-primary', { href: '/setup/' + encodeURIComponent(created.id), onclick: () => close() }, t('keys.setupClients')),
      h('button.btn', { type: 'button', onclick: () => close() }, t('common.done')))));
}

export async function render(root, ctx) {
  const [keysBody, groups] = await Promise.all([api.get('/api/user/keys'), loadGroups()]);
  let keys = listOf(keysBody);
  const tableSlot = h('div');

  const openCreate = async () => {
    const created = await modal(t('keys.createTitle'), (close) => createForm(groups, close));
    if (!created) return;
    rememberSecret(created.id, created.key || created.secret);
    await showSecret(created);
    await reload();
  };

  async function reload() {
    try { keys = listOf(await api.get('/api/user/keys')); draw(); } catch (err) { toast(err.message, 'error'); }
  }

  async function act(k, action) {
    try {
      if (action === 'delete') {
        if (!(await confirmDialog(t('keys.confirmDelete', { name: k.name }), { danger: true, okText: t('common.delete') }))) return;
        await api.del(`/api/user/keys/${encodeURIComponent(k.id)}`);
        toast(t('keys.deletedToast'), 'success');
      } else {
        await api.post(`/api/user/keys/${encodeURIComponent(k.id)}/${action}`);
        toast(action === 'disable' ? t('keys.disabledToast') : t('keys.enabledToast'), 'success');
      }
      await reload();
    } catch (err) { toast(err.message, 'error'); }
  }

  function draw() {
    const cols = [
      { key: 'name', label: t('keys.name'), render: (k) => h('div', h('strong', k.name), h('div.muted.small', h('code', k.prefix || ''))) },
      { key: 'group', label: t('keys.group'), render: (k) => h('span.badge.badge-info', k.group) },
      { key: 'status', label: t('common.status'), render: (k) => k.expired ? statusBadge('expired') : statusBadge(k.status) },
      { key: 'rateLimit', label: t('keys.rateLimit'), align: 'right', render: (k) => (k.rateLimit ? num(k.rateLimit) + ' rpm' : t('keys.unlimited')) },
      { key: 'usage', label: t('keys.usage'), align: 'right', render: (k) => h('div',
        h('div', money(moneyOf(k.usage, 'cost'))),
        h('div.muted.small', `${num((k.usage || {}).requests || 0)} ${t('overview.requestsUnit')} · ${compact(((k.usage || {}).input || 0) + ((k.usage || {}).output || 0))} tok`)) },
      { key: 'lastUsedAt', label: t('keys.lastUsed'), render: (k) => dateTime(k.lastUsedAt) },
      { key: 'expiresAt', label: t('keys.expiresAt'), render: (k) => (k.expiresAt ? dateTime(k.expiresAt) : t('keys.never')) },
      { key: 'actions', label: t('common.actions'), render: (k) => h('div.row-actions',
        h('a.btn.btn-sm', { href: '/setup/' + encodeURIComponent(k.id) }, t('keys.setup')),
        k.status === 'disabled'
          ? h('button.btn.btn-sm', { type: 'button', onclick: () => act(k, 'enable') }, t('keys.enable'))
          : h('button.btn.btn-sm', { type: 'button', onclick: () => act(k, 'disable') }, t('keys.disable')),
        h('button.btn.btn-sm.btn-danger-ghost', { type: 'button', onclick: () => act(k, 'delete') }, t('common.delete'))) },
    ];
    clear(tableSlot).append(dataTable(cols, keys, { caption: t('nav.keys'), empty: t('keys.empty'), rowKey: (k) => k.id }));
  }

  root.append(
    pageHeader(t('nav.keys'), t('keys.subtitle'), h('button.btn.btn-primary#create-key', { type: 'button', onclick: openCreate }, '+ ' + t('keys.create'))),
    h('div.alert.alert-info', { role: 'note' }, t('keys.codexHint')),
    h('section.card.flush', tableSlot));
  draw();
  if (ctx.query.get('new') === '1') setTimeout(openCreate, 0);
}
