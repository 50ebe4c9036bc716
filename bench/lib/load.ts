/**
 * One measured load: autocannon against a URL for a fixed time with a fixed number of
 * connections (closed loop: each connection sends its next request when the previous answer
 * arrives). Latencies are recorded here from every answer of the expected status (autocannon's
 * own histogram keeps only 2xx and whole milliseconds), so p50/p99 have sub-millisecond resolution.
 */
import autocannon from 'autocannon';

export interface LoadRequest {
  method?: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** Called before each request: return the request to send (e.g. a fresh token). */
  setupRequest?: (req: { method: string; path: string; headers: Record<string, string>; body?: string }) => {
    method: string;
    path: string;
    headers: Record<string, string>;
    body?: string;
  };
  /** Sees each answer (e.g. to keep the refresh token it carries). */
  onResponse?: (status: number, body: string) => void;
}

export interface LoadResult {
  /** Latency of every answer with the expected status, ms, in arrival order. */
  latencies: Float64Array;
  /** Answers with the expected status, per second. */
  rps: number;
  p50: number;
  p99: number;
  mean: number;
  ok: number;
  /** Answers with another status, connection errors and timeouts. */
  bad: number;
  statuses: Record<string, number>;
  errors: number;
  timeouts: number;
  durationS: number;
  connections: number;
}

export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export async function runLoad(opts: {
  url: string;
  request: LoadRequest;
  durationS: number;
  connections: number;
  /** The status an answer must have to count (200 unless told). */
  expectStatus?: number;
}): Promise<LoadResult> {
  const expect = opts.expectStatus ?? 200;
  let latencies = new Float64Array(1 << 16);
  let n = 0;
  const statuses: Record<string, number> = {};
  const { request } = opts;

  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: opts.url,
        connections: opts.connections,
        duration: opts.durationS,
        pipelining: 1,
        timeout: 10,
        requests: [
          {
            method: request.method ?? 'GET',
            path: request.path,
            headers: request.headers ?? {},
            ...(request.body !== undefined ? { body: request.body } : {}),
            ...(request.setupRequest ? { setupRequest: request.setupRequest as never } : {}),
            ...(request.onResponse
              ? { onResponse: ((status: number, body: string) => request.onResponse!(status, body)) as never }
              : {}),
          },
        ],
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
    instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
      statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
      if (statusCode !== expect) return;
      if (n === latencies.length) {
        const bigger = new Float64Array(latencies.length * 2);
        bigger.set(latencies);
        latencies = bigger;
      }
      latencies[n++] = responseTime;
    });
  });

  const raw = latencies.slice(0, n);
  const sorted = raw.slice().sort();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i]!;
  const total = Object.values(statuses).reduce((a, b) => a + b, 0);
  const durationS = result.duration || opts.durationS;
  return {
    latencies: raw,
    rps: n / durationS,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    mean: n ? sum / n : NaN,
    ok: n,
    bad: total - n + result.errors + result.timeouts,
    statuses,
    errors: result.errors,
    timeouts: result.timeouts,
    durationS,
    connections: opts.connections,
  };
}
