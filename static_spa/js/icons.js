// A few 20×20 line icons (inline SVG, no font needed).
const P = {
  overview: 'M3 3h6v8H3zM11 3h6v4h-6zM11 9h6v8h-6zM3 13h6v4H3z',
  keys: 'M12.5 3a4.5 4.5 0 1 1-3.9 6.7L3 15.3V17h3v-2h2v-2h1.7A4.5 4.5 0 0 1 12.5 3zM14 6.5a1 1 0 1 0 0 .01',
  setup: 'M4 5l4 5-4 5M10 15h6',
  logs: 'M4 4h12M4 8h12M4 12h12M4 16h8',
  transactions: 'M4 7h11l-3-3M16 13H5l3 3',
  recharge: 'M10 3v14M3 10h14',
  pricing: 'M3 10l7-7h7v7l-7 7zM13.5 6.5a.5.5 0 1 0 0 .01',
  adminOverview: 'M3 17V9M8 17V4M13 17v-6M18 17V7',
  pools: 'M3 5c0-1.1 3.1-2 7-2s7 .9 7 2-3.1 2-7 2-7-.9-7-2zM3 5v10c0 1.1 3.1 2 7 2s7-.9 7-2V5M3 10c0 1.1 3.1 2 7 2s7-.9 7-2',
  users: 'M7 9a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM1.5 17c.5-3 2.7-5 5.5-5s5 2 5.5 5M13 3.3a3 3 0 0 1 0 5.4M15 12.3c1.9.6 3.2 2.3 3.5 4.7',
  approvals: 'M4 10l4 4 8-8',
  codes: 'M3 6h14v3a1.5 1.5 0 0 0 0 3v3H3v-3a1.5 1.5 0 0 0 0-3z',
  prices: 'M10 2v16M14 5.5C13.3 4.5 12 4 10 4 7.8 4 6 5 6 6.8 6 11 14 9 14 13.2 14 15 12.2 16 10 16c-2 0-3.5-.6-4.2-1.8',
  errorRules: 'M10 3l8 14H2zM10 8v4M10 14.5v.5',
  settings: 'M10 13a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM10 1.5v2.5M10 16v2.5M1.5 10H4M16 10h2.5M4 4l1.8 1.8M14.2 14.2L16 16M4 16l1.8-1.8M14.2 5.8L16 4',
  audit: 'M5 2h7l4 4v12H5zM12 2v4h4M8 10h5M8 13h5',
  menu: 'M3 5h14M3 10h14M3 15h14',
};
export function icon(name, size = 18) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 20 20');
  svg.setAttribute('width', size);
  svg.setAttribute('height', size);
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('d', P[name] || P.overview);
  path.setAttribute('fill', 'none');
  path.setAttribute('stroke', 'currentColor');
  path.setAttribute('stroke-width', '1.6');
  path.setAttribute('stroke-linecap', 'round');
  path.setAttribute('stroke-linejoin', 'round');
  svg.append(path);
  return svg;
}
