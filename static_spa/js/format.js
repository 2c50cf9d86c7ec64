// Formatting of money, numbers and times for display, tolerant of the shapes the API may use.
import { getLang } from './i18n.js';

let currency = 'USD';
export function setCurrency(c) { if (c) currency = c; }
export function getCurrency() { return currency; }
const SYMBOLS = { USD: '$', CNY: '¥', EUR: '€' };

/** A money value from the API as a Number of display units. Accepts decimal strings, numbers,
 * and objects such as {amount:"1.5"} or {micro: 1500000}. */
export function moneyValue(v) {
  if (v === null || v === undefined || v === '') return null;
  if (typeof v === 'object') {
    if ('micro' in v) return Number(v.micro) / 1e6;
    if ('amount' in v) return moneyValue(v.amount);
    if ('value' in v) return moneyValue(v.value);
    return null;
  }
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

/** A money field of an API object: the `<name>_display` (or camelCase `<name>Display`) decimal
 * string when present, else the integer micro-units in `<name>`. */
export function moneyOf(obj, name) {
  if (!obj) return null;
  const disp = obj[name + '_display'] ?? obj[name + 'Display'];
  if (disp !== undefined && disp !== null) return moneyValue(disp);
  const v = obj[name];
  if (typeof v === 'number') return v / 1e6;
  return moneyValue(v);
}

/** Micro-units (integers) to display units. */
export const fromMicro = (m) => (m === null || m === undefined ? null : Number(m) / 1e6);

/** A money amount, exact to the micro-unit: at least 2 decimals, up to 6, trailing zeros trimmed. */
export function money(v, { sign = false, symbol = true } = {}) {
  const n = moneyValue(v);
  if (n === null) return '—';
  let s = Math.abs(n).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 6 });
  const sym = symbol ? (SYMBOLS[currency] || '') : '';
  const pre = n < 0 ? '-' : (sign && n > 0 ? '+' : '');
  s = pre + sym + s;
  if (symbol && !SYMBOLS[currency]) s += ' ' + currency;
  return s;
}

/** A plain decimal string of a money value for inputs and CSV ("1.5"). */
export function moneyPlain(v) {
  const n = moneyValue(v);
  if (n === null) return '';
  return String(Math.round(n * 1e6) / 1e6);
}

export function num(v) {
  if (v === null || v === undefined || v === '') return '—';
  const n = Number(v);
  if (!Number.isFinite(n)) return String(v);
  return n.toLocaleString(getLang() === 'en' ? 'en-US' : 'zh-CN');
}

/** Large counts shortened: 12.3K, 4.5M. */
export function compact(v) {
  const n = Number(v) || 0;
  const abs = Math.abs(n);
  if (abs >= 1e9) return (n / 1e9).toFixed(1).replace(/\.0$/, '') + 'B';
  if (abs >= 1e6) return (n / 1e6).toFixed(1).replace(/\.0$/, '') + 'M';
  if (abs >= 1e4) return (n / 1e3).toFixed(1).replace(/\.0$/, '') + 'K';
  return num(n);
}

export function pct(v, digits = 1) {
  if (v === null || v === undefined) return '—';
  return (Number(v) * 100).toFixed(digits) + '%';
}

export function parseTime(v) {
  if (v === null || v === undefined || v === '') return null;
  if (typeof v === 'number') return new Date(v < 1e12 ? v * 1000 : v);
  if (typeof v === 'object' && v.$date) return parseTime(v.$date);
  let s = String(v);
  if (/^\d{4}-\d\d-\d\d \d\d:\d\d/.test(s)) s = s.replace(' ', 'T');
  if (/T\d\d:\d\d(:\d\d(\.\d+)?)?$/.test(s)) s += 'Z'; // naive times from the API are UTC
  const d = new Date(s);
  return isNaN(d) ? null : d;
}

const pad = (n) => String(n).padStart(2, '0');
export function dateTime(v) {
  const d = parseTime(v);
  if (!d) return '—';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
export function dateOnly(v) {
  const d = parseTime(v);
  if (!d) return '—';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

export function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return s + 's';
  if (s < 3600) return Math.floor(s / 60) + 'm ' + pad(s % 60) + 's';
  return Math.floor(s / 3600) + 'h ' + pad(Math.floor((s % 3600) / 60)) + 'm';
}

export function ms(v) {
  if (v === null || v === undefined) return '—';
  const n = Number(v);
  return n >= 10000 ? (n / 1000).toFixed(1) + ' s' : Math.round(n) + ' ms';
}

/** Local datetime-input value ("2025-01-31T08:00") to ISO UTC. */
export function localInputToIso(value) {
  if (!value) return '';
  const d = new Date(value);
  return isNaN(d) ? '' : d.toISOString();
}

export function csvCell(v) {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\n\r]/.test(s) || /^[=+\-@]/.test(s) ? '"' + (/^[=+\-@]/.test(s) && isNaN(Number(s)) ? "'" : '') + s.replace(/"/g, '""') + '"' : s;
}
