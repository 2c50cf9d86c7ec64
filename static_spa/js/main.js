// Entry point: routes, the app shell (sidebar, top bar), session handling and page lifecycle.
import { t, getLang, setLang, onLangChange } from './i18n.js';
import { api, getToken, clearSession, onUnauthorized, scheduleRenewal, renewIfDue } from './api.js';
import { route, fallback, onRoute, start, navigate, render as rerender } from './router.js';
import { h, clear, errorBox, spinner, toast } from './dom.js';
import { money, moneyOf, setCurrency } from './format.js';
import { session } from './session.js';
import { icon } from './icons.js';

const USER_NAV = [
  ['/overview', 'nav.overview', 'overview'],
  ['/keys', 'nav.keys', 'keys'],
  ['/setup', 'nav.setup', 'setup'],
  ['/logs', 'nav.logs', 'logs'],
  ['/transactions', 'nav.transactions', 'transactions'],
  ['/recharge', 'nav.recharge', 'recharge'],
  ['/pricing', 'nav.pricing', 'pricing'],
];
const ADMIN_NAV = [
  ['/admin/overview', 'nav.adminOverview', 'adminOverview'],
  ['/admin/pools', 'nav.pools', 'pools'],
  ['/admin/users', 'nav.users', 'users'],
  ['/admin/recharges', 'nav.approvals', 'approvals'],
  ['/admin/codes', 'nav.codes', 'codes'],
  ['/admin/prices', 'nav.prices', 'prices'],
  ['/admin/error-rules', 'nav.errorRules', 'errorRules'],
  ['/admin/settings', 'nav.settings', 'settings'],
  ['/admin/audit', 'nav.audit', 'audit'],
];

const page = (name) => () => import(`../pages/${name}.js`);
route('/', { redirect: '/overview' });
route('/login', { load: page('auth'), public: true, title: 'auth.login', mode: 'login' });
route('/register', { load: page('auth'), public: true, title: 'auth.register', mode: 'register' });
route('/overview', { load: page('overview'), title: 'nav.overview' });
route('/keys', { load: page('keys'), title: 'nav.keys' });
route('/setup', { load: page('setup'), title: 'nav.setup' });
route('/setup/:keyId', { load: page('setup'), title: 'nav.setup' });
route('/logs', { load: page('logs'), title: 'nav.logs' });
route('/transactions', { load: page('transactions'), title: 'nav.transactions' });
route('/recharge', { load: page('recharge'), title: 'nav.recharge' });
route('/pricing', { load: page('pricing'), title: 'nav.pricing' });
route('/admin', { redirect: '/admin/overview' });
route('/admin/overview', { load: page('admin_overview'), admin: true, title: 'nav.adminOverview' });
route('/admin/pools', { load: page('admin_pools'), admin: true, title: 'nav.pools' });
route('/admin/users', { load: page('admin_users'), admin: true, title: 'nav.users' });
route('/admin/recharges', { load: page('admin_recharges'), admin: true, title: 'nav.approvals' });
route('/admin/codes', { load: page('admin_codes'), admin: true, title: 'nav.codes' });
route('/admin/prices', { load: page('admin_prices'), admin: true, title: 'nav.prices' });
route('/admin/error-rules', { load: page('admin_rules'), admin: true, title: 'nav.errorRules' });
route('/admin/settings', { load: page('admin_settings'), admin: true, title: 'nav.settings' });
route('/admin/audit', { load: page('admin_audit'), admin: true, title: 'nav.audit' });
fallback({ notFound: true, title: 'common.notFound' });

const app = document.getElementById('app');
let cleanup = null;
let renderSeq = 0;
let shell = null;

function runCleanup() {
  if (typeof cleanup === 'function') { try { cleanup(); } catch (e) { console.warn(e); } }
  cleanup = null;
}

function navLink([href, key, iconName]) {
  const active = location.pathname === href || (href !== '/overview' && location.pathname.startsWith(href + '/'));
  return h('li', h('a.nav-link', { href, 'aria-current': active ? 'page' : null, class: active ? 'active' : '' },
    h('span.nav-icon', icon(iconName)), h('span', t(key))));
}

function langToggle() {
  const other = getLang() === 'zh' ? 'en' : 'zh';
  return h('button.btn.btn-ghost.btn-sm', {
    type: 'button', lang: other === 'en' ? 'en' : 'zh-CN',
    'aria-label': t('common.switchLang'), onclick: () => setLang(other),
  }, other === 'en' ? 'English' : '中文');
}

