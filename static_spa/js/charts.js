// Charts: uPlot (vendored, loaded on first use) for time series; tiny inline SVG sparklines.
import { h } from './dom.js';

const VERSION = (document.querySelector('meta[name="app-version"]') || {}).content || '';
let loading = null;

export function loadUPlot() {
  if (window.uPlot) return Promise.resolve(window.uPlot);
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      const s = document.createElement('script');
      s.src = '/vendor/uPlot.iife.min.js' + (VERSION ? '?v=' + VERSION : '');
      s.onload = () => resolve(window.uPlot);
      s.onerror = () => { loading = null; reject(new Error('uPlot failed to load')); };
      document.head.append(s);
    });
  }
  return loading;
}

function axisSize(u, values, axisIdx, cycleNum) {
  const axis = u.axes[axisIdx];
  if (cycleNum > 1) return axis._size;
  const longest = (values || []).reduce((m, v) => Math.max(m, String(v).length), 0);
  return Math.max(40, Math.ceil(longest * 7.2) + 18);
}

export const PALETTE = ['#2563eb', '#16a34a', '#f59e0b', '#db2777', '#7c3aed', '#0891b2', '#dc2626', '#64748b'];

function cssVar(name, fallback) {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

/**
 * A time-series chart. opts: {x: [epoch seconds], series: [{label, data, color, bars, scale}],
 * height, yLabel, y2Label, yFmt, y2Fmt}. Returns a destroy function.
 */
export async function timeChart(container, opts) {
  const uPlot = await loadUPlot();
  const height = opts.height || 240;
  const grid = { stroke: cssVar('--border', '#e5e7eb'), width: 1 };
  const axisColor = cssVar('--muted', '#6b7280');
  const hasY2 = opts.series.some((s) => s.scale === 'y2');
  const bars = uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.6, 40] }) : null;
  const series = [{}].concat(opts.series.map((s, i) => ({
    label: s.label,
    scale: s.scale || 'y',
    stroke: s.color || PALETTE[i % PALETTE.length],
    fill: s.bars ? (s.color || PALETTE[i % PALETTE.length]) + 'cc' : (s.fill ? (s.color || PALETTE[i]) + '22' : undefined),
    width: s.bars ? 0 : 2,
    paths: s.bars && bars ? bars : undefined,
    points: { show: !s.bars && opts.x.length <= 16, size: 5 },
    value: (u, v) => (v === null || v === undefined ? '—' : (s.fmt ? s.fmt(v) : String(v))),
  })));
  const axes = [
    { stroke: axisColor, grid, ticks: grid, values: opts.xValues || ((u, splits) => splits.map((v) => {
      const d = new Date(v * 1000);
      return `${d.getMonth() + 1}/${d.getDate()}`;
    })) },
    { stroke: axisColor, grid, ticks: grid, scale: 'y', size: axisSize, label: opts.yLabel,
      values: (u, splits) => splits.map((v) => (opts.yFmt ? opts.yFmt(v) : v)) },
  ];
  if (hasY2) {
    axes.push({ stroke: axisColor, scale: 'y2', side: 1, size: axisSize, grid: { show: false }, label: opts.y2Label,
      values: (u, splits) => splits.map((v) => (opts.y2Fmt ? opts.y2Fmt(v) : v)) });
  }
  const scales = { x: { time: true }, y: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] } };
  if (hasY2) scales.y2 = { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] };
  const width = Math.max(200, container.clientWidth || 600);
  // Axis width follows its longest tick label (money labels can be long: $0.000075).
  const plot = new uPlot({ width, height, series, axes, scales, cursor: { drag: { x: false, y: false } },
    legend: { show: true } }, [opts.x, ...opts.series.map((s) => s.data)], container);
  const ro = new ResizeObserver(() => {
    const w = Math.max(200, container.clientWidth);
    if (Math.abs(w - plot.width) > 2) plot.setSize({ width: w, height });
  });
  ro.observe(container);
  return () => { ro.disconnect(); plot.destroy(); };
}

/** An inline SVG sparkline of numbers (nulls skipped). */
export function sparkline(values, { width = 96, height = 24, color = '#2563eb', label = '' } = {}) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('width', width);
  svg.setAttribute('height', height);
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  svg.classList.add('sparkline');
  const nums = values.map(Number).filter((v) => Number.isFinite(v));
  if (nums.length < 2) return svg;
  const max = Math.max(...nums) || 1;
  const min = Math.min(0, ...nums);
  const step = width / (values.length - 1);
  let d = '';
  values.forEach((v, i) => {
    const n = Number(v);
    if (!Number.isFinite(n)) return;
    const y = height - 2 - ((n - min) / (max - min || 1)) * (height - 4);
    d += (d ? 'L' : 'M') + (i * step).toFixed(1) + ' ' + y.toFixed(1);
  });
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('d', d);
  path.setAttribute('fill', 'none');
  path.setAttribute('stroke', color);
  path.setAttribute('stroke-width', '1.5');
  svg.append(path);
  return svg;
}

/** A simple horizontal bar list (label, value, share) for "spend by model/key". */
export function barList(rows, { fmt = String, color = '#2563eb' } = {}) {
  const max = Math.max(0, ...rows.map((r) => Number(r.value) || 0)) || 1;
  return h('ul.bar-list', rows.map((r) => h('li',
    h('div.bar-label', h('span.bar-name', { title: r.label }, r.label), h('span.bar-value', fmt(r.value))),
    h('div.bar-track', { 'aria-hidden': 'true' },
      h('div.bar-fill', { style: { width: ((Number(r.value) || 0) / max * 100).toFixed(1) + '%', background: r.color || color } })),
    r.sub ? h('div.bar-sub.muted', r.sub) : null)));
}
