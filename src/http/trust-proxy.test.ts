import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../test/support/server.ts';
import { request, worldOn, credentialServerEnv, type World, type TestUser } from '../../test/support/world.ts';

// Behind N proxies we trust, each appends the address it received the request from to
// X-Forwarded-For; whatever a client wrote there itself comes first. The client's address is the
// Nth entry from the right: entries further left are the client's to forge, and must not open an
// API key's IP allowlist or spread its requests over fresh per-address buckets.

const OFFICE = '10.1.2.3';
const CLIENT = '198.51.100.23';
const PROXY_1 = '192.0.2.10';

/** X-Forwarded-For as it reaches us through `hops` proxies, after the client wrote `forged` into it. */
function forwardedFor(hops: number, forged: string[], client: string): string {
  const chain = [...forged, client];
  if (hops === 2) chain.push(PROXY_1);
  return chain.join(', ');
}

for (const hops of [1, 2]) {
  describe(`TRUST_PROXY=${hops}: the address the trusted proxy appended counts`, () => {
    let server: TestServer;
    let make: World;
    let alice: TestUser;

    before(async () => {
      // A clock that stands still: the 20 parallel requests fall in one burst window.
      const frozen = Date.now();
      server = await startTestServer({
        now: () => frozen,
        env: { ...credentialServerEnv, TRUST_PROXY: String(hops), RATE_LIMIT_UNAUTHENTICATED: '1000,5' },
      });
      make = worldOn(server);
      alice = await make.user({ tag: 'alice' });
    });
    after(() => server.dispose());

    const authTest = (key: string | undefined, xff: string) =>
      request(server, 'GET', '/v2/auth/test', { bearer: key, headers: { 'X-Forwarded-For': xff } });

    it('an allowlisted address the client wrote to the left does not open an IP allowlist', async () => {
      const { key } = await make.apiKey(alice, ['read:users'], { allowedIps: [`${OFFICE}/32`] });
      const forged = await authTest(key, forwardedFor(hops, [OFFICE], CLIENT));
      assert.equal(forged.status, 403, JSON.stringify(forged.body));
      assert.equal((forged.body as { error: { code: string } }).error.code, 'FORBIDDEN');
      const fromOffice = await authTest(key, forwardedFor(hops, ['203.0.113.99'], OFFICE));
      assert.equal(fromOffice.status, 200, JSON.stringify(fromOffice.body));
    });

    it('forged leftmost entries do not make fresh per-address buckets (20 in parallel, burst 5)', async () => {
      const client = `198.51.100.${100 + hops}`;
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) => authTest(undefined, forwardedFor(hops, [`203.0.113.${i + 1}`], client))),
      );
      const statuses = answers.map((r) => r.status);
      assert.equal(statuses.filter((s) => s === 401).length, 5, statuses.join(' '));
      assert.equal(statuses.filter((s) => s === 429).length, 15, statuses.join(' '));
      // Another client behind the same proxies still has its own bucket.
      assert.equal((await authTest(undefined, forwardedFor(hops, [], `198.51.100.${110 + hops}`))).status, 401);
    });
  });
}

describe('TRUST_PROXY compatibility values', () => {
  it('0/false/unset mean no proxy, 1/true one hop, N N hops', async () => {
    const { loadConfig } = await import('../config.ts');
    for (const [value, hops] of [
      ['0', 0],
      ['false', 0],
      ['', 0],
      ['1', 1],
      ['true', 1],
      ['2', 2],
      ['3', 3],
    ] as const) {
      assert.equal(loadConfig({ TRUST_PROXY: value }).TRUST_PROXY, hops, `TRUST_PROXY=${value}`);
    }
    assert.equal(loadConfig({}).TRUST_PROXY, 0);
    for (const bad of ['-1', 'yes', '1.5']) assert.throws(() => loadConfig({ TRUST_PROXY: bad }), /TRUST_PROXY/);
  });
});
