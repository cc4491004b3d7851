// The admin dashboard: charts of the stored request figures (GET /api/v1/admin/metrics/series) for the last hour, day
// or week, drawn by uPlot. Loaded on first use (a dynamic import), so the chat app's own bundle stays small. Charts
// take their container's width and follow it (a phone's too), and the page's light or dark colours.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { api, type MetricsSeries } from './api';
import { byId, el } from './dom';
import { showError } from './admin-ui';

const $ = {
  periods: [...document.querySelectorAll<HTMLButtonElement>('#admin-dashboard button[data-period]')],
  summary: byId('dashboard-summary'),
  charts: byId('dashboard-charts'),
};

/** Colours that read on the light and the dark background alike. */
const palette = ['#3b82f6', '#f59e0b', '#ef4444', '#10b981', '#a855f7', '#06b6d4'];

type Line = { label: string; values: (number | null)[]; unit: string };

let period = '1h';
let plots: { plot: uPlot; box: HTMLElement }[] = [];
let loads = 0;
const resize = new ResizeObserver(() => {
  for (const { plot, box } of plots) plot.setSize({ width: widthOf(box), height: plot.height });
});

/** A chart fills its box (a column of the grid, or the whole width on a phone). */
function widthOf(box: HTMLElement): number {
  return Math.max(200, box.clientWidth - 2);
}

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function format(value: number | null | undefined, unit: string): string {
  if (value == null) return '–';
  return `${Number.isInteger(value) ? value : value.toFixed(value < 10 ? 2 : 1)}${unit ? ` ${unit}` : ''}`;
}

/** The indices of values with no value on either side. */
function isolated(values: (number | null)[]): number[] {
  return values.flatMap((v, i) => (v != null && values[i - 1] == null && values[i + 1] == null ? [i] : []));
}

function chart(title: string, times: number[], lines: Line[]): HTMLElement {
  const text = cssVar('--text');
  const grid = cssVar('--border');
  const axis = { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
  const points = lines.reduce((n, line) => n + line.values.filter((v) => v != null && v > 0).length, 0);
  const box = el('figure', { className: 'chart', attrs: { role: 'img', 'aria-label': title, 'data-points': String(points) } });
  $.charts.append(box);
  const plot = new uPlot({
    title,
    width: widthOf(box),
    height: window.matchMedia('(max-width: 760px)').matches ? 180 : 220,
    series: [{}, ...lines.map((line, i) => ({
      label: line.label,
      stroke: palette[i % palette.length],
      width: 2,
      // A lone value (between empty buckets) draws no line: it is drawn as a point.
      points: { show: true, size: 6, fill: palette[i % palette.length], filter: () => isolated(line.values) },
      value: (_: uPlot, v: number | null) => format(v, line.unit),
    }))],
    axes: [{ ...axis }, { ...axis, size: 56, values: (_: uPlot, ticks: number[]) => ticks.map((t) => format(t, '')) }],
    scales: { x: { time: true } },
    cursor: { drag: { x: false, y: false } },
  }, [times, ...lines.map((line) => line.values)] as uPlot.AlignedData, box);
  plots.push({ plot, box });
  return box;
}

function hostName(id: string, names: Map<string, string>): string {
  return names.get(id) ?? `host ${id.slice(0, 8)}`;
}

function draw(series: MetricsSeries, names: Map<string, string>): void {
  for (const { plot } of plots) plot.destroy();
  plots = [];
  $.charts.replaceChildren();
  const times = series.times;
  chart('Messages per minute', times, [
    { label: 'model', values: series.modelPerMinute, unit: '/min' },
    { label: 'fallback', values: series.fallbackPerMinute, unit: '/min' },
    { label: 'notice', values: series.noticePerMinute, unit: '/min' },
  ]);
  chart('Latency (queued to answered)', times, [
    { label: 'p50', values: series.latencyP50Ms, unit: 'ms' },
    { label: 'p99', values: series.latencyP99Ms, unit: 'ms' },
  ]);
  chart('Time to first token', times, [
    { label: 'p50', values: series.firstTokenP50Ms, unit: 'ms' },
    { label: 'p99', values: series.firstTokenP99Ms, unit: 'ms' },
  ]);
  chart('Tokens per second by host', times, series.hosts.length > 0
    ? series.hosts.map((h) => ({ label: hostName(h.workerId, names), values: h.tokensPerSecond, unit: 'tok/s' }))
    : [{ label: 'no host answered', values: times.map(() => null), unit: '' }]);
  chart('Queue length (mean waiting)', times, [{ label: 'waiting', values: series.queueLength, unit: '' }]);
}

async function load(): Promise<void> {
  const current = ++loads;
  for (const b of $.periods) b.setAttribute('aria-pressed', String(b.dataset.period === period));
  try {
    const [series, status] = await Promise.all([api.metricsSeries(period), api.adminStatus()]);
    if (current !== loads) return;
    const names = new Map(status.platform.workers.map((w) => [w.id, w.name ?? `host ${w.id.slice(0, 8)}`]));
    const words: Record<string, string> = { '1h': 'the last hour', '1d': 'the last day', '7d': 'the last week' };
    $.summary.textContent = `${series.requests} request${series.requests === 1 ? '' : 's'} in ${words[period] ?? period}` +
      ` · ${status.platform.queueDepth} waiting now · default model ${status.defaultModel}` +
      (series.truncated ? ' · only the oldest requests are drawn' : '');
    draw(series, names);
  } catch (error) {
    showError(error);
  }
}

let wired = false;

/** Opens (or refreshes) the dashboard. */
export function showDashboard(): void {
  if (!wired) {
    wired = true;
    resize.observe($.charts);
    for (const b of $.periods) {
      b.addEventListener('click', () => {
        period = b.dataset.period ?? '1h';
        void load();
      });
    }
  }
  void load();
}