function buildShell(titleKey) {
  const user = session.user || {};
  const isAdmin = user.role === 'admin';
  const sidebar = h('aside.sidebar#sidebar', { 'aria-label': t('nav.main') },
    h('a.brand', { href: '/overview' }, h('span.brand-mark', { 'aria-hidden': 'true' }, '96'), h('span', t('app.name'))),
    h('nav', { 'aria-label': t('nav.console') },
      h('p.nav-group', t('nav.console')),
      h('ul.nav-list', USER_NAV.map(navLink)),
      isAdmin ? [h('p.nav-group', t('nav.admin')), h('ul.nav-list', ADMIN_NAV.map(navLink))] : null),
    h('button.nav-link.nav-account', { type: 'button', onclick: () => import('../pages/account.js').then((m) => m.openAccount(session.user)) },
      h('span.nav-icon', icon('users')), h('span', t('account.title'))));
  const toggle = h('button.icon-btn.menu-btn', {
    type: 'button', 'aria-label': t('nav.menu'), 'aria-controls': 'sidebar', 'aria-expanded': 'false',
    onclick: () => {
      const open = document.body.classList.toggle('nav-open');
      toggle.setAttribute('aria-expanded', String(open));
    },
  }, icon('menu', 20));
  const balance = h('a.balance-pill', { href: '/recharge', title: t('overview.balance') },
    h('span.muted', t('overview.balance') + ' '), h('strong#top-balance', money(moneyOf(user, 'balance'))));
  const top = h('header.topbar',
    toggle,
    h('h1.page-title#page-title', t(titleKey)),
    h('div.topbar-right', balance, langToggle(),
      h('button.btn.btn-ghost.btn-sm.user-name', { type: 'button', title: user.email || '', 'aria-label': t('account.title') + ': ' + (user.username || ''),
        onclick: () => import('../pages/account.js').then((m) => m.openAccount(session.user)) }, user.username || user.email || ''),
      h('button.btn.btn-ghost.btn-sm', { type: 'button', onclick: logout }, t('auth.logout'))));
  const main = h('main#main', { tabindex: '-1' });
  const scrim = h('div.scrim', { onclick: () => { document.body.classList.remove('nav-open'); toggle.setAttribute('aria-expanded', 'false'); } });
  clear(app).append(h('a.skip-link', { href: '#main', onclick: (e) => { e.preventDefault(); main.focus(); } }, t('common.skip')),
    h('div.shell', sidebar, scrim, h('div.main-col', top, main)));
  return { main };
}

export async function refreshUser() {
  const me = await api.get('/api/user/me');
  session.user = (me && (me.user || me.data)) || me;
  if (me && me.currency) setCurrency(me.currency);
  const el = document.getElementById('top-balance');
  if (el) el.textContent = money(moneyOf(session.user, 'balance'));
  return session.user;
}

let loggingOut = false;

async function logout() {
  // Sessions are JWTs: dropping the token here would leave copies of it valid until they
  // expire, so the relay ends every session of the user first (POST /api/user/logout).
  // This tab signs out even if that fails; only a failure other than "already signed out" is worth a word.
  loggingOut = true;
  try {
    await api.post('/api/user/logout');
  } catch (err) {
    if (err.status !== 401) toast(t('auth.logoutFailed'), 'error');
  } finally {
    loggingOut = false;
  }
  clearSession();
  session.user = null;
  navigate('/login');
}

onUnauthorized(() => {
  session.user = null;
  if (loggingOut) return; // logout() goes to the login page itself, without "session expired"
  if (!location.pathname.startsWith('/login') && !location.pathname.startsWith('/register')) {
    toast(t('auth.expired'), 'error');
    navigate('/login?next=' + encodeURIComponent(location.pathname + location.search), { replace: true });
  }
});

onRoute(async (r, params, query) => {
  const seq = ++renderSeq;
  runCleanup();
  document.body.classList.remove('nav-open');
  if (r && r.redirect) { navigate(r.redirect, { replace: true }); return; }
  if (r && !r.public && !r.notFound && !getToken()) {
    navigate('/login?next=' + encodeURIComponent(location.pathname + location.search), { replace: true });
    return;
  }
  if (r && r.public && getToken() && session.user) { navigate('/overview', { replace: true }); return; }
  if (!r.public && getToken() && !session.user) {
    clear(app).append(h('div.boot', spinner()));
    try { await refreshUser(); } catch (err) {
      if (seq !== renderSeq) return;
      if (err.status === 401) return; // handled by onUnauthorized
      clear(app).append(h('div.boot', errorBox(err)));
      return;
    }
    if (seq !== renderSeq) return;
  }
  document.title = `${t(r.title)} · ${t('app.name')}`;
  let root;
  if (r.public) {
    root = h('main.auth-wrap#main', { tabindex: '-1' });
    clear(app).append(root);
  } else {
    ({ main: root } = buildShell(r.title));
  }
  if (r.notFound) {
    root.append(h('div.card.empty', h('h2', t('common.notFound')), h('p', h('a', { href: '/overview' }, t('nav.overview')))));
    return;
  }
  if (r.admin && (!session.user || session.user.role !== 'admin')) {
    root.append(h('div.card.empty', h('h2', t('common.forbidden'))));
    return;
  }
  root.append(spinner());
  try {
    const mod = await r.load();
    if (seq !== renderSeq) return;
    const container = h('div.page');
    const ctx = { params, query, route: r, user: session.user, refreshUser, navigate, isCurrent: () => seq === renderSeq };
    const result = await mod.render(container, ctx);
    if (seq !== renderSeq) { if (typeof result === 'function') result(); return; }
    cleanup = result;
    clear(root).append(container);
  } catch (err) {
    if (seq !== renderSeq) return;
    console.warn(err);
    clear(root).append(errorBox(err));
  }
});

onLangChange(() => { document.documentElement.lang = getLang() === 'en' ? 'en' : 'zh-CN'; rerender(); });
document.documentElement.lang = getLang() === 'en' ? 'en' : 'zh-CN';
document.addEventListener('visibilitychange', () => { if (!document.hidden) renewIfDue(); });
scheduleRenewal();
renewIfDue();
start();
