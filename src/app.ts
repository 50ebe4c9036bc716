import type Koa from 'koa';
import type Router from '@koa/router';
import type { Logger } from 'pino';
import type Provider from 'oidc-provider';
import type { Config } from './config.ts';
import type { DB } from './db/client.ts';
import type { AppState } from './http/context.ts';
import { createHttpApp } from './http/app.ts';
import type { ServerKeys } from './oidc/keys.ts';
import type { RateLimitStore } from './features/rate-limit/store.ts';
import type { WebhookWorker } from './features/webhooks/worker.ts';
import type { Deliver } from './features/webhooks/deliver.ts';
import type { Metrics } from './http/metrics.ts';
import type { CredentialEvents } from './shared/credential-events.ts';
import { createServices, type Services } from './services.ts';

export interface AppDeps {
  config: Config;
  db: DB;
  logger: Logger;
  keys: ServerKeys;
  /** The clock (epoch ms); tests may pass their own. */
  now?: () => number;
  /** Where rate-limit counters live; in memory (one process) unless given. */
  rateLimitStore?: RateLimitStore;
  /** Encrypts secrets that must be used again (webhook signing secrets). */
  secretsKey: Buffer;
  /** Sends one webhook; tests may pass a recording one. Default: HTTP with the SSRF guard. */
  deliver?: Deliver;
  /** Check every API response against its declared schema (tests). */
  validateResponses?: boolean;
  /** Prometheus metrics (a fresh per-app registry unless given). */
  metrics?: Metrics;
  /** Credential changes, heard by every cache (in this process only, unless a relay is attached). */
  credentialEvents?: CredentialEvents;
}

export interface BuiltApp {
  app: Koa<AppState>;
  provider: Provider;
  /** The OpenAPI document served at /v2/openapi.json. */
  openApi: Record<string, unknown>;
  /** Everything below HTTP (services.ts). */
  services: Services;
  /** Delivers the webhook outbox; the server starts it, the CLI does not. */
  webhookWorker: WebhookWorker;
  /** What /metrics serves. */
  metrics: Metrics;
  /** Every router the app serves, pages and APIs (tools and the fuzzers list routes from these). */
  routers: Router<AppState>[];
  /** Stops background timers and flushes buffered writes; the caller then closes the server and the database. */
  stop(): Promise<void>;
}

export { apiRouteGroups } from './api/route-groups.ts';

/**
 * The services (services.ts) with the HTTP app on top (http/app.ts). Never listens: the server
 * and the tests call this and serve `app.callback()`.
 */
export function buildApp(deps: AppDeps): BuiltApp {
  const { config, db, logger, keys } = deps;
  const services = createServices(
    { config, db, logger, keys, secretsKey: deps.secretsKey },
    {
      ...(deps.now ? { now: deps.now } : {}),
      ...(deps.metrics ? { metrics: deps.metrics } : {}),
      ...(deps.rateLimitStore ? { rateLimitStore: deps.rateLimitStore } : {}),
      ...(deps.deliver ? { deliver: deps.deliver } : {}),
      ...(deps.credentialEvents ? { credentialEvents: deps.credentialEvents } : {}),
    },
  );
  const http = createHttpApp(services, {
    config,
    logger,
    keys,
    db,
    ...(deps.validateResponses !== undefined ? { validateResponses: deps.validateResponses } : {}),
  });
  return {
    ...http,
    services,
    webhookWorker: services.webhookWorker,
    metrics: services.metrics,
    stop: () => services.stop(),
  };
}
