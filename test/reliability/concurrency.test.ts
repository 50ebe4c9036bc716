/**
 * Concurrency: 200 concurrent clients of a mixed workload against one server for
 * 15 s (SOAK=1: 60 s): sign-ups, logins, API key creation and use, project CRUD, client-credentials
 * tokens, and refresh-token races (two parallel refreshes of the same token). Afterwards: no 5xx,
 * no unexpected status, no SQLITE_BUSY anywhere (answers or server log), every record the clients
 * were told about is in the database exactly once, and no race revoked a grant.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { sql } from 'kysely';
import { startTestServer, type TestServer } from '../support/server.ts';
import { Browser, csrfFrom, registerApp, signUp } from '../support/http.ts';
import { basicAuth, codeFlow, type RegisteredApp, type User } from '../support/oauth.ts';
import { SOAK, lanes, sleep } from './helpers.ts';
import { request, REDIRECT_URI } from '../support/world.ts';

const CLIENTS = 200;
const DURATION_MS = (SOAK ? 60 : 15) * 1000;
const PASSWORD = 'concurrency passphrase';
const GRACE_S = 60;

interface Outcome {
  op: string;
  status: number;
  ms: number;
  body?: string;
}

describe(`concurrency: ${CLIENTS} clients, mixed workload, ${DURATION_MS / 1000} s`, () => {
  let server: TestServer;
  const logLines: string[] = [];
  const run = crypto.randomBytes(4).toString('hex');
  let seq = 0;
  const email = (tag: string) => `${tag}-${run}-${++seq}@example.com`;

  /** The developers whose sessions and keys the workload uses. */
  const devs: { id: string; browser: Browser; apiKey: string; service: RegisteredApp; web: RegisteredApp }[] = [];
  /** Accounts that log in during the run. */
  const people: User[] = [];
  /** Refresh-token chains: each holds the newest refresh token of one grant; one lane at a time. */
  const chains: { app: RegisteredApp; refresh: string; access: string; busy: boolean; races: number }[] = [];

  // What the clients were told (acknowledged), to compare with the database afterwards.
  const acked = {
    signups: [] as string[],
    logins: 0,
    keys: [] as string[],
    projectsCreated: [] as string[],
    projectsDeleted: [] as string[],
    ccTokens: 0,
    refreshes: 0,
    races: 0,
  };
  const outcomes: Outcome[] = [];
  /** How long each refresh race took, start to both answers (must stay inside the grace window). */
  const raceMs: number[] = [];
  const unexpected: Outcome[] = [];
  let baseline: {
    sessions: number;
    refreshTokens: number;
    accessTokens: number;
    clientCredentials: number;
    keys: number;
  };

  before(async () => {
    // The grace window is raised to its maximum: 200 clients with no think time on a shared 2-core
    // machine queue a request for seconds, and a race split by queueing alone past the default 5 s
    // is the window working as designed (refresh-tokens.test.ts tests its edge on a driven clock).
    // What this test looks for is a concurrency fault: a race that loses a grant inside the window.
    server = await startTestServer({
      env: { LOG_LEVEL: 'warn', REFRESH_TOKEN_REUSE_GRACE: String(GRACE_S) },
      logDestination: { write: (line: string) => logLines.push(line) },
    });
    // 20 developers, each signed in, with an API key (projects), a service app and a web app.
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        const browser = new Browser(server.url);
        const address = email('dev');
        await signUp(browser, address, PASSWORD);
        const me = (await server.built.services.accounts.authenticate(address, PASSWORD))!;
        const key = (await (
          await request(browser, 'POST', '/v2/api-keys', {
            body: {
              name: 'projects',
              scopes: ['read:projects', 'write:projects'],
            },
          })
        ).json()) as { key: string };
        const service = await registerApp(browser, {
          name: 'Svc',
          type: 'service',
          redirect_uris: [],
          scopes: ['read:users'],
        });
        const web = await registerApp(browser, { name: 'Web', redirect_uris: [REDIRECT_URI], scopes: ['read:users'] });
        devs.push({ id: me.id, browser, apiKey: key.key, service, web });
      }),
    );
    // 40 people who log in during the run; 40 grants whose refresh tokens race.
    await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const person = { email: email('person'), password: PASSWORD };
        await signUp(new Browser(server.url), person.email, person.password);
        people.push(person);
        const app = devs[i % devs.length]!.web;
        const tokens = await codeFlow(server, app, person);
        chains.push({ app, refresh: tokens.refresh_token!, access: tokens.access_token, busy: false, races: 0 });
      }),
    );
    baseline = await counts();
  });
  after(() => server.dispose());

  async function counts() {
    const one = async (q: Promise<{ n: number | string | bigint } | undefined>) => Number((await q)?.n ?? 0);
    const payloads = (type: string) =>
      one(
        server.db
          .selectFrom('oidc_payloads')
          .select((eb) => eb.fn.countAll().as('n'))
          .where('type', '=', type)
          .executeTakeFirst() as never,
      );
    return {
      sessions: await one(
        server.db
          .selectFrom('browser_sessions')
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirst() as never,
      ),
      refreshTokens: await payloads('RefreshToken'),
      accessTokens: await payloads('AccessToken'),
      clientCredentials: await payloads('ClientCredentials'),
      keys: await one(
        server.db
          .selectFrom('api_keys')
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirst() as never,
      ),
    };
  }

  /** One request; records its status and time; anything not in `expect` is kept for the report. */
  async function call(
    op: string,
    expect: number[],
    send: () => Promise<Pick<Response, 'status' | 'text'>>,
  ): Promise<{ status: number; text: string }> {
    const started = performance.now();
    let status = 0;
    let text = '';
    try {
      const res = await send();
      status = res.status;
      text = await res.text();
    } catch (err) {
      text = `network error: ${(err as Error).message}`;
    }
    const outcome: Outcome = { op, status, ms: performance.now() - started };
    outcomes.push(outcome);
    if (!expect.includes(status)) unexpected.push({ ...outcome, body: text.slice(0, 300) });
    return { status, text };
  }
  const json = (text: string) => JSON.parse(text) as Record<string, unknown>;
  const pick = <T>(items: T[]) => items[Math.floor(Math.random() * items.length)]!;

  const ops: [weight: number, name: string, run: () => Promise<void>][] = [
    [
      3,
      'sign-up',
      async () => {
        const b = new Browser(server.url);
        const page = await call('GET /signup', [200], () => b.get('/signup'));
        const address = email('new');
        const res = await call('POST /signup', [200], () =>
          b.postForm('/signup', { _csrf: csrfFrom(page.text), email: address, password: PASSWORD }),
        );
        if (res.status === 200) acked.signups.push(address);
      },
    ],
    [
      4,
      'login',
      async () => {
        const b = new Browser(server.url);
        const who = pick(people);
        const page = await call('GET /login', [200], () => b.get('/login'));
        const res = await call('POST /login', [303], () =>
          b.postForm('/login', { _csrf: csrfFrom(page.text), email: who.email, password: who.password }),
        );
        if (res.status === 303) acked.logins++;
      },
    ],
    [
      15,
      'API key',
      async () => {
        const dev = pick(devs);
        const res = await call('POST /v2/api-keys', [201], () =>
          request(dev.browser, 'POST', '/v2/api-keys', { body: { name: `k-${++seq}`, scopes: ['read:users'] } }),
        );
        if (res.status !== 201) return;
        const { id, key } = json(res.text) as { id: string; key: string };
        acked.keys.push(id);
        await call('GET /v2/auth/test (new key)', [200], () =>
          fetch(`${server.url}/v2/auth/test`, { headers: { Authorization: `Bearer ${key}` } }),
        );
      },
    ],
    [
      25,
      'project CRUD',
      async () => {
        const dev = pick(devs);
        const auth = { Authorization: `Bearer ${dev.apiKey}`, 'Content-Type': 'application/json' };
        const name = `p-${run}-${++seq}`;
        const created = await call('POST /v2/projects', [201], () =>
          fetch(`${server.url}/v2/projects`, { method: 'POST', headers: auth, body: JSON.stringify({ name }) }),
        );
        if (created.status !== 201) return;
        const { id } = json(created.text) as { id: string };
        acked.projectsCreated.push(id);
        await call('GET /v2/projects/:id', [200], () => fetch(`${server.url}/v2/projects/${id}`, { headers: auth }));
        await call('PATCH /v2/projects/:id', [200], () =>
          fetch(`${server.url}/v2/projects/${id}`, {
            method: 'PATCH',
            headers: auth,
            body: JSON.stringify({ description: 'changed' }),
          }),
        );
        await call('GET /v2/projects', [200], () => fetch(`${server.url}/v2/projects?limit=5`, { headers: auth }));
        if (Math.random() < 0.5) {
          const deleted = await call('DELETE /v2/projects/:id', [200, 204], () =>
            fetch(`${server.url}/v2/projects/${id}`, { method: 'DELETE', headers: auth }),
          );
          if (deleted.status < 300) acked.projectsDeleted.push(id);
        }
      },
    ],
    [
      25,
      'client credentials',
      async () => {
        const dev = pick(devs);
        const res = await call('POST /oauth/token (client_credentials)', [200], () =>
          fetch(`${server.url}/oauth/token`, {
            method: 'POST',
            headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basicAuth(dev.service) },
            body: 'grant_type=client_credentials&scope=read:users',
          }),
        );
        if (res.status !== 200) return;
        acked.ccTokens++;
        const token = json(res.text)['access_token'] as string;
        await call('GET /v2/auth/test (cc token)', [200], () =>
          fetch(`${server.url}/v2/auth/test`, { headers: { Authorization: `Bearer ${token}` } }),
        );
      },
    ],
    [
      15,
      'refresh race',
      async () => {
        const chain = chains.find((c) => !c.busy && Math.random() < 0.3) ?? chains.find((c) => !c.busy);
        if (!chain) return;
        chain.busy = true;
        try {
          const refresh = () =>
            call('POST /oauth/token (refresh race)', [200], () =>
              fetch(`${server.url}/oauth/token`, {
                method: 'POST',
                headers: { 'Content-Type': 'application/json' },
                body: JSON.stringify({
                  grant_type: 'refresh_token',
                  refresh_token: chain.refresh,
                  client_id: chain.app.client_id,
                  client_secret: chain.app.client_secret,
                }),
              }),
            );
          const raceStarted = performance.now();
          const [a, b] = await Promise.all([refresh(), refresh()]);
          raceMs.push(performance.now() - raceStarted);
          acked.races++;
          for (const r of [a, b]) if (r.status === 200) acked.refreshes++;
          const next = [a, b].find((r) => r.status === 200);
          if (next) {
            const body = json(next.text);
            chain.refresh = body['refresh_token'] as string;
            chain.access = body['access_token'] as string;
            chain.races++;
          }
        } finally {
          chain.busy = false;
        }
      },
    ],
    [
      13,
      'API key use',
      async () => {
        const dev = pick(devs);
        await call('GET /v2/auth/test (key)', [200], () =>
          fetch(`${server.url}/v2/auth/test`, { headers: { Authorization: `Bearer ${dev.apiKey}` } }),
        );
      },
    ],
  ];
  const totalWeight = ops.reduce((s, [w]) => s + w, 0);
  const nextOp = () => {
    let r = Math.random() * totalWeight;
    for (const op of ops) {
      r -= op[0];
      if (r < 0) return op;
    }
    return ops[ops.length - 1]!;
  };

  it(`serves ${CLIENTS} concurrent clients with no errors`, { timeout: DURATION_MS + 120_000 }, async () => {
    const loop = monitorEventLoopDelay({ resolution: 20 });
    loop.enable();
    const cpu = process.cpuUsage();
    const started = Date.now();
    const opRuns = new Map<string, number>();
    // The clients arrive over the first second (as clients do), rather than in one instant.
    await lanes(
      CLIENTS,
      () => Date.now() - started >= DURATION_MS,
      async (lane) => {
        if (!opRuns.has(`lane ${lane}`)) {
          opRuns.set(`lane ${lane}`, 1);
          await sleep(lane * (1000 / CLIENTS));
        }
        const [, name, runOp] = nextOp();
        opRuns.set(name, (opRuns.get(name) ?? 0) + 1);
        await runOp();
      },
    );
    const elapsed = (Date.now() - started) / 1000;
    loop.disable();
    const used = process.cpuUsage(cpu);
    console.log(
      `CPU ${((used.user + used.system) / 1e6).toFixed(1)} s in ${elapsed.toFixed(1)} s; ` +
        `event-loop delay p50 ${(loop.percentile(50) / 1e6).toFixed(0)} ms, ` +
        `p99 ${(loop.percentile(99) / 1e6).toFixed(0)} ms, max ${(loop.max / 1e6).toFixed(0)} ms`,
    );

    const byOp = new Map<string, number[]>();
    for (const o of outcomes) byOp.set(o.op, [...(byOp.get(o.op) ?? []), o.ms]);
    const pct = (xs: number[], p: number) =>
      xs.sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
    const lines = [...byOp].map(
      ([op, ms]) => `${op}: ${ms.length} (p50 ${pct(ms, 50).toFixed(0)} ms, p99 ${pct(ms, 99).toFixed(0)} ms)`,
    );
    console.log(
      `${outcomes.length} requests in ${elapsed.toFixed(1)} s (${(outcomes.length / elapsed).toFixed(0)}/s); ` +
        `${acked.races} refresh races ` +
        `(p50 ${pct(raceMs, 50)?.toFixed(0)} ms, max ${Math.max(...raceMs).toFixed(0)} ms)` +
        `\n  ${lines.join('\n  ')}`,
    );

    const serverErrors = outcomes.filter((o) => o.status >= 500);
    assert.equal(
      serverErrors.length,
      0,
      `5xx answers: ${JSON.stringify(unexpected.filter((o) => o.status >= 500).slice(0, 5))}`,
    );
    assert.deepEqual(unexpected.slice(0, 10), [], `${unexpected.length} unexpected answers`);
    assert.ok(outcomes.length > CLIENTS * 3, `enough work was done: ${outcomes.length} requests`);
    for (const [, name] of ops) assert.ok((opRuns.get(name) ?? 0) > 0, `${name} ran`);
  });

  it('never met SQLITE_BUSY or logged an error', () => {
    const busy = /SQLITE_BUSY|database is locked/i;
    assert.deepEqual(
      unexpected.filter((o) => busy.test(o.body ?? '')),
      [],
    );
    assert.deepEqual(
      logLines.filter((l) => busy.test(l)),
      [],
    );
    const errors = logLines.filter((l) => (JSON.parse(l) as { level: number }).level >= 50);
    assert.deepEqual(errors.slice(0, 3), [], `${errors.length} error log lines`);
  });

  it('has every acknowledged record in the database exactly once, and nothing else', async () => {
    const now = await counts();
    // Sign-ups: exactly the acknowledged accounts of this run, one row each.
    const signups = await server.db
      .selectFrom('users')
      .select('email')
      .where('email', 'like', `new-${run}-%`)
      .execute();
    assert.equal(signups.length, acked.signups.length, 'sign-up rows');
    assert.deepEqual(new Set(signups.map((r) => r.email)), new Set(acked.signups));
    // One dashboard session per acknowledged login (sign-up does not sign in).
    assert.equal(now.sessions - baseline.sessions, acked.logins, 'session rows');
    // API keys: every acknowledged id, once.
    assert.equal(now.keys - baseline.keys, acked.keys.length, 'API key rows');
    const keyIds = new Set((await server.db.selectFrom('api_keys').select('id').execute()).map((r) => r.id));
    assert.equal(new Set(acked.keys).size, acked.keys.length, 'no key id handed out twice');
    assert.deepEqual(
      acked.keys.filter((id) => !keyIds.has(id)),
      [],
      'acknowledged keys missing',
    );
    // Projects: created minus deleted, exactly those ids.
    const projects = await server.db
      .selectFrom('projects')
      .select(['id', 'name', 'description'])
      .where('name', 'like', `p-${run}-%`)
      .execute();
    const alive = new Set(acked.projectsCreated.filter((id) => !acked.projectsDeleted.includes(id)));
    assert.equal(projects.length, alive.size, 'project rows');
    assert.deepEqual(new Set(projects.map((p) => p.id)), alive);
    assert.equal(new Set(projects.map((p) => p.name)).size, projects.length, 'no duplicate project');
    assert.ok(
      projects.every((p) => p.description === 'changed'),
      'every acknowledged update is there',
    );
    // Tokens: one row per token issued.
    assert.equal(now.clientCredentials - baseline.clientCredentials, acked.ccTokens, 'client-credentials token rows');
    assert.equal(now.refreshTokens - baseline.refreshTokens, acked.refreshes, 'refresh token rows');
    assert.equal(now.accessTokens - baseline.accessTokens, acked.refreshes, 'access token rows');
    const dupes = await sql<{ n: number }>`
      SELECT COUNT(*) AS n
      FROM (SELECT type, id_hash FROM oidc_payloads GROUP BY type, id_hash HAVING COUNT(*) > 1) d`.execute(server.db);
    assert.equal(Number(dupes.rows[0]!.n), 0);
  });

  it('resolved every refresh race within the grace window: both refreshes succeeded, no grant revoked', async () => {
    assert.ok(acked.races >= 20, `races run: ${acked.races}`);
    assert.ok(Math.max(...raceMs) < GRACE_S * 1000, 'every race finished inside the grace window');
    assert.equal(acked.refreshes, acked.races * 2, 'both refreshes of every race succeeded');
    for (const chain of chains) {
      const info = await fetch(`${server.url}/oauth/introspect`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: basicAuth(chain.app) },
        body: JSON.stringify({ token: chain.access }),
      });
      assert.equal(
        ((await info.json()) as { active: boolean }).active,
        true,
        'the newest access token of every grant is active',
      );
      const res = await fetch(`${server.url}/oauth/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({
          grant_type: 'refresh_token',
          refresh_token: chain.refresh,
          client_id: chain.app.client_id,
          client_secret: chain.app.client_secret,
        }),
      });
      assert.equal(res.status, 200, `a grant after ${chain.races} races refreshes: ${await res.text()}`);
    }
    const ready = await fetch(`${server.url}/readyz`);
    assert.equal(ready.status, 200);
  });
});
