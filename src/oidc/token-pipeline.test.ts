import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import diagnostics from 'node:diagnostics_channel';
import http from 'node:http';
import type { IncomingMessage } from 'node:http';
import { startTestServer, type TestServer } from '../../test/support/server.ts';
import { worldOn, credentialServerEnv, type TestUser } from '../../test/support/world.ts';
import { registerApp } from '../../test/support/http.ts';

// The steps in front of oidc-provider (token-pipeline.ts): one token request reads its body once
// and compares the client secret with the stored hash once, whichever of our steps and
// oidc-provider's client authentication need them.

/** `oauth_client_secret_checks_total{result}` as /metrics shows it (loopback callers may scrape). */
async function secretChecks(server: TestServer): Promise<{ matched: number; mismatched: number }> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const value = (result: string) => {
    const m = new RegExp(`^oauth_client_secret_checks_total\\{result="${result}"\\} (\\S+)$`, 'm').exec(text);
    assert.ok(m, `no ${result} series in /metrics`);
    return Number(m[1]);
  };
  return { matched: value('matched'), mismatched: value('mismatched') };
}

/**
 * How many times the body of each request to `path` is taken from the socket: a `data` listener
 * or an async iterator on the request stream (Node's HTTP server announces every request on the
 * `http.server.request.start` channel, before any middleware sees it).
 */
function countBodyReads(path: string) {
  const reads: number[] = [];
  const onRequest = (message: unknown) => {
    const req = (message as { request: IncomingMessage }).request;
    if (!req.url?.startsWith(path)) return;
    const slot = reads.push(0) - 1;
    const on = req.on.bind(req) as (event: string | symbol, listener: (...args: never[]) => void) => IncomingMessage;
    req.on = ((event: string | symbol, listener: (...args: never[]) => void) => {
      if (event === 'data') reads[slot]!++;
      return on(event, listener);
    }) as typeof req.on;
    const iterator = req.iterator.bind(req);
    req.iterator = (opts) => {
      reads[slot]!++;
      return iterator(opts);
    };
  };
  diagnostics.subscribe('http.server.request.start', onRequest);
  return { reads, stop: () => diagnostics.unsubscribe('http.server.request.start', onRequest) };
}

describe('token pipeline: one read of the body, one comparison of the client secret', () => {
  let server: TestServer;
  let alice: TestUser;
  let service: { client_id: string; client_secret?: string };

  before(async () => {
    server = await startTestServer({ env: credentialServerEnv });
    alice = await worldOn(server).user({ tag: 'alice' });
    service = await registerApp(alice.browser, {
      name: 'Service',
      type: 'service',
      redirect_uris: [],
      scopes: ['read:users'],
    });
  });
  after(() => server.dispose());

  const grant = () => ({ grant_type: 'client_credentials', scope: 'read:users' });
  const basic = (id: string, secret: string) =>
    `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

  const requests: Record<string, () => RequestInit> = {
    'client_secret_post, form body': () => ({
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        ...grant(),
        client_id: service.client_id,
        client_secret: service.client_secret!,
      }).toString(),
    }),
    'client_secret_post, JSON body': () => ({
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ ...grant(), client_id: service.client_id, client_secret: service.client_secret! }),
    }),
    'client_secret_basic, form body': () => ({
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        Authorization: basic(service.client_id, service.client_secret!),
      },
      body: new URLSearchParams(grant()).toString(),
    }),
  };

  for (const [name, request] of Object.entries(requests)) {
    it(`${name}: a token, the secret compared once, the body read once`, async () => {
      const before = await secretChecks(server);
      const reads = countBodyReads('/oauth/token');
      let res: Response;
      try {
        res = await fetch(`${server.url}/oauth/token`, { method: 'POST', ...request() });
        assert.equal(res.status, 200, await res.clone().text());
      } finally {
        reads.stop();
      }
      const body = (await res.json()) as { access_token?: string; scope?: string };
      assert.ok(body.access_token);
      assert.equal(body.scope, 'read:users');
      const afterwards = await secretChecks(server);
      assert.deepEqual(afterwards, { matched: before.matched + 1, mismatched: before.mismatched });
      assert.deepEqual(reads.reads, [1]);
    });
  }

  it('a wrong secret: invalid_client from oidc-provider, compared once', async () => {
    const before = await secretChecks(server);
    const res = await fetch(`${server.url}/oauth/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        ...grant(),
        client_id: service.client_id,
        client_secret: `${service.client_secret}x`,
      }).toString(),
    });
    assert.equal(res.status, 401);
    assert.equal(((await res.json()) as { error: string }).error, 'invalid_client');
    assert.deepEqual(await secretChecks(server), { matched: before.matched, mismatched: before.mismatched + 1 });
  });

  it('introspecting an opaque token at oidc-provider compares the secret once', async () => {
    const token = await (
      await fetch(`${server.url}/oauth/token`, { method: 'POST', ...requests['client_secret_post, form body']!() })
    ).json();
    const before = await secretChecks(server);
    const res = await fetch(`${server.url}/oauth/introspect`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        Authorization: basic(service.client_id, service.client_secret!),
      },
      body: new URLSearchParams({ token: (token as { access_token: string }).access_token }).toString(),
    });
    assert.equal(res.status, 200);
    const answer = (await res.json()) as { active: boolean; method?: string };
    assert.equal(answer.active, true);
    assert.equal(answer.method, 'oauth');
    assert.deepEqual(await secretChecks(server), { matched: before.matched + 1, mismatched: before.mismatched });
  });
});

describe('token pipeline: the token endpoint by any spelling oidc-provider answers to', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({
      // A clock that stands still: the burst below falls in one window.
      now: (() => {
        const t = Date.now();
        return () => t;
      })(),
      env: { ...credentialServerEnv, RATE_LIMIT_UNAUTHENTICATED: '1000,3' },
    });
  });
  after(() => server.dispose());

  /** A raw request, so the path reaches the server exactly as written. */
  const post = (path: string) =>
    new Promise<number>((resolve, reject) => {
      const req = http.request(
        `${server.url}${path}`,
        { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, agent: false },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        },
      );
      req.on('error', reject);
      req.end('grant_type=client_credentials&client_id=nobody&client_secret=nothing');
    });

  it('counts /oauth/token/ and /OAUTH/Token on the same per-address bucket as /oauth/token', async () => {
    const statuses = [];
    for (const path of ['/oauth/token', '/oauth/token/', '/OAUTH/Token', '/oauth/TOKEN/', '/Oauth/token']) {
      statuses.push(await post(path));
    }
    // Three failed client authentications are allowed from one address, then 429 by every spelling.
    assert.deepEqual(statuses, [401, 401, 401, 429, 429]);
  });
});
