import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { bodyParser } from '@koa/bodyparser';
import { v2App } from '../../http/apps/v2.ts';
import { accessLog } from '../../http/access-log.ts';
import { requestFrame } from '../../http/request-frame.ts';
import type { AppState } from '../../http/context.ts';
import { AppError, invalidToken } from '../../http/errors.ts';
import { createLogger } from '../../logger.ts';
import { createRateLimiter } from '../../features/rate-limit/rate-limiter.ts';
import { createMemoryStore, type RateLimitStore } from '../../features/rate-limit/store.ts';
import type { Authenticator } from '../../auth/authenticate.ts';
import { principalFrom } from '../../domain/principal.ts';
import type { Credential } from '../../domain/credential.ts';
import { defineRoute } from '../../wire/route.ts';
import { v2Router, type V2Deps } from './router.ts';

// The /v2 steps answer at once when nothing has to be waited for, and wait for a promise when a
// step hands one back: a credential read, a shared rate-limit store, a route that reads. Either
// way the answer is the same, byte for byte, and so is the activity recorded for an API key.

/** How each step answers: `now` (no promise) or `later` (a promise it resolves or rejects). */
interface Modes {
  credential: 'now' | 'later';
  store: 'now' | 'later';
}

const NOW = Date.UTC(2026, 0, 1, 12, 0, 0, 250);
const KEY: Credential = {
  method: 'api_key',
  subject: 'usr_gate',
  scopes: ['read:users'],
  expiresAt: null,
  id: 'key_gate',
  userId: 'usr_gate',
};
const principal = principalFrom(KEY, { isAdmin: false });
const later = <T>(make: () => T): Promise<T> => new Promise((resolve) => setImmediate(resolve)).then(make);

/** The answer of each route, at once or later: a body, or a refusal. */
const routes = [
  defineRoute({
    method: 'get',
    path: '/now',
    operationId: 'now',
    summary: 'answers at once',
    tag: 'Test',
    auth: { scopes: ['read:users'] },
    status: 200,
    handler: () => ({ answered: 'now' }),
  }),
  defineRoute({
    method: 'get',
    path: '/later',
    operationId: 'later',
    summary: 'answers after a read',
    tag: 'Test',
    auth: { scopes: ['read:users'] },
    status: 200,
    handler: () => later(() => ({ answered: 'later' })),
  }),
  defineRoute({
    method: 'get',
    path: '/fails-now',
    operationId: 'failsNow',
    summary: 'refuses at once',
    tag: 'Test',
    auth: { scopes: ['read:users'] },
    status: 200,
    handler: () => {
      throw new AppError('CONFLICT', 'refused at once');
    },
  }),
  defineRoute({
    method: 'get',
    path: '/fails-later',
    operationId: 'failsLater',
    summary: 'refuses after a read',
    tag: 'Test',
    auth: { scopes: ['read:users'] },
    status: 200,
    handler: () =>
      later(() => {
        throw new AppError('CONFLICT', 'refused later');
      }),
  }),
  defineRoute({
    method: 'get',
    path: '/admin-only',
    operationId: 'adminOnly',
    summary: 'a scope the key lacks',
    tag: 'Test',
    auth: { scopes: ['admin:all'] },
    status: 200,
    handler: () => ({}),
  }),
];

/** The credential check: the key, or a refusal for any other token, at once or after a read. */
function authenticatorFor(modes: Modes): Authenticator {
  const check = (token: string) => {
    if (token !== 'the-key') throw invalidToken();
    return principal;
  };
  return {
    resolveRemembered: (token: string) => (modes.credential === 'now' ? check(token) : undefined),
    resolve: (token: string) => later(() => check(token)),
  } as unknown as Authenticator;
}

/** Memory counts, handed back as they are or as a promise (a shared store's round trip). */
function storeFor(modes: Modes): RateLimitStore {
  const memory = createMemoryStore();
  return {
    hit: (key, windowMs, now) =>
      modes.store === 'now' ? memory.hit(key, windowMs, now) : later(() => memory.hit(key, windowMs, now)),
  };
}

interface Server {
  url: string;
  /** The API keys' activity entries, as queued. */
  activity: Record<string, unknown>[];
  /** The statuses the access log saw. */
  logged: number[];
  /** What the audience's app returned to the frame, per request. */
  returned: unknown[];
  close(): Promise<void>;
}

