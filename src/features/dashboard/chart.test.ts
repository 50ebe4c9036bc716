import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { barChartSvg, dailyCounts, niceMax, summarize } from './chart.ts';

const DAY = 86_400_000;
const NOW = Date.parse('2026-11-27T12:00:00.000Z');

describe('requests-per-day chart', () => {
  it('counts per UTC day for the last 30 days, oldest first, with empty days as 0', () => {
    const days = dailyCounts(
      [NOW, NOW - 1000, NOW - 2 * DAY, NOW - 40 * DAY, Date.parse('2026-11-27T00:00:00.000Z')],
      NOW,
      30,
    );
    assert.equal(days.length, 30);
    assert.equal(days[0]!.date, '2026-10-29');
    assert.deepEqual(days.at(-1), { date: '2026-11-27', count: 3 });
    assert.deepEqual(days.at(-3), { date: '2026-11-25', count: 1 });
    assert.equal(summarize(days).total, 4, 'the request 40 days ago is outside the chart');
  });

  it('picks axis maxima whose half is a whole number', () => {
    assert.equal(niceMax(0), 4);
    assert.equal(niceMax(3), 4);
    assert.equal(niceMax(5), 6);
    assert.equal(niceMax(9), 10);
    assert.equal(niceMax(11), 20);
    assert.equal(niceMax(25), 40);
    assert.equal(niceMax(4500), 6000);
    for (let v = 1; v < 5000; v += 7) {
      const m = niceMax(v);
      assert.ok(m >= v && m % 2 === 0, `niceMax(${v}) = ${m}`);
    }
  });

  it('draws one bar or stub per day, with a title and a text summary, every text escaped', () => {
    const days = dailyCounts([NOW, NOW, NOW - DAY], NOW, 30);
    const svg = barChartSvg(days, { title: 'Requests with <Billing & Co>', id: 'c1' });
    assert.match(svg, /^<svg [^>]*role="img"[^>]*aria-labelledby="c1-title c1-desc"/);
    assert.equal((svg.match(/class="chart-bar"/g) ?? []).length, 2);
    assert.equal((svg.match(/class="chart-empty"/g) ?? []).length, 28);
    assert.match(svg, /<title>27 Nov: 2 requests<\/title>/);
    assert.match(svg, /<desc id="c1-desc">3 requests in the last 30 days; busiest day 27 Nov with 2.<\/desc>/);
    assert.ok(svg.includes('Requests with &#60;Billing &#38; Co&#62;'));
    assert.ok(!svg.includes('<Billing'));
    assert.ok(!svg.includes('style='), 'no inline styles (the CSP forbids them)');
    assert.match(barChartSvg(dailyCounts([], NOW), { title: 't' }), /No requests in the last 30 days/);
  });
});
