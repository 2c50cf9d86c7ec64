// Operator: runtime settings (recharge mode, registration, default rate limit, log retention).
import { h, field, toast, onSubmit } from '../js/dom.js';
import { t } from '../js/i18n.js';
import { api } from '../js/api.js';
import { pageHeader } from '../js/ui.js';

export async function render(root) {
  const res = await api.get('/api/admin/settings');
  const s = res.settings || res.data || res;
  const mode = h('select', { name: 'recharge_mode' }, ['manual', 'code', 'open'].map((m) => h('option', { value: m, selected: s.recharge_mode === m }, t('settings.mode.' + m))));
  const reg = h('input', { type: 'checkbox', name: 'registration_open', checked: s.registration_open !== false });
  const rate = h('input', { name: 'default_rate_limit', type: 'number', min: '0', value: String(s.default_rate_limit ?? 60) });
  const keep = h('input', { name: 'log_retention_days', type: 'number', min: '1', max: '3650', value: String(s.log_retention_days ?? 90) });
  const err = h('div');
  const submit = h('button.btn.btn-primary', { type: 'submit' }, t('common.save'));
  const form = h('form.form-grid.narrow', { novalidate: true },
    field(t('settings.rechargeMode'), mode, t('settings.rechargeModeHint')),
    h('label.check', reg, ' ' + t('settings.registrationOpen')),
    field(t('settings.defaultRate'), rate, t('keys.rateHint')),
    field(t('settings.retention'), keep),
    err, h('div.actions', submit));
  onSubmit(form, submit, err, async () => {
    await api.patch('/api/admin/settings', { recharge_mode: mode.value, registration_open: reg.checked,
      default_rate_limit: Number(rate.value), log_retention_days: Number(keep.value) });
    toast(t('common.saved'), 'success');
  });
  root.append(pageHeader(t('nav.settings'), t('settings.subtitle')), h('section.card', form));
}
