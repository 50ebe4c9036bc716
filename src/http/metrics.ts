import cluster from 'node:cluster';
import crypto from 'node:crypto';
import type { Middleware } from 'koa';
import ipaddr from 'ipaddr.js';
import type Provider from 'oidc-provider';
import { AggregatorRegistry, Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { AppContext, AppState } from './context.ts';
import type { RequestObserver } from './access-log.ts';
import { requestSeries } from './request-series.ts';

export type LoginOutcome = 'success' | 'failure' | 'throttled';
export type DeliveryOutcome = 'succeeded' | 'failed';

/**
 * What the rest of the app records. Features receive these callbacks (never prom-client itself);
 * each is a counter increment or a histogram observation, cheap enough for the hot path.
 */
export interface Metrics {
  /** The per-app registry (never prom-client's global one, so one process can build several apps). */
  readonly registry: Registry;
  request(method: string, route: string, status: number, seconds: number): void;
  tokenIssued(grant: string): void;
  /** One finished sign-in attempt: the password step (or, with a second factor, that step). */
  login(result: LoginOutcome): void;
  /** One client secret hashed and compared with the stored hash (once per protocol request at most). */
  clientSecretChecked(matched: boolean): void;
  /** `kind` is bounded: the limiter's scope and bucket type, e.g. `v2:key`, `token:client`. */
  rateLimitRefused(kind: string): void;
  /** One delivery attempt of a webhook (a retry counts again). */
  webhookDelivery(result: DeliveryOutcome): void;
  /** How to count pending outbox rows; read at scrape time, never on the request path. */
  collectOutboxDepth(count: () => Promise<number>): void;
  /** The exposition text (in a `serve --workers` worker: every worker's, summed by the primary). */
  render(): Promise<{ contentType: string; body: string }>;
}

export interface MetricsOptions {
  /** Also export process metrics (CPU, memory, event loop lag, GC): for real servers, not tests. */
  processMetrics?: boolean;
  /** This process is a `serve --workers N` worker: answer /metrics with the primary's aggregate. */
  clusterWorker?: boolean;
}

/**
 * How often the event loop is sampled for the `nodejs_eventloop_lag_*` figures, ms. prom-client's
 * default, 10 ms, wakes an idle process 100 times a second, which cost an idle server about a quarter
 * of its CPU on our machines (bench/README.md). Every 100 ms still catches each stall longer than
 * that, and shorter ones in proportion to their length.
 */
const EVENT_LOOP_SAMPLE_MS = 100;

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const GRANTS = new Set(['authorization_code', 'refresh_token', 'client_credentials']);

export function createMetrics(opts: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (opts.processMetrics)
    collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });

  const requests = requestSeries(registry, {
    requests: 'http_requests_total',
    requestsHelp: 'HTTP requests by method, route template and status.',
    duration: 'http_request_duration_seconds',
    durationHelp: 'HTTP request latency (until the handler chain returns) by method, route template and status.',
  });
  const tokens = new Counter({
    name: 'oauth_tokens_issued_total',
    help: 'Successful token endpoint responses, by grant type.',
    labelNames: ['grant'],
    registers: [registry],
  });
  const logins = new Counter({
    name: 'logins_total',
    help: 'Sign-in attempts on the login forms, by result.',
    labelNames: ['result'],
    registers: [registry],
  });
  const secretChecks = new Counter({
    name: 'oauth_client_secret_checks_total',
    help: 'Client secrets compared with their stored hash, by result (a run of mismatches is someone guessing).',
    labelNames: ['result'],
    registers: [registry],
  });
  const refusals = new Counter({
    name: 'rate_limit_refusals_total',
    help: 'Requests refused by a rate limit, by limiter and bucket type.',
    labelNames: ['kind'],
    registers: [registry],
  });
  const deliveries = new Counter({
    name: 'webhook_deliveries_total',
    help: 'Webhook delivery attempts, by result.',
    labelNames: ['result'],
    registers: [registry],
  });
  let countOutbox: (() => Promise<number>) | undefined;
  new Gauge({
    name: 'webhook_outbox_depth',
    help: 'Webhook deliveries waiting to be sent (pending), read from the database at scrape time.',
    registers: [registry],
    // Every worker reads the same table: the aggregate is one reading, not a sum.
    aggregator: 'max',
    async collect() {
      if (!countOutbox) return;
      try {
        this.set(await countOutbox());
      } catch {
        // Database unreachable: keep the last reading (readiness reports the outage).
      }
    },
  });

  // Series that exist from the start, so rates and alerts work before the first event.
  for (const result of ['success', 'failure', 'throttled']) logins.inc({ result }, 0);
  for (const result of ['succeeded', 'failed']) deliveries.inc({ result }, 0);
  for (const result of ['matched', 'mismatched']) secretChecks.inc({ result }, 0);
  for (const grant of GRANTS) tokens.inc({ grant }, 0);

  if (opts.clusterWorker) {
    // Answer the primary's requests for this worker's metrics (see serve.ts).
    new AggregatorRegistry();
    AggregatorRegistry.setRegistries([registry]);
  }

  return {
    registry,
    request(method, route, status, seconds) {
      requests.record(METHODS.has(method) ? method : 'OTHER', route, status, seconds);
    },
    tokenIssued(grant) {
      tokens.inc({ grant: GRANTS.has(grant) ? grant : 'other' });
    },
    login(result) {
      logins.inc({ result });
    },
    clientSecretChecked(matched) {
      secretChecks.inc({ result: matched ? 'matched' : 'mismatched' });
    },
    rateLimitRefused(kind) {
      refusals.inc({ kind });
    },
    webhookDelivery(result) {
      deliveries.inc({ result });
    },
    collectOutboxDepth(count) {
      countOutbox = count;
    },
    async render() {
      const body = opts.clusterWorker ? await askPrimary() : await registry.metrics();
      return { contentType: registry.contentType, body };
    },
  };
}

