// Tiny DOM helpers: hyperscript-style element builder (no innerHTML), toasts, dialogs, copy.
import { t } from './i18n.js';

/** h('div.card#id', {attrs}, ...children): builds an element; strings become text nodes. */
export function h(spec, attrs, ...children) {
  if (attrs == null || typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs)) {
    if (attrs !== undefined && attrs !== null) children.unshift(attrs);
    attrs = {};
  }
  const m = /^([a-z0-9-]+)?((?:[.#][\w-]+)*)$/i.exec(spec) || [null, 'div', ''];
  const el = document.createElement(m[1] || 'div');
  for (const part of (m[2] || '').match(/[.#][\w-]+/g) || []) {
    if (part[0] === '.') el.classList.add(part.slice(1));
    else el.id = part.slice(1);
  }
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v);
    else if (k === 'class') el.className = [el.className, v].filter(Boolean).join(' ');
    else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
    else if (k === 'value' && 'value' in el) el.value = v;
    else if (k === 'checked' || k === 'selected' || k === 'disabled') el[k] = !!v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) { while (el.firstChild) el.firstChild.remove(); return el; }

let uid = 0;
export const nextId = (p = 'f') => `${p}-${++uid}`;

/** A labelled form field: label + control (+ hint / error slot). */
export function field(label, control, hint) {
  const id = control.id || (control.id = nextId());
  const hintEl = hint ? h('p.hint', { id: id + '-hint' }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('div.field', h('label', { for: id }, label), control, hintEl,
    h('p.field-error', { id: id + '-err', role: 'alert', hidden: true }));
}

/** Show an API error next to the field it names (if any), else return false. */
export function showFieldError(form, err) {
  for (const e of form.querySelectorAll('.field-error')) { e.hidden = true; e.textContent = ''; }
  for (const c of form.querySelectorAll('[aria-invalid]')) c.removeAttribute('aria-invalid');
  if (!err || !err.field) return false;
  const control = form.querySelector(`[name="${CSS.escape(err.field)}"]`);
  if (!control) return false;
  control.setAttribute('aria-invalid', 'true');
  const slot = document.getElementById(control.id + '-err');
  if (slot) { slot.textContent = err.message; slot.hidden = false; }
  control.focus();
  return true;
}

// ---- toasts ------------------------------------------------------------------------------
/** Wire a form's submit: clear old errors, disable the button while `action` runs, and show
 * what the API said next to the field it names, else in `err`. */
export function onSubmit(form, submit, err, action) {
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clear(err);
    showFieldError(form, null);
    submit.disabled = true;
    try { await action(); } catch (ex) { if (!showFieldError(form, ex)) err.append(errorBox(ex)); } finally { submit.disabled = false; }
  });
}

export function toast(message, kind = 'info', ms = 4000) {
  let box = document.getElementById('toasts');
  if (!box) {
    box = h('div#toasts', { 'aria-live': 'polite', 'aria-atomic': 'false' });
    document.body.append(box);
  }
  const el = h('div.toast', { class: 'toast-' + kind, role: kind === 'error' ? 'alert' : 'status' }, message);
  box.append(el);
  setTimeout(() => el.remove(), kind === 'error' ? ms + 3000 : ms);
}

/** An error banner element for a page or form. */
export function errorBox(err) {
  const msg = err && err.message ? err.message : String(err);
  return h('div.alert.alert-error', { role: 'alert' },
    h('strong', t('common.error') + ': '), msg,
    err && err.type ? h('span.muted', ` (${err.type})`) : null);
}

// ---- modal dialogs -------------------------------------------------------------------------
/** Opens a <dialog>; build(close) returns its body. Resolves with the value passed to close. */
export function modal(title, build, { wide = false } = {}) {
  return new Promise((resolve) => {
    const titleId = nextId('dlg');
    const dlg = h('dialog.modal', { 'aria-labelledby': titleId, class: wide ? 'modal-wide' : '' });
    let result;
    const close = (value) => { result = value; dlg.close(); };
    dlg.addEventListener('close', () => { dlg.remove(); resolve(result); });
    dlg.addEventListener('click', (e) => { if (e.target === dlg) close(undefined); });
    dlg.append(
      h('div.modal-head', h('h2', { id: titleId }, title),
        h('button.icon-btn', { type: 'button', 'aria-label': t('common.close'), onclick: () => close(undefined) }, '✕')),
      h('div.modal-body', build(close)));
    document.body.append(dlg);
    dlg.showModal();
    const first = dlg.querySelector('.modal-body input, .modal-body select, .modal-body textarea, .modal-body button');
    if (first) first.focus();
  });
}

export function confirmDialog(message, { danger = false, okText } = {}) {
  return modal(t('common.confirm'), (close) => h('div',
    h('p', message),
    h('div.actions',
      h('button.btn', { type: 'button', onclick: () => close(false) }, t('common.cancel')),
      h('button.btn', { type: 'button', class: danger ? 'btn-danger' : 'btn-primary', onclick: () => close(true) },
        okText || t('common.ok')))));
}

// ---- clipboard -----------------------------------------------------------------------------
export async function copyText(text) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch (_) { /* fall through */ }
  const ta = h('textarea', { style: { position: 'fixed', top: '-1000px', opacity: '0' }, 'aria-hidden': 'true' });
  ta.value = text;
  document.body.append(ta);
  ta.select();
  let ok = false;
  try { ok = document.execCommand('copy'); } catch (_) { ok = false; }
  ta.remove();
  return ok;
}

export function copyButton(getText, label) {
  const btn = h('button.btn.btn-sm.copy-btn', { type: 'button' }, label || t('common.copy'));
  btn.addEventListener('click', async () => {
    const ok = await copyText(typeof getText === 'function' ? getText() : getText);
    toast(ok ? t('common.copied') : t('common.copyFailed'), ok ? 'success' : 'error', 2000);
    if (ok) {
      btn.textContent = t('common.copied');
      setTimeout(() => { btn.textContent = label || t('common.copy'); }, 1500);
    }
  });
  return btn;
}

/** A code block with a copy button. */
export function codeBlock(text, { title, lang } = {}) {
  return h('div.code-block',
    h('div.code-head', h('span.code-title', title || ''), copyButton(() => text)),
    h('pre', { tabindex: '0', dataset: lang ? { lang } : {} }, h('code', text)));
}

export function spinner() { return h('div.loading', { role: 'status' }, h('span.spin', { 'aria-hidden': 'true' }), t('common.loading')); }

export function badge(text, kind = 'neutral') { return h('span.badge', { class: 'badge-' + kind }, text); }

/** Download text as a file. */
export function download(name, text, type = 'text/csv;charset=utf-8') {
  const blob = new Blob([text], { type });
  const a = h('a', { href: URL.createObjectURL(blob), download: name });
  document.body.append(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 0);
}
