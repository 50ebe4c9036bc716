import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import pg from 'pg';
import { startPrivatePostgres, type PrivatePostgres } from '../support/private-postgres.ts';
import { Browser, registerApp, signUp } from '../support/http.ts';
import type { ServerProcess } from './server-process.ts';
import { assertRefusedWithinOneSecond, startInstances, untilRefused } from '../scale/instances.ts';
import { looksLikeStackTrace } from '../support/oauth.ts';
import { sleep } from './helpers.ts';

// Three instances under light load while PostgreSQL restarts (pg_ctl restart -m fast: every
// connection terminated "due to administrator command"), then stops for a few seconds and starts
// again. On the test's own cluster, never the shared one. No instance may exit; every answer is a
// success or a well-formed 503 in the endpoint's own format; /readyz says unavailable meanwhile;
// each instance recovers by itself; every acknowledged write is in the database afterwards; and
// the LISTEN connection comes back (instance C polls once a minute: only a notification tells it
// of a revocation within 1 s).
const PASSWORD = 'a long test passphrase';

type Kind = 'api' | 'oauth' | 'page' | 'authorize' | 'readyz';
interface Answer {
  kind: Kind;
  instance: number;
  status: number;
  contentType: string;
  location: string;
  body: string;
}

/** Why an answer is not a success or a well-formed "temporarily unavailable", or null if it is. */
function malformed(a: Answer): string | null {
  // The authorization endpoint may answer by redirecting to the client: never with server_error.
  if (a.kind === 'authorize' && a.status === 303)
    return /error=(?!temporarily_unavailable)/.test(a.location) ? `authorize redirected with ${a.location}` : null;
  if (a.status >= 200 && a.status < 400) return null;
  if (a.status !== 503) return `${a.kind} answered ${a.status}: ${a.body.slice(0, 200)}`;
  const json = () => {
    try {
      // biome-ignore lint/suspicious/noExplicitAny: answers of three formats, probed field by field
      return JSON.parse(a.body) as Record<string, any>;
    } catch {
      return null;
    }
  };
  switch (a.kind) {
    case 'api': {
      const body = json();
      return body?.error?.code === 'SERVICE_UNAVAILABLE' && typeof body.error.message === 'string'
        ? null
        : `api 503 body: ${a.body.slice(0, 200)}`;
    }
    case 'oauth':
      return json()?.error === 'temporarily_unavailable' ? null : `oauth 503 body: ${a.body.slice(0, 200)}`;
    case 'readyz':
      return json()?.status === 'unavailable' ? null : `readyz 503 body: ${a.body.slice(0, 200)}`;
    case 'page':
    case 'authorize':
      return a.contentType.startsWith('text/html') && !looksLikeStackTrace(a.body)
        ? null
        : `page 503: ${a.contentType} ${a.body.slice(0, 200)}`;
  }
}