/** IPC messages between a worker's /metrics and the primary (which aggregates every worker). */
export const METRICS_REQUEST = 'latchkey:metrics-request';
export const METRICS_RESPONSE = 'latchkey:metrics-response';
let askCounter = 0;

function askPrimary(): Promise<string> {
  const id = `${process.pid}:${askCounter++}`;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      process.off('message', onMessage);
      reject(new Error('the primary did not answer with metrics'));
    }, 6_000);
    function onMessage(msg: { type?: string; id?: string; text?: string; error?: string }) {
      if (msg?.type !== METRICS_RESPONSE || msg.id !== id) return;
      clearTimeout(timer);
      process.off('message', onMessage);
      if (msg.error !== undefined) reject(new Error(msg.error));
      else resolve(msg.text ?? '');
    }
    process.on('message', onMessage);
    process.send!({ type: METRICS_REQUEST, id });
  });
}

/** In the primary of `serve --workers N`: answers workers' /metrics with every worker's metrics. */
export function serveClusterMetrics(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker, msg: { type?: string; id?: string }) => {
    if (msg?.type !== METRICS_REQUEST) return;
    aggregator.clusterMetrics().then(
      (text) => worker.isConnected() && worker.send({ type: METRICS_RESPONSE, id: msg.id, text }),
      (err: Error) => worker.isConnected() && worker.send({ type: METRICS_RESPONSE, id: msg.id, error: err.message }),
    );
  });
}

/** Counts tokens as oidc-provider issues them: `grant.success` fires after every successful grant. */
export function observeProvider(provider: Provider, metrics: Metrics): void {
  provider.on('grant.success', (ctx: { oidc?: { params?: { grant_type?: unknown } } }) => {
    metrics.tokenIssued(String(ctx.oidc?.params?.grant_type ?? 'other'));
  });
}

interface RouterLayer {
  path: unknown;
  methods: string[];
}

/**
 * The route label: the router template that answered (`/v2/projects/:id`), else the fixed label
 * of the audience the request was mounted on (`oauth`, `v2_other`, `/healthz` ...), so the number
 * of series stays bounded whatever paths callers make up.
 */
export function routeOf(ctx: AppContext, audienceLabel: string): string {
  const matched = (ctx as unknown as { matched?: RouterLayer[] }).matched;
  if (matched?.length) {
    let anyRoute: string | undefined;
    for (let i = matched.length - 1; i >= 0; i--) {
      const layer = matched[i]!;
      if (layer.methods.length === 0 || typeof layer.path !== 'string') continue;
      if (layer.methods.includes(ctx.method)) return layer.path;
      anyRoute ??= layer.path;
    }
    if (anyRoute) return anyRoute;
  }
  return audienceLabel;
}

/**
 * Counts every request of one audience and its latency; the access log's measurement feeds it
 * (one wrapper, one timer). `audienceLabel` is the route label when no router template answered.
 */
export function httpMetrics(metrics: Metrics, audienceLabel: string): RequestObserver {
  return (ctx, status, seconds) => metrics.request(ctx.method, routeOf(ctx, audienceLabel), status, seconds);
}

const sha256 = (text: string) => crypto.createHash('sha256').update(text).digest();

/** A direct loopback caller: a proxy in front (even on the same machine) adds forwarding headers. */
function fromLoopback(ctx: AppContext): boolean {
  const remote = ctx.req.socket.remoteAddress;
  if (!remote || ctx.get('X-Forwarded-For') || ctx.get('Forwarded')) return false;
  try {
    const addr = ipaddr.process(remote);
    return addr.range() === 'loopback';
  } catch {
    return false;
  }
}

/**
 * GET /metrics in Prometheus text format. With METRICS_TOKEN: only `Authorization: Bearer <token>`
 * (compared in constant time). Without: only loopback callers.
 */
export function metricsEndpoint(metrics: Metrics, opts: { token?: string | undefined }): Middleware<AppState> {
  const expected = opts.token ? sha256(opts.token) : undefined;
  return async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    if (expected) {
      const m = /^Bearer +(\S+)$/i.exec(ctx.get('Authorization'));
      if (!m || !crypto.timingSafeEqual(sha256(m[1]!), expected)) {
        ctx.status = 401;
        ctx.set('WWW-Authenticate', 'Bearer realm="metrics"');
        ctx.body = { error: { code: 'UNAUTHORIZED', message: 'Metrics need the bearer token set in METRICS_TOKEN' } };
        return;
      }
    } else if (!fromLoopback(ctx)) {
      ctx.status = 403;
      ctx.body = {
        error: {
          code: 'FORBIDDEN',
          message: 'Metrics are served to loopback callers only unless METRICS_TOKEN is set',
        },
      };
      return;
    }
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      ctx.status = 405;
      ctx.set('Allow', 'GET, HEAD');
      ctx.body = { error: { code: 'METHOD_NOT_ALLOWED', message: 'Use GET' } };
      return;
    }
    const { contentType, body } = await metrics.render();
    ctx.type = contentType;
    ctx.body = body;
  };
}