async function serve(modes: Modes): Promise<Server> {
  const logger = createLogger('silent');
  const activity: Record<string, unknown>[] = [];
  const logged: number[] = [];
  const returned: unknown[] = [];
  const deps = {
    authenticator: authenticatorFor(modes),
    apiKeys: { recordUse: (entry: Record<string, unknown>) => activity.push(entry) },
    jsonBody: bodyParser({ enableTypes: ['json'] }),
    origin: 'http://127.0.0.1',
    limiter: createRateLimiter({ store: storeFor(modes), now: () => NOW }),
    policies: {
      apiKey: { hourly: 1000, burst: 5 },
      oauth: { hourly: 1000, burst: 5 },
      jwt: { hourly: 1000, burst: 5 },
      unauthenticated: { hourly: 1000, burst: 5 },
    },
    now: () => NOW,
  } as unknown as V2Deps;
  const v2 = v2App({
    router: v2Router(deps, routes),
    openApi: {},
    accounts: {} as never,
    hsts: false,
    resourceMetadataUrl: 'http://127.0.0.1/.well-known/oauth-protected-resource',
    origin: deps.origin,
    corsOriginAllowed: async () => false,
  });
  const audience = accessLog(logger, v2, (_ctx, status) => logged.push(status));
  const app = new Koa<AppState>();
  app.use(requestFrame({ logger }));
  app.use((ctx, next) => {
    const result = audience(ctx, next);
    returned.push(result);
    return result;
  });
  const server = http.createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    activity,
    logged,
    returned,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** The answer as it came over the wire: status, every field but Date in order and case, the body. */
function get(url: string, token: string): Promise<{ status: number; head: string[]; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { authorization: `Bearer ${token}`, 'x-request-id': 'req-gate' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        const head: string[] = [];
        for (let i = 0; i < res.rawHeaders.length; i += 2) {
          if (res.rawHeaders[i]!.toLowerCase() !== 'date') head.push(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`);
        }
        resolve({ status: res.statusCode!, head, body });
      });
    });
    req.on('error', reject);
  });
}

/** Every route with the key, a refused token, and the key past its burst (the sixth request: 429). */
async function exchange(modes: Modes) {
  const server = await serve(modes);
  try {
    const answers = [];
    for (const route of ['now', 'later', 'fails-now', 'fails-later', 'admin-only']) {
      answers.push(await get(`${server.url}/v2/${route}`, 'the-key'));
    }
    answers.push(await get(`${server.url}/v2/now`, 'not-a-key'));
    // Five requests with the key so far in this second (burst 5): the next one is refused.
    answers.push(await get(`${server.url}/v2/later`, 'the-key'));
    const activity = server.activity.map(({ at, ...entry }) => entry);
    return { answers, activity, logged: server.logged, returned: server.returned };
  } finally {
    await server.close();
  }
}

describe('/v2 steps that answer at once or wait', () => {
  it('answer every request alike, and record the same activity, whichever steps wait', async () => {
    const atOnce = await exchange({ credential: 'now', store: 'now' });
    assert.deepEqual(
      atOnce.answers.map((a) => a.status),
      [200, 200, 409, 409, 403, 401, 429],
    );
    assert.deepEqual(
      atOnce.activity.map((e) => [e['path'], e['status']]),
      [
        ['/v2/now', 200],
        ['/v2/later', 200],
        ['/v2/fails-now', 409],
        ['/v2/fails-later', 409],
        ['/v2/admin-only', 403],
        ['/v2/later', 429],
      ],
    );
    assert.deepEqual(atOnce.logged, [200, 200, 409, 409, 403, 401, 429]);
    const first = atOnce.answers[0]!;
    assert.equal(first.body, '{"answered":"now"}');
    assert.ok(first.head.includes('X-Request-ID: req-gate'), first.head.join('\n'));
    assert.ok(first.head.includes('RateLimit: "hourly";r=999;t=3600, "burst";r=4;t=1'), first.head.join('\n'));
    assert.match(
      atOnce.answers[5]!.head.join('\n'),
      /WWW-Authenticate: Bearer error="invalid_token", resource_metadata=/,
    );
    for (const modes of [
      { credential: 'later', store: 'now' },
      { credential: 'now', store: 'later' },
      { credential: 'later', store: 'later' },
    ] as const) {
      const waited = await exchange(modes);
      assert.deepEqual(waited.answers, atOnce.answers, JSON.stringify(modes));
      assert.deepEqual(waited.activity, atOnce.activity, JSON.stringify(modes));
      assert.deepEqual(waited.logged, atOnce.logged, JSON.stringify(modes));
    }
  });

  it('make no promise for a request whose every step answers at once', async () => {
    const atOnce = await exchange({ credential: 'now', store: 'now' });
    // /now with the key, and a refused token (its 401 answered at once too).
    assert.equal(atOnce.returned[0], undefined);
    assert.equal(atOnce.returned[5], undefined);
    // A route that reads, a route that refuses after a read: a promise, as before.
    assert.ok(atOnce.returned[1] instanceof Promise);
    assert.ok(atOnce.returned[3] instanceof Promise);
    const waited = await exchange({ credential: 'now', store: 'later' });
    assert.ok(waited.returned.every((r) => r instanceof Promise));
  });
});
