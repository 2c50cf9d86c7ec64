// Client setup: configuration for each tool with this relay's base URL and the chosen key.
import { h, codeBlock, clear, field } from '../js/dom.js';
import { t } from '../js/i18n.js';
import { api, listOf } from '../js/api.js';
import { pageHeader, tabs } from '../js/ui.js';
import { CLIENTS } from '../js/snippets.js';
import { secretFor } from '../js/secrets.js';

export const PLACEHOLDER = 'sk-…';

export async function render(root, ctx) {
  const keys = listOf(await api.get('/api/user/keys'));
  const base = location.origin;
  let keyId = ctx.params.keyId || (keys[0] && keys[0].id) || '';
  const body = h('div.setup-body');

  const select = h('select#setup-key', { name: 'key' },
    h('option', { value: '' }, t('setup.noKey')),
    keys.map((k) => h('option', { value: k.id, selected: k.id === keyId }, `${k.name} (${k.prefix || k.id}) — ${k.group}`)));
  select.addEventListener('change', () => ctx.navigate(select.value ? '/setup/' + encodeURIComponent(select.value) : '/setup', { replace: true }));

  function draw() {
    const key = keys.find((k) => k.id === keyId) || null;
    const secret = key ? secretFor(key.id) : '';
    const value = secret || PLACEHOLDER;
    const group = key ? key.group : '';
    const items = CLIENTS.map((c) => ({
      id: c.id, label: c.label,
      render: () => {
        const blocks = c.build(base, value, group);
        const wrong = key && ((c.protocol === 'openai' && group !== 'codex') || (c.protocol === 'anthropic' && group === 'codex'));
        return h('div.snippets',
          wrong ? h('div.alert.alert-warn', { role: 'note' }, c.protocol === 'openai' ? t('setup.needCodex') : t('setup.needClaude')) : null,
          h('p.muted', t('setup.intro.' + c.id)),
          c.checked ? h('p.muted.checked-with', t('setup.checkedWith', { client: c.checked })) : null,
          blocks.map((b) => [
            codeBlock(b.text, { title: b.title, lang: b.lang }),
            b.noteKey ? h('p.alert.alert-info', t(b.noteKey)) : null,
            b.after ? h('p.muted', t('setup.thenRun'), ' ', h('code', b.after)) : null,
            b.warnKey ? h('p.alert.alert-warn', { role: 'note' }, t(b.warnKey)) : null,
          ]),
          c.id === 'codex' ? h('p.alert.alert-info', t('keys.codexHint')) : null);
      },
    }));
    const startTab = group === 'codex' ? CLIENTS.findIndex((c) => c.id === 'codex') : 0;
    clear(body).append(
      secret
        ? h('div.alert.alert-success', { role: 'note' }, t('setup.filled'))
        : h('div.alert.alert-warn', { role: 'note' }, key ? t('setup.placeholder', { placeholder: PLACEHOLDER }) : t('setup.createFirst')),
      h('p', t('setup.baseUrl'), ' ', h('code#base-url', base)),
      tabs(items, { selected: Math.max(0, startTab), label: t('nav.setup') }));
  }

  root.append(
    pageHeader(t('nav.setup'), t('setup.subtitle'), h('a.btn', { href: '/keys?new=1' }, '+ ' + t('keys.create'))),
    h('section.card', h('div.form-inline', field(t('setup.chooseKey'), select)), body));
  draw();
}
