import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AggregatorRegistry, Counter, Histogram, Registry } from 'prom-client';
import { DURATION_BUCKETS, requestSeries } from './request-series.ts';

// The request series must read exactly as prom-client's own Counter and Histogram would, fed the
// same requests: scrapers, dashboards and the `serve --workers` aggregate depend on that text.

const NAMES = {
  requests: 'http_requests_total',
  requestsHelp: 'HTTP requests by method, route template and status.',
  duration: 'http_request_duration_seconds',
  durationHelp: 'HTTP request latency by method, route template and status.',
};

/** Requests spread over every bucket edge, both sides of it, and past the last bound. */
const REQUESTS: [string, string, number, number][] = [
  ['GET', '/v2/auth/test', 200, 0.0004],
  ['GET', '/v2/auth/test', 200, 0.001],
  ['GET', '/v2/auth/test', 200, 0.0010001],
  ['GET', '/v2/auth/test', 401, 0.003],
  ['POST', 'oauth', 200, 0.049],
  ['POST', 'oauth', 200, 0.05],
  ['POST', 'oauth', 400, 7],
  ['OTHER', 'v2_other', 404, 42],
  ...DURATION_BUCKETS.map((b): [string, string, number, number] => ['GET', '/healthz', 200, b]),
];

function prometheusOwn(): Registry {
  const registry = new Registry();
  const labelNames = ['method', 'route', 'status'];
  const counter = new Counter({ name: NAMES.requests, help: NAMES.requestsHelp, labelNames, registers: [registry] });
  const histogram = new Histogram({
    name: NAMES.duration,
    help: NAMES.durationHelp,
    labelNames,
    buckets: [...DURATION_BUCKETS],
    registers: [registry],
  });
  for (const [method, route, status, seconds] of REQUESTS) {
    const labels = { method, route, status: String(status) };
    counter.inc(labels);
    histogram.observe(labels, seconds);
  }
  return registry;
}

function ours(): Registry {
  const registry = new Registry();
  const series = requestSeries(registry, NAMES);
  for (const [method, route, status, seconds] of REQUESTS) series.record(method, route, status, seconds);
  return registry;
}

/** The exposition's lines, sorted: the order of series within a metric is not part of the format. */
const lines = (text: string) => text.split('\n').sort();

describe('request series', () => {
  it('writes the same exposition text as prom-client’s Counter and Histogram', async () => {
    const expected = await prometheusOwn().metrics();
    const actual = await ours().metrics();
    assert.ok(expected.includes('http_request_duration_seconds_bucket{le="0.001",method="GET"'));
    assert.deepEqual(lines(actual), lines(expected));
  });

  it('answers the JSON the cluster aggregate sums, the same as prom-client’s', async () => {
    // What the aggregate reads of each value: its metric, its labels and its number.
    const sorted = (json: Awaited<ReturnType<Registry['getMetricsAsJSON']>>) =>
      json.map((m) => ({
        name: m.name,
        type: m.type,
        aggregator: m.aggregator,
        values: m.values
          .map((v) => {
            const labels = Object.entries(v.labels).sort(([a], [b]) => a.localeCompare(b));
            const metricName = (v as { metricName?: string }).metricName ?? m.name;
            return JSON.stringify([metricName, labels, v.value]);
          })
          .sort(),
      }));
    assert.deepEqual(sorted(await ours().getMetricsAsJSON()), sorted(await prometheusOwn().getMetricsAsJSON()));
    // Two workers' figures summed: every count doubles.
    const merged = AggregatorRegistry.aggregate([await ours().getMetricsAsJSON(), await ours().getMetricsAsJSON()]);
    const text = await merged.metrics();
    assert.match(text, /^http_requests_total\{method="POST",route="oauth",status="200"\} 4$/m);
    assert.match(text, /^http_request_duration_seconds_count\{method="OTHER",route="v2_other",status="404"\} 2$/m);
  });

  it('starts again from nothing when the registry is reset', async () => {
    const registry = ours();
    registry.resetMetrics();
    assert.doesNotMatch(await registry.metrics(), /route=/);
  });
});