describe('a PostgreSQL restart under load', () => {
  let cluster: PrivatePostgres;
  let instances: ServerProcess[] = [];
  let databaseUrl: string;

  before(async () => {
    cluster = await startPrivatePostgres();
    await cluster.createDatabase('latchkey');
    databaseUrl = cluster.url('latchkey');
    instances = await startInstances(databaseUrl, [{}, {}, { env: { CREDENTIAL_EVENTS_POLL_MS: '60000' } }], {
      RATE_LIMIT_API_KEY: '1000000,100000',
    });
  });
  after(async () => {
    await Promise.all(instances.map((s) => s.kill('SIGKILL')));
    await cluster?.dispose();
  });

  it('kills no instance; answers 503 in each format meanwhile; recovers; loses nothing acknowledged', async () => {
    const [a] = instances as [ServerProcess];
    const owner = new Browser(a.url);
    await signUp(owner, `restart-${Date.now()}@example.com`, PASSWORD);
    const keyRes = await owner.postJson('/v2/api-keys', { name: 'load', scopes: ['write:projects', 'read:projects'] });
    assert.equal(keyRes.status, 201);
    const { key } = (await keyRes.json()) as { key: string };
    const app = await registerApp(owner, {
      name: 'Restart service',
      type: 'service',
      redirect_uris: [],
      scopes: ['read:users'],
    });
    const rs = await registerApp(owner, {
      name: 'Restart RS',
      type: 'resource_server',
      redirect_uris: [],
      scopes: ['read:users'],
    });
    const web = await registerApp(owner, {
      name: 'Restart web',
      redirect_uris: ['https://web.example/cb'],
      scopes: ['read:users'],
    });
    const cookie = owner.jar.header();
    const ccToken = await fetch(`${a.url}/oauth/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: app.client_id,
        client_secret: app.client_secret!,
        scope: 'read:users',
      }).toString(),
    });
    const { access_token: opaqueToken } = (await ccToken.json()) as { access_token: string };
    const authorizeQuery = new URLSearchParams({
      client_id: web.client_id,
      redirect_uri: 'https://web.example/cb',
      response_type: 'code',
      scope: 'read:users',
      state: 'st',
    });
    const authorizeUrl = `/oauth/authorize?${authorizeQuery}`;

    const answers: Answer[] = [];
    const failures: string[] = [];
    const created: string[] = [];
    const request = async (kind: Kind, instance: number, path: string, init: RequestInit = {}) => {
      try {
        const res = await fetch(`${instances[instance]!.url}${path}`, {
          ...init,
          redirect: 'manual',
          signal: AbortSignal.timeout(15_000),
        });
        const answer = {
          kind,
          instance,
          status: res.status,
          contentType: res.headers.get('content-type') ?? '',
          location: res.headers.get('location') ?? '',
          body: await res.text(),
        };
        answers.push(answer);
        return answer;
      } catch (err) {
        failures.push(
          `${kind} on instance ${instance}: ${(err as Error).message} ${String((err as Error).cause ?? '')}`,
        );
        return null;
      }
    };
    const oneRound = async (i: number, opts: { authorize?: boolean } = {}) => {
      const project = await request('api', i, '/v2/projects', {
        method: 'POST',
        headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ name: `p-${crypto.randomBytes(4).toString('hex')}` }),
      });
      if (project?.status === 201) created.push((JSON.parse(project.body) as { id: string }).id);
      await request('oauth', i, '/oauth/token', {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: app.client_id,
          client_secret: app.client_secret!,
          scope: 'read:users',
        }).toString(),
      });
      // Past our middleware to oidc-provider's own handler (the token row is read there).
      await request('oauth', i, '/oauth/introspect', {
        method: 'POST',
        headers: {
          'Content-Type': 'application/x-www-form-urlencoded',
          Authorization: `Basic ${Buffer.from(`${rs.client_id}:${rs.client_secret}`).toString('base64')}`,
        },
        body: new URLSearchParams({ token: opaqueToken }).toString(),
      });
      await request('page', i, '/dashboard', { headers: { cookie, accept: 'text/html' } });
      if (opts.authorize) await request('authorize', i, authorizeUrl, { headers: { accept: 'text/html' } });
      await request('readyz', i, '/readyz');
    };

    let loading = true;
    const load = Promise.all(
      instances.map(async (_, i) => {
        while (loading) {
          await oneRound(i);
          await sleep(25);
        }
      }),
    );

    await sleep(1000);
    await cluster.restart();
    await sleep(1500);
    await cluster.stop();
    // While it is down, each instance answers every kind of request with a well-formed 503.
    await sleep(1000);
    const down = answers.length;
    await Promise.all(instances.map((_, i) => oneRound(i, { authorize: true })));
    await sleep(2000);
    await cluster.start();
    const readyAgain = await Promise.all(
      instances.map(async (s) => {
        for (const until = Date.now() + 30_000; Date.now() < until; await sleep(100)) {
          const res = await fetch(`${s.url}/readyz`).catch(() => null);
          if (res?.status === 200) return true;
        }
        return false;
      }),
    );
    await sleep(1500);
    loading = false;
    await load;

    assert.deepEqual(
      instances.map((s) => s.alive()),
      [true, true, true],
      `an instance exited: ${instances
        .flatMap((s) => s.errors())
        .join('\n')
        .slice(0, 3000)}`,
    );
    assert.deepEqual(failures, [], 'requests failed without an answer');
    const bad = answers.map(malformed).filter((m): m is string => m !== null);
    assert.deepEqual(bad.slice(0, 10), [], `${bad.length} answers were neither a success nor a well-formed 503`);
    const whileDown = answers.slice(down);
    for (const kind of ['api', 'oauth', 'page', 'authorize', 'readyz'] as const) {
      // (The authorization endpoint answers a client it still has in cache by redirecting to it with
      // error=temporarily_unavailable, RFC 6749 §4.1.2.1; an unknown one with the 503 page.)
      const unavailable = (x: Answer) =>
        x.status === 503 || (x.kind === 'authorize' && /error=temporarily_unavailable/.test(x.location));
      assert.ok(
        whileDown.some((x) => x.kind === kind && unavailable(x)),
        `no "temporarily unavailable" for ${kind} while PostgreSQL was down`,
      );
    }
    assert.deepEqual(readyAgain, [true, true, true], 'an instance did not become ready again');
    await Promise.all(instances.map((_, i) => oneRound(i, { authorize: true })));
    // Service resumed: each instance's last answers of every kind are successes.
    for (let i = 0; i < instances.length; i++) {
      for (const kind of ['api', 'oauth', 'page', 'authorize', 'readyz'] as const) {
        const last = answers.filter((x) => x.instance === i && x.kind === kind).at(-1);
        assert.ok(
          last && last.status < 400,
          `instance ${i} ${kind} did not recover: ${last?.status} ${last?.body.slice(0, 200)}`,
        );
      }
    }
    // Every project acknowledged with 201 is stored.
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ id: string }>('select id from projects where id = any($1)', [created]);
      assert.ok(created.length > 0);
      assert.equal(rows.length, created.length, 'acknowledged projects are missing');
    } finally {
      await client.end();
    }

    // The notification connection is back: C (which polls once a minute) hears a revocation on A.
    // Each instance reconnects its LISTEN with back-off (up to 5 s between tries), so the probe
    // waits until PostgreSQL shows every instance listening again.
    const listening = async () => {
      const c = new pg.Client({ connectionString: databaseUrl });
      await c.connect();
      try {
        const { rows } = await c.query<{ n: number }>(
          "select count(*)::int as n from pg_stat_activity where query ilike 'LISTEN %'",
        );
        return rows[0]!.n;
      } finally {
        await c.end();
      }
    };
    const deadline = Date.now() + 20_000;
    while ((await listening()) < instances.length && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(await listening(), instances.length, 'every instance listens again');
    const probe = await owner.postJson('/v2/api-keys', { name: 'probe', scopes: ['read:users'] });
    const probeKey = (await probe.json()) as { id: string; key: string };
    const authTest = async (url: string) =>
      (await fetch(`${url}/v2/auth/test`, { headers: { Authorization: `Bearer ${probeKey.key}` } })).status;
    assert.equal(await authTest(instances[2]!.url), 200);
    assert.equal((await owner.request(`/v2/api-keys/${probeKey.id}`, { method: 'DELETE' })).status, 200);
    assertRefusedWithinOneSecond(
      await untilRefused([
        { label: 'C (notifications only)', refused: async () => (await authTest(instances[2]!.url)) === 401 },
      ]),
    );
  });
});
