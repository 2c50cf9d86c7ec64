// The dashboard's JSON API client: bearer token from localStorage, the relay's error envelope
// ({"error":{"message","type","field"}}) turned into ApiError, and session renewal before expiry.
import { getLang } from './i18n.js';

const TOKEN_KEY = 'jiuliu.token';
const EXP_KEY = 'jiuliu.token_exp';
const RENEW_BEFORE = 10 * 60; // seconds before expiry to renew (or at 80% of a shorter lifetime)

export class ApiError extends Error {
  constructor(message, { status = 0, type = '', field = null, body = null } = {}) {
    super(message);
    this.status = status;
    this.type = type;
    this.field = field;
    this.body = body;
  }
}

const listeners = { unauthorized: [] };
export function onUnauthorized(fn) { listeners.unauthorized.push(fn); }

export function getToken() { return localStorage.getItem(TOKEN_KEY) || ''; }

function jwtClaims(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(part + '='.repeat((4 - part.length % 4) % 4))) || {};
  } catch (_) { return {}; }
}
const jwtExp = (token) => (typeof jwtClaims(token).exp === 'number' ? jwtClaims(token).exp : 0);

/** Store a token from a login/refresh response (accepts a few shapes defensively). */
export function setSession(body) {
  const data = body && (body.data || body);
  const token = data && (data.token || data.access_token);
  if (!token) throw new ApiError('no token in response', { type: 'bad_response' });
  let exp = jwtExp(token);
  const expiresAt = data.expires_at || data.expiresAt;
  if (!exp && expiresAt) exp = Math.floor(Date.parse(expiresAt) / 1000);
  if (!exp && data.expires_in) exp = Math.floor(Date.now() / 1000) + Number(data.expires_in);
  localStorage.setItem(TOKEN_KEY, token);
  localStorage.setItem(EXP_KEY, String(exp || 0));
  scheduleRenewal();
  return data;
}

export function clearSession() {
  localStorage.removeItem(TOKEN_KEY);
  localStorage.removeItem(EXP_KEY);
  if (renewTimer) clearTimeout(renewTimer);
  renewTimer = null;
}

let renewTimer = null;
export function scheduleRenewal() {
  if (renewTimer) clearTimeout(renewTimer);
  renewTimer = null;
  const exp = Number(localStorage.getItem(EXP_KEY) || 0);
  if (!getToken() || !exp) return;
  const now = Date.now() / 1000;
  const iat = jwtClaims(getToken()).iat;
  const lifetime = Math.max(60, exp - (typeof iat === 'number' ? iat : now));
  const lead = Math.min(RENEW_BEFORE, lifetime * 0.2);
  const wait = Math.max(5, exp - lead - now);
  renewTimer = setTimeout(renew, Math.min(wait, 2 ** 31 / 1000 - 1) * 1000);
}

export async function renew() {
  if (!getToken()) return;
  try {
    setSession(await request('POST', '/api/user/token/refresh', {}));
  } catch (err) {
    if (err.status !== 401) setTimeout(renew, 30000);
  }
}

/** Renew at once if the stored token is already close to expiry (e.g. tab woke from sleep). */
export function renewIfDue() {
  const exp = Number(localStorage.getItem(EXP_KEY) || 0);
  if (getToken() && exp && exp - Date.now() / 1000 < RENEW_BEFORE / 2) renew();
}

function qs(params) {
  if (!params) return '';
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  }
  const s = p.toString();
  return s ? '?' + s : '';
}

/** The dashboard API answers errors in this language: the one the user chose, else the browser's (i18n.js). */
export function languageHeader() { return getLang() === 'en' ? 'en' : 'zh-CN'; }

export async function request(method, path, body, params) {
  const headers = { Accept: 'application/json', 'Accept-Language': languageHeader() };
  const token = getToken();
  if (token) headers.Authorization = 'Bearer ' + token;
  const init = { method, headers };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path + qs(params), init);
  } catch (e) {
    throw new ApiError(getLang() === 'en' ? 'Network error: the relay did not answer' : '网络错误:无法连接到服务',
      { type: 'network_error' });
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch (_) { data = null; }
  }
  if (!res.ok) {
    const e = data && data.error;
    const message = (e && typeof e === 'object' && e.message) || (typeof e === 'string' && e) ||
      `HTTP ${res.status} ${res.statusText}`;
    const err = new ApiError(message, { status: res.status, type: (e && e.type) || '', field: e && e.field, body: data });
    if (res.status === 401 && token && path !== '/api/user/login') {
      clearSession();
      listeners.unauthorized.forEach((fn) => fn(err));
    }
    throw err;
  }
  return data;
}

/** Raw GET returning text (e.g. CSV exports). */
export async function getText(path, params) {
  const headers = { 'Accept-Language': languageHeader() };
  const token = getToken();
  if (token) headers.Authorization = 'Bearer ' + token;
  const res = await fetch(path + qs(params), { headers });
  const text = await res.text();
  if (!res.ok) {
    let msg = `HTTP ${res.status}`;
    try { msg = JSON.parse(text).error.message || msg; } catch (_) { /* keep */ }
    throw new ApiError(msg, { status: res.status });
  }
  return { text, type: res.headers.get('Content-Type') || '' };
}

export const api = {
  get: (path, params) => request('GET', path, undefined, params),
  post: (path, body) => request('POST', path, body === undefined ? {} : body),
  patch: (path, body) => request('PATCH', path, body),
  put: (path, body) => request('PUT', path, body),
  del: (path) => request('DELETE', path),
};

/** Pick the list out of a response: a bare array, or {items|data|rows|…: [...]}. */
export function listOf(body, ...names) {
  if (Array.isArray(body)) return body;
  if (!body || typeof body !== 'object') return [];
  for (const n of [...names, 'items', 'data', 'rows', 'results', 'list']) {
    if (Array.isArray(body[n])) return body[n];
    if (body[n] && typeof body[n] === 'object' && !Array.isArray(body[n])) {
      const inner = listOf(body[n], ...names);
      if (inner.length) return inner;
    }
  }
  return [];
}

/** The total count of a paged response, if it says. */
export function totalOf(body, fallback) {
  if (body && typeof body === 'object') {
    for (const n of ['total', 'count', 'total_count']) if (typeof body[n] === 'number') return body[n];
    if (body.data && typeof body.data.total === 'number') return body.data.total;
  }
  return fallback;
}
