import type { Registry } from 'prom-client';

/** Latency bucket upper bounds of `http_request_duration_seconds`, in seconds. */
export const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

interface Labels {
  method: string;
  route: string;
  status: string;
}

/** One label set's figures: `buckets[i]` counts the observations whose bucket is exactly i (not cumulative). */
interface Series {
  labels: Labels;
  count: number;
  sum: number;
  buckets: Float64Array;
}

/** One value as prom-client's registry formats and its cluster aggregator sums it. */
interface MetricValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

/** What a prom-client registry asks of a metric: the same shape its own Counter and Histogram answer. */
interface CollectedMetric {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  aggregator: 'sum';
  get(): Promise<{ name: string; help: string; type: string; aggregator: 'sum'; values: MetricValue[] }>;
  reset(): void;
}

/**
 * `http_requests_total` and `http_request_duration_seconds`, counted where a request ends with one
 * lookup in nested maps and a few additions, and put into prom-client's metric shape only when
 * scraped. prom-client's own `Counter.inc` and `Histogram.observe` check the label object and
 * hash it on every call, which cost about 2 µs of every request. The exposition is the same
 * text those two would write (the test compares them), so dashboards and `serve --workers`'
 * aggregation see no difference.
 */
export function requestSeries(
  registry: Registry,
  names: { requests: string; requestsHelp: string; duration: string; durationHelp: string },
) {
  // route -> status -> method -> series: no key string built per request.
  const byRoute = new Map<string, Map<number, Map<string, Series>>>();

  function seriesOf(method: string, route: string, status: number): Series {
    let byStatus = byRoute.get(route);
    if (!byStatus) {
      byStatus = new Map();
      byRoute.set(route, byStatus);
    }
    let byMethod = byStatus.get(status);
    if (!byMethod) {
      byMethod = new Map();
      byStatus.set(status, byMethod);
    }
    let s = byMethod.get(method);
    if (!s) {
      s = {
        labels: { method, route, status: String(status) },
        count: 0,
        sum: 0,
        buckets: new Float64Array(DURATION_BUCKETS.length),
      };
      byMethod.set(method, s);
    }
    return s;
  }

  function* allSeries(): Generator<Series> {
    for (const byStatus of byRoute.values()) for (const byMethod of byStatus.values()) yield* byMethod.values();
  }

  const requests: CollectedMetric = {
    name: names.requests,
    help: names.requestsHelp,
    type: 'counter',
    aggregator: 'sum',
    async get() {
      const values = [...allSeries()].map((s) => ({ labels: { ...s.labels }, value: s.count }));
      return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
    },
    reset: () => byRoute.clear(),
  };

  const duration: CollectedMetric = {
    name: names.duration,
    help: names.durationHelp,
    type: 'histogram',
    aggregator: 'sum',
    async get() {
      const values: MetricValue[] = [];
      const bucket = `${this.name}_bucket`;
      for (const s of allSeries()) {
        let cumulative = 0;
        for (let i = 0; i < DURATION_BUCKETS.length; i++) {
          cumulative += s.buckets[i]!;
          values.push({ labels: { le: DURATION_BUCKETS[i]!, ...s.labels }, value: cumulative, metricName: bucket });
        }
        values.push({ labels: { le: '+Inf', ...s.labels }, value: s.count, metricName: bucket });
        values.push({ labels: { ...s.labels }, value: s.sum, metricName: `${this.name}_sum` });
        values.push({ labels: { ...s.labels }, value: s.count, metricName: `${this.name}_count` });
      }
      return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
    },
    reset: () => byRoute.clear(),
  };

  registry.registerMetric(requests as never);
  registry.registerMetric(duration as never);

  return {
    /** One finished request. Unbounded label values are the caller's to prevent (see routeOf). */
    record(method: string, route: string, status: number, seconds: number): void {
      const s = seriesOf(method, route, status);
      s.count += 1;
      s.sum += seconds;
      for (let i = 0; i < DURATION_BUCKETS.length; i++) {
        if (seconds <= DURATION_BUCKETS[i]!) {
          s.buckets[i]! += 1;
          break;
        }
      }
    },
  };
}
