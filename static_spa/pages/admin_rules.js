// Operator: error rules — how upstream failures are classified (first match wins). Edit the
// table, save all (PUT), or reset to the defaults.
import { h, errorBox, toast, clear, confirmDialog } from '../js/dom.js';
import { t } from '../js/i18n.js';
import { api, listOf } from '../js/api.js';
import { pageHeader } from '../js/ui.js';

const ACTIONS = ['pass', 'retry', 'cooldown', 'cooldown_reset', 'disable'];
const PHASES = ['any', 'before', 'after'];

export async function render(root) {
  let body = await api.get('/api/admin/error-rules');
  let rules = listOf(body, 'rules').map((r) => ({ ...r }));
  const slot = h('div');
  const note = h('p.muted');
  const errSlot = h('div');

  function input(r, key, attrs = {}) {
    const el = h('input', { value: r[key] ?? '', 'aria-label': t('rules.' + key), ...attrs });
    el.addEventListener('input', () => { r[key] = attrs.type === 'number' ? Number(el.value) : el.value; });
    return el;
  }
  function select(r, key, options) {
    const el = h('select', { 'aria-label': t('rules.' + key) }, options.map((o) => h('option', { value: o, selected: r[key] === o }, o)));
    el.addEventListener('change', () => { r[key] = el.value; });
    return el;
  }
  function draw() {
    note.textContent = body.is_default ? t('rules.defaultNote') : t('rules.customNote');
    const rows = rules.map((r, i) => h('tr', { dataset: { index: String(i) } },
      h('td.num', String(i + 1)),
      h('td', input(r, 'status', { size: '8', placeholder: '429 / 5xx' })),
      h('td', select(r, 'action', ACTIONS)),
      h('td', input(r, 'seconds', { type: 'number', min: '0', step: '1', style: { width: '6em' } })),
      h('td', select(r, 'phase', PHASES)),
      h('td', input(r, 'error_type', { size: '14' })),
      h('td', input(r, 'message_pattern', { size: '14' })),
      h('td', input(r, 'name', { size: '18' })),
      h('td', h('div.row-actions',
        h('button.icon-btn', { type: 'button', 'aria-label': t('rules.up'), disabled: i === 0, onclick: () => { [rules[i - 1], rules[i]] = [rules[i], rules[i - 1]]; draw(); } }, '↑'),
        h('button.icon-btn', { type: 'button', 'aria-label': t('rules.down'), disabled: i === rules.length - 1, onclick: () => { [rules[i + 1], rules[i]] = [rules[i], rules[i + 1]]; draw(); } }, '↓'),
        h('button.icon-btn', { type: 'button', 'aria-label': t('common.delete'), onclick: () => { rules.splice(i, 1); draw(); } }, '✕')))));
    clear(slot).append(h('div.table-wrap', { tabindex: '0', role: 'region', 'aria-label': t('nav.errorRules') },
      h('table.data.edit-table',
        h('thead', h('tr', h('th', '#'), ['status', 'action', 'seconds', 'phase', 'error_type', 'message_pattern', 'name'].map((k) => h('th', t('rules.' + k))), h('th', t('common.actions')))),
        h('tbody', rows))));
  }
  async function save() {
    clear(errSlot);
    try {
      body = await api.put('/api/admin/error-rules', { rules });
      rules = listOf(body, 'rules').map((r) => ({ ...r }));
      toast(t('common.saved'), 'success');
      draw();
    } catch (ex) { errSlot.append(errorBox(ex)); }
  }
  async function reset() {
    if (!(await confirmDialog(t('rules.confirmReset'), { danger: true }))) return;
    try {
      body = await api.post('/api/admin/error-rules/reset');
      rules = listOf(body, 'rules').map((r) => ({ ...r }));
      toast(t('rules.resetDone'), 'success');
      draw();
    } catch (ex) { toast(ex.message, 'error'); }
  }
  root.append(pageHeader(t('nav.errorRules'), t('rules.subtitle'),
    h('button.btn', { type: 'button', onclick: () => { rules.push({ status: '5xx', action: 'cooldown', seconds: 30, phase: 'any', error_type: '', message_pattern: '', name: '' }); draw(); } }, '+ ' + t('rules.add')),
    h('button.btn', { type: 'button', onclick: reset }, t('rules.reset')),
    h('button.btn.btn-primary', { type: 'button', onclick: save }, t('common.save'))),
    note, h('div.alert.alert-info', t('rules.help')), errSlot, h('section.card.flush', slot));
  draw();
}
