/**
 * The Latchkey SDK (`@latchkey/sdk`): a typed client for the /v2 API and application registration.
 * No dependencies beyond `fetch`, so it runs on Node 20+ and in browsers.
 *
 *   const client = new APIClient({ apiKey: 'YOUR_API_KEY' });
 *   const result = await client.auth.test();
 *   console.log('Authentication valid:', result.valid);
 */
import { createResources } from './resources.js';
import type { AuthTestResult } from './types.js';

export type {
  ApiKey,
  ApiKeyActivityEntry,
  ApiKeyActivityPage,
  ApiKeyActivityQuery,
  Application,
  ApplicationType,
  AuthMethod,
  AuthTestResult,
  Consent,
  CreatedApiKey,
  CreatedWebhookEndpoint,
  Project,
  RegisteredApplication,
  RotatedApplicationSecret,
  RotatedWebhookSecret,
  SubjectType,
  User,
  UserPage,
  WebhookDelivery,
  WebhookDeliveryAttempt,
  WebhookEndpoint,
  WebhookTestEventQueued,
} from './types.js';
export type { ApplicationChanges, CreateApiKey, CreateApplication, CreateWebhook } from './resources.js';

/** This package's version (package.json's), sent as X-Client-Version unless `clientVersion` says otherwise. */
export const SDK_VERSION = '0.1.0';
export const API_VERSION = '2.0';

export interface ClientOptions {
  /** An API key (`lk_...`). With no credential given, LATCHKEY_API_KEY is read from the environment. */
  apiKey?: string;
  /** An OAuth access token. */
  accessToken?: string;
  /** A shared-secret JWT. */
  jwt?: string;
  /** Where the server is; LATCHKEY_BASE_URL, else http://localhost:3000. */
  baseUrl?: string;
  /** Sent as X-Client-Version. */
  clientVersion?: string;
  /** Retries after 429 (all requests) and network errors (idempotent requests only). Default 3. */
  maxRetries?: number;
  /** Longest wait honoured from a Retry-After header, in ms. Default 60 s. */
  maxRetryDelayMs?: number;
  fetch?: typeof fetch;
  /** How to wait between retries (tests pass their own). */
  sleep?: (ms: number) => Promise<void>;
}

/** An error answer from the API: `{"error":{"code","message"}}` plus the HTTP status and request id. */
export class APIError extends Error {
  readonly status: number;
  readonly code: string;
  readonly requestId: string | null;
  readonly details: Record<string, unknown>;
  constructor(
    status: number,
    code: string,
    message: string,
    requestId: string | null,
    details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'APIError';
    this.status = status;
    this.code = code;
    this.requestId = requestId;
    this.details = details;
  }
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);

function env(name: string): string | undefined {
  const proc = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
  return proc?.env?.[name] || undefined;
}

function requestId(): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  return c?.randomUUID ? c.randomUUID() : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

export class APIClient {
  readonly baseUrl: string;
  private readonly credential: string | undefined;
  private readonly opts: Required<Pick<ClientOptions, 'maxRetries' | 'maxRetryDelayMs' | 'clientVersion'>> &
    Pick<ClientOptions, 'fetch' | 'sleep'>;

  readonly auth: { test(): Promise<AuthTestResult> };
  readonly apiKeys: ReturnType<typeof createResources>['apiKeys'];
  readonly applications: ReturnType<typeof createResources>['applications'];
  readonly webhooks: ReturnType<typeof createResources>['webhooks'];
  readonly users: ReturnType<typeof createResources>['users'];
  readonly projects: ReturnType<typeof createResources>['projects'];
  readonly consents: ReturnType<typeof createResources>['consents'];

  constructor(options: ClientOptions = {}) {
    this.credential = options.apiKey ?? options.accessToken ?? options.jwt ?? env('LATCHKEY_API_KEY');
    this.baseUrl = (options.baseUrl ?? env('LATCHKEY_BASE_URL') ?? 'http://localhost:3000').replace(/\/+$/, '');
    this.opts = {
      maxRetries: options.maxRetries ?? 3,
      maxRetryDelayMs: options.maxRetryDelayMs ?? 60_000,
      clientVersion: options.clientVersion ?? SDK_VERSION,
      fetch: options.fetch,
      sleep: options.sleep,
    };
    const resources = createResources(this.request.bind(this));
    this.apiKeys = resources.apiKeys;
    this.applications = resources.applications;
    this.webhooks = resources.webhooks;
    this.users = resources.users;
    this.projects = resources.projects;
    this.consents = resources.consents;
    this.auth = {
      // A refused credential is an answer here, not an exception: { valid: false, ... }.
      test: async () => {
        try {
          return await this.request<AuthTestResult>('GET', '/v2/auth/test');
        } catch (err) {
          if (err instanceof APIError && (err.status === 401 || err.status === 403)) {
            return { valid: false, status: err.status, code: err.code, message: err.message, requestId: err.requestId };
          }
          throw err;
        }
      },
    };
  }

  private sleep(ms: number): Promise<void> {
    return this.opts.sleep ? this.opts.sleep(ms) : new Promise((resolve) => setTimeout(resolve, ms));
  }

  /**
   * One API call: JSON in and out, the API's headers (X-API-Version, X-Request-ID,
   * X-Client-Version), bounded retries; errors as APIError.
   */
  async request<T>(
    method: string,
    path: string,
    body?: unknown,
    query?: Record<string, string | number | undefined>,
  ): Promise<T> {
    const url = new URL(path, `${this.baseUrl}/`);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const doFetch = this.opts.fetch ?? fetch;
    for (let attempt = 0; ; attempt++) {
      const id = requestId();
      let res: Response;
      try {
        res = await doFetch(url, {
          method,
          headers: {
            Accept: 'application/json',
            'X-API-Version': API_VERSION,
            'X-Request-ID': id,
            'X-Client-Version': this.opts.clientVersion,
            ...(this.credential ? { Authorization: `Bearer ${this.credential}` } : {}),
            ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
          },
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        });
      } catch (err) {
        // The request may or may not have reached the server: only repeat what is safe to repeat.
        if (IDEMPOTENT.has(method) && attempt < this.opts.maxRetries) {
          await this.sleep(Math.min(250 * 2 ** attempt, 4000));
          continue;
        }
        throw err;
      }
      if (res.status === 429 && attempt < this.opts.maxRetries) {
        const retryAfter = Number(res.headers.get('retry-after'));
        await res.body?.cancel();
        await this.sleep(
          Math.min(Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : 1000, this.opts.maxRetryDelayMs),
        );
        continue;
      }
      const text = await res.text();
      const data = text ? (JSON.parse(text) as unknown) : undefined;
      if (!res.ok) {
        const err = (data as { error?: { code?: string; message?: string } } | undefined)?.error;
        const { code, message, ...details } = (err ?? {}) as Record<string, unknown>;
        throw new APIError(
          res.status,
          String(code ?? 'HTTP_ERROR'),
          String(message ?? `HTTP ${res.status}`),
          res.headers.get('x-request-id'),
          details,
        );
      }
      return data as T;
    }
  }
}

// Webhook verifiers need node:crypto, so they live in `@latchkey/sdk/webhooks` (this entry stays browser-safe).
