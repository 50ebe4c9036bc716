/**
 * A server-rendered SVG bar chart of requests per day: no script, no library, readable without
 * colour (each bar has a <title> with its date and count, and the whole chart a text summary).
 * Styling comes from classes in app.css (the CSP forbids inline styles).
 */

const DAY = 86_400_000;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

export interface DayCount {
  /** The UTC day, YYYY-MM-DD. */
  date: string;
  count: number;
}

const dayKey = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** Counts per UTC day for the `days` days ending today (oldest first; days without requests are 0). */
export function dailyCounts(timestamps: Iterable<number>, now: number, days = 30): DayCount[] {
  const today = Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), new Date(now).getUTCDate());
  const buckets = new Map<string, number>();
  for (let i = days - 1; i >= 0; i--) buckets.set(dayKey(today - i * DAY), 0);
  for (const at of timestamps) {
    const key = dayKey(at);
    const current = buckets.get(key);
    if (current !== undefined) buckets.set(key, current + 1);
  }
  return [...buckets].map(([date, count]) => ({ date, count }));
}

const escapeXml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** "3 Nov" from "2026-11-03". */
function shortDate(date: string): string {
  const [, m, d] = date.split('-').map(Number) as [number, number, number];
  return `${d} ${MONTHS[m - 1]}`;
}

/**
 * A "nice" axis maximum at or above the value: 4, 6, 8, 10, 20, 40, 60, 80, 100, 200, ... so that
 * the three gridlines (0, half, max) always fall on whole numbers.
 */
export function niceMax(value: number): number {
  if (value <= 4) return 4;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 4, 6, 8, 10]) {
    if (step * magnitude >= value && (step * magnitude) % 2 === 0) return step * magnitude;
  }
  return 10 * magnitude;
}

const formatCount = (n: number) => n.toLocaleString('en-US');

export interface ChartSummary {
  total: number;
  peak: DayCount | null;
  activeDays: number;
}

export function summarize(data: DayCount[]): ChartSummary {
  let total = 0;
  let peak: DayCount | null = null;
  let activeDays = 0;
  for (const d of data) {
    total += d.count;
    if (d.count > 0) activeDays++;
    if (d.count > 0 && (!peak || d.count > peak.count)) peak = d;
  }
  return { total, peak, activeDays };
}

/**
 * The chart as an `<svg>` string (safe to embed raw: every text in it is escaped). It scales with
 * its container (viewBox) and has a title and description for assistive technology.
 */
export function barChartSvg(data: DayCount[], opts: { title: string; id?: string }): string {
  const id = opts.id ?? 'chart';
  const width = 720;
  const height = 220;
  const pad = { top: 16, right: 12, bottom: 30, left: 64 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const max = niceMax(Math.max(0, ...data.map((d) => d.count)));
  const slot = plotW / Math.max(1, data.length);
  const barW = Math.max(2, slot * 0.68);
  const y = (v: number) => pad.top + plotH - (v / max) * plotH;
  const { total, peak } = summarize(data);
  const desc =
    total === 0
      ? `No requests in the last ${data.length} days.`
      : `${formatCount(total)} requests in the last ${data.length} days; ` +
        `busiest day ${shortDate(peak!.date)} with ${formatCount(peak!.count)}.`;

  const parts: string[] = [];
  parts.push(
    `<svg class="chart" viewBox="0 0 ${width} ${height}" role="img" ` +
      `aria-labelledby="${id}-title ${id}-desc" xmlns="http://www.w3.org/2000/svg">`,
    `<title id="${id}-title">${escapeXml(opts.title)}</title>`,
    `<desc id="${id}-desc">${escapeXml(desc)}</desc>`,
  );
  // Grid lines and y-axis labels at 0, 1/2 and the maximum.
  for (const v of [0, max / 2, max]) {
    const gy = y(v).toFixed(1);
    parts.push(
      `<line class="chart-grid${v === 0 ? ' chart-axis' : ''}" ` +
        `x1="${pad.left}" x2="${width - pad.right}" y1="${gy}" y2="${gy}"/>`,
      `<text class="chart-label" x="${pad.left - 8}" y="${gy}" text-anchor="end" dominant-baseline="middle">` +
        `${escapeXml(formatCount(v))}</text>`,
    );
  }
  data.forEach((d, i) => {
    const x = pad.left + i * slot + (slot - barW) / 2;
    const label = `${shortDate(d.date)}: ${formatCount(d.count)} request${d.count === 1 ? '' : 's'}`;
    if (d.count > 0) {
      const top = y(d.count);
      const h = Math.max(2, pad.top + plotH - top);
      parts.push(
        `<rect class="chart-bar" x="${x.toFixed(1)}" y="${(pad.top + plotH - h).toFixed(1)}" ` +
          `width="${barW.toFixed(1)}" height="${h.toFixed(1)}" rx="2"><title>${escapeXml(label)}</title></rect>`,
      );
    } else {
      // A faint stub keeps empty days visible (and hoverable).
      parts.push(
        `<rect class="chart-empty" x="${x.toFixed(1)}" y="${(pad.top + plotH - 2).toFixed(1)}" ` +
          `width="${barW.toFixed(1)}" height="2"><title>${escapeXml(label)}</title></rect>`,
      );
    }
    // Date labels every 7 days, counted back from today (so today is always labelled).
    if ((data.length - 1 - i) % 7 === 0) {
      const last = i === data.length - 1;
      parts.push(
        `<text class="chart-label" x="${(last ? x + barW : x + barW / 2).toFixed(1)}" y="${height - 6}" ` +
          `text-anchor="${last ? 'end' : 'middle'}">${escapeXml(last ? 'Today' : shortDate(d.date))}</text>`,
      );
    }
  });
  parts.push('</svg>');
  return parts.join('');
}
