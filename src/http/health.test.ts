import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../test/support/server.ts';

// /healthz (the process serves) and /readyz (the database answers): no authentication, no cookie,
// no rate limit, and not logged at info level (probes come every few seconds).

describe('health probes', () => {
  let server: TestServer;
  const lines: Array<Record<string, unknown>> = [];

  before(async () => {
    server = await startTestServer({
      // Unauthenticated callers may make 1 request a second: probes are not counted at all.
      env: { RATE_LIMIT_UNAUTHENTICATED: '1000,1', LOG_LEVEL: 'info' },
      logDestination: { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) },
    });
  });
  after(() => server.dispose());

  it('GET /healthz answers 200 {"status":"ok"} without a cookie', async () => {
    const res = await fetch(`${server.url}/healthz`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'ok' });
    assert.equal(res.headers.get('set-cookie'), null);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.ok(res.headers.get('x-request-id'));
    assert.equal(res.headers.get('x-latchkey-pid'), null, 'the pid is shown only with LATCHKEY_DEBUG_PID=1');
  });

  it('GET /readyz answers 200 {"status":"ready"} while the database answers', async () => {
    const res = await fetch(`${server.url}/readyz`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'ready' });
  });

  it('is never rate limited, although unauthenticated /v2 calls are', async () => {
    const statuses = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        fetch(`${server.url}/${i % 2 ? 'healthz' : 'readyz'}`).then((r) => r.status),
      ),
    );
    assert.deepEqual(new Set(statuses), new Set([200]));
    const v2 = await Promise.all(
      Array.from({ length: 3 }, () => fetch(`${server.url}/v2/auth/test`).then((r) => r.status)),
    );
    assert.ok(v2.includes(429), `unauthenticated /v2 is limited: ${v2.join(',')}`);
  });

  it('refuses other methods', async () => {
    const res = await fetch(`${server.url}/healthz`, { method: 'POST' });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'GET, HEAD');
  });

  it('logs probes below info level, other requests at info', async () => {
    await fetch(`${server.url}/v2/openapi.json`).then((r) => r.arrayBuffer());
    const requests = lines.filter((l) => l['msg'] === 'request');
    assert.ok(
      requests.some((l) => l['path'] === '/v2/openapi.json' && l['level'] === 30),
      'ordinary requests at info',
    );
    assert.deepEqual(
      requests.filter((l) => l['path'] === '/healthz' || l['path'] === '/readyz'),
      [],
    );
  });

  it('GET /readyz answers 503 {"status":"unavailable"} once the database is gone; /healthz still 200', async () => {
    await server.db.destroy();
    const res = await fetch(`${server.url}/readyz`);
    assert.equal(res.status, 503);
    assert.deepEqual(await res.json(), { status: 'unavailable' });
    const alive = await fetch(`${server.url}/healthz`);
    assert.equal(alive.status, 200);
    assert.deepEqual(await alive.json(), { status: 'ok' });
  });
});
