// Reusable page pieces: data tables (with optional expandable rows), a pager, stat cards, tabs.
import { h, clear } from './dom.js';
import { t } from './i18n.js';

/**
 * columns: [{key, label, render?(row), class?, align?}]; opts: {expand?(row) -> Node, empty, caption, rowKey}
 */
export function dataTable(columns, rows, opts = {}) {
  const headCells = columns.map((c) => h('th', { scope: 'col', class: c.class || (c.align === 'right' ? 'num' : '') }, c.label));
  if (opts.expand) headCells.unshift(h('th', { scope: 'col', class: 'expand-col' }, h('span.sr-only', t('common.details'))));
  const body = h('tbody');
  if (!rows.length) {
    body.append(h('tr', h('td.empty-cell', { colspan: String(columns.length + (opts.expand ? 1 : 0)) }, opts.empty || t('common.empty'))));
  }
  rows.forEach((row, idx) => {
    const cells = columns.map((c) => {
      const v = c.render ? c.render(row) : row[c.key];
      return h('td', { class: c.class || (c.align === 'right' ? 'num' : ''), 'data-label': c.label }, v === undefined || v === null || v === '' ? '—' : v);
    });
    const tr = h('tr', { dataset: { key: opts.rowKey ? opts.rowKey(row) : String(idx) } });
    if (opts.expand) {
      const detailId = 'row-detail-' + Math.random().toString(36).slice(2);
      const btn = h('button.icon-btn.expand-btn', { type: 'button', 'aria-expanded': 'false', 'aria-controls': detailId,
        'aria-label': t('common.details') }, '▸');
      const detail = h('tr.detail-row', { id: detailId, hidden: true },
        h('td', { colspan: String(columns.length + 1) }));
      btn.addEventListener('click', () => {
        const open = btn.getAttribute('aria-expanded') !== 'true';
        btn.setAttribute('aria-expanded', String(open));
        btn.textContent = open ? '▾' : '▸';
        detail.hidden = !open;
        if (open && !detail.firstChild.firstChild) detail.firstChild.append(opts.expand(row));
      });
      tr.append(h('td.expand-col', btn));
      tr.append(...cells);
      body.append(tr, detail);
    } else {
      tr.append(...cells);
      body.append(tr);
    }
  });
  return h('div.table-wrap', { tabindex: '0', role: 'region', 'aria-label': opts.caption || t('common.table') },
    h('table.data', { class: opts.compact ? 'compact' : '' }, opts.caption ? h('caption.sr-only', opts.caption) : null, h('thead', h('tr', headCells)), body));
}

/** A pager: {offset, limit, total?, count (rows on this page)} → calls go(newOffset). */
export function pager({ offset, limit, total, count }, go) {
  const page = Math.floor(offset / limit) + 1;
  const pages = total !== undefined && total !== null ? Math.max(1, Math.ceil(total / limit)) : null;
  const hasNext = pages ? page < pages : count >= limit;
  return h('nav.pager', { 'aria-label': t('common.pagination') },
    h('button.btn.btn-sm', { type: 'button', disabled: offset <= 0, onclick: () => go(Math.max(0, offset - limit)) }, '‹ ' + t('common.prev')),
    h('span.pager-info', pages ? t('common.pageOf', { page, pages, total }) : t('common.page', { page })),
    h('button.btn.btn-sm', { type: 'button', disabled: !hasNext, onclick: () => go(offset + limit) }, t('common.next') + ' ›'));
}

export function statCard(label, value, sub, kind) {
  return h('div.stat', { class: kind ? 'stat-' + kind : '' },
    h('div.stat-label', label), h('div.stat-value', value), sub ? h('div.stat-sub', sub) : null);
}

export function card(title, ...body) {
  return h('section.card', title ? h('h2.card-title', title) : null, ...body);
}

export function pageHeader(title, subtitle, ...actions) {
  return h('div.page-head', h('div', h('h2.page-h', title), subtitle ? h('p.muted', subtitle) : null),
    actions.length ? h('div.page-actions', ...actions) : null);
}

/** Accessible tabs: items [{id, label, render() -> Node}]. */
export function tabs(items, { selected = 0, label = '' } = {}) {
  const list = h('div.tabs', { role: 'tablist', 'aria-label': label });
  const panel = h('div.tab-panel', { role: 'tabpanel', tabindex: '0' });
  const buttons = items.map((it, i) => h('button.tab', {
    type: 'button', role: 'tab', id: 'tab-' + it.id, 'aria-controls': 'panel-' + it.id,
    onclick: () => select(i),
    onkeydown: (e) => {
      if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
        e.preventDefault();
        const n = (i + (e.key === 'ArrowRight' ? 1 : items.length - 1)) % items.length;
        select(n);
        buttons[n].focus();
      }
    },
  }, it.label));
  function select(i) {
    buttons.forEach((b, j) => {
      b.setAttribute('aria-selected', String(i === j));
      b.tabIndex = i === j ? 0 : -1;
    });
    panel.id = 'panel-' + items[i].id;
    panel.setAttribute('aria-labelledby', 'tab-' + items[i].id);
    clear(panel).append(items[i].render());
  }
  list.append(...buttons);
  select(selected);
  return h('div.tabs-wrap', list, panel);
}

export function statusBadge(status) {
  const kinds = { active: 'ok', healthy: 'ok', approved: 'ok', credited: 'ok', redeemed: 'info', enabled: 'ok',
    disabled: 'muted', cooling: 'warn', pending: 'warn', rejected: 'bad', revoked: 'muted', expired: 'muted', error: 'bad' };
  const key = 'status.' + status;
  const label = t(key) === key ? status : t(key);
  return h('span.badge', { class: 'badge-' + (kinds[status] || 'neutral') }, label || '—');
}
