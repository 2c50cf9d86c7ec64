// History-API router: the relay serves index.html for every non-API path, so client routes are
// real paths (/keys, /admin/pools…). Same-origin <a href="/…"> clicks are handled here.

const routes = [];
let notFound = null;
let handler = null;

/** route('/keys', {load: () => import(...), auth, admin, title}) */
export function route(path, spec) { routes.push({ path, ...spec }); }
export function fallback(spec) { notFound = spec; }
export function onRoute(fn) { handler = fn; }

export function match(pathname) {
  for (const r of routes) {
    const names = [];
    const re = new RegExp('^' + r.path.replace(/:([a-z_]+)/gi, (_, n) => { names.push(n); return '([^/]+)'; }) + '/?$');
    const m = re.exec(pathname);
    if (m) {
      const params = {};
      names.forEach((n, i) => { params[n] = decodeURIComponent(m[i + 1]); });
      return { route: r, params };
    }
  }
  return { route: notFound, params: {} };
}

export function currentQuery() { return new URLSearchParams(location.search); }

export function navigate(to, { replace = false } = {}) {
  if (to === location.pathname + location.search) { render(); return; }
  if (replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  render();
}

export function render() {
  const { route: r, params } = match(location.pathname);
  if (handler) handler(r, params, currentQuery());
}

export function start() {
  window.addEventListener('popstate', render);
  document.addEventListener('click', (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const a = e.target.closest && e.target.closest('a[href]');
    if (!a || a.target || a.hasAttribute('download') || a.dataset.external !== undefined) return;
    const href = a.getAttribute('href');
    if (!href.startsWith('/') || href.startsWith('//') || href.startsWith('/api/') || href.startsWith('/v1/')) return;
    e.preventDefault();
    navigate(href);
  });
  render();
}
