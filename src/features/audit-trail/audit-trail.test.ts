// Reading the audit trail: a person's own at Settings → Activity, everyone's at /admin/audit (filters,
// keyset pages, the export as CSV and JSON lines), GET /v2/admin/audit, retention, and the trail as
// webhook events. Events are made the way services make them (services.audit.event, written with
// auditLog.append), with the origin and time each test needs.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AuditActor, AuditRecord, AuditType } from '../../domain/audit.ts';
import { startWorld, type TestUser, type TestWorld } from '../../../test/support/world.ts';
import { WebhookReceiver, eventOf } from '../../../test/support/webhook-receiver.ts';
import { BY_SYSTEM } from '../audit/audit.ts';

const DAY = 86_400_000;
const HOUR = 3_600_000;
const CHROME_ON_MAC =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36';

describe('audit trail: reading it', () => {
  let clock = Date.now();
  let world: TestWorld;
  const receivers: WebhookReceiver[] = [];
  before(async () => {
    world = await startWorld({
      env: { WEBHOOK_ALLOW_PRIVATE: '1', AUDIT_RETENTION_DAYS: '30' },
      now: () => clock,
      webhookPollMs: HOUR,
    });
  });
  after(async () => {
    await world.close();
    await Promise.all(receivers.map((r) => r.close()));
  });

  const services = () => world.server.built.services;
  const userActor = (u: TestUser): AuditActor => ({ type: 'user', id: u.id, accountId: u.id, label: u.email });
  /** An event as a service records it, with the origin and time a test chooses. */
  function event(
    type: AuditType,
    opts: {
      account: string | null;
      actor?: AuditActor;
      data?: Record<string, unknown>;
      ip?: string;
      userAgent?: string;
      requestId?: string;
      at?: number;
    },
  ): AuditRecord {
    const made = services().audit.event(
      type,
      {
        account: opts.account,
        data: opts.data ?? {},
        ...(opts.actor ? { actor: opts.actor } : {}),
      },
      BY_SYSTEM,
    );
    return {
      ...made,
      origin: { ip: opts.ip ?? null, userAgent: opts.userAgent ?? null, requestId: opts.requestId ?? null },
      createdAt: opts.at ?? clock,
    };
  }
  const append = (...records: AuditRecord[]) => services().auditLog.append(records);
  const html = async (u: TestUser, path: string) => {
    const res = await u.browser.get(path);
    return { status: res.status, text: await res.text() };
  };
  const unescapeHtml = (s: string) =>
    s
      .replace(/&amp;/g, '&')
      .replace(/&quot;/g, '"')
      .replace(/&#39;/g, "'");
  const olderLink = (page: string, base: string) => {
    const m = new RegExp(`href="(${base.replace(/[/?]/g, '\\$&')}[^"]*before=\\d+[^"]*)"[^>]*>Older events`).exec(page);
    return m ? unescapeHtml(m[1]!) : null;
  };

  describe('Settings → Activity', () => {
    it('shows the person their own events in sentences, who acted and from where, and nobody else’s', async () => {
      const alice = await world.user({ tag: 'alice' });
      const admin = await world.user({ tag: 'admin', admin: true });
      const mallory = await world.user({ tag: 'mallory' });
      await append(
        event('sign_in.succeeded', {
          account: alice.id,
          actor: userActor(alice),
          data: { method: 'passkey' },
          ip: '::ffff:203.0.113.7',
          userAgent: CHROME_ON_MAC,
        }),
        event('api_key.revoked', {
          account: alice.id,
          actor: userActor(admin),
          data: { name: 'deploy' },
          ip: '198.51.100.99',
          userAgent: 'AdminConsoleBrowser/1.0',
        }),
        event('api_key.created', {
          account: alice.id,
          actor: { type: 'api_key', id: 'k1Abc', accountId: alice.id, label: null },
          data: { name: 'ci' },
        }),
        event('password.changed', { account: mallory.id, actor: userActor(mallory), data: {} }),
      );
      const page = await html(alice, '/settings/activity');
      assert.equal(page.status, 200);
      assert.match(page.text, /Signed in with a passkey/);
      assert.match(page.text, /203\.0\.113\.7/);
      assert.doesNotMatch(page.text, /::ffff:203/);
      assert.match(page.text, /Chrome on macOS/);
      assert.match(page.text, /API key &quot;deploy&quot; revoked|API key "deploy" revoked/);
      assert.match(page.text, /An administrator/);
      assert.doesNotMatch(page.text, new RegExp(admin.email), 'another account’s email is not shown');
      assert.doesNotMatch(page.text, /198\.51\.100\.99|AdminConsoleBrowser/, 'nor its address and browser');
      assert.match(page.text, /You, with API key lk_k1Abc_…/);
      assert.doesNotMatch(page.text, /Password changed/, 'another account’s event');
      assert.match(page.text, /<time datetime="\d{4}-\d\d-\d\dT/);
      // Newest first: the key created last is above the sign-in.
      assert.ok(page.text.indexOf('API key &quot;ci&quot;') < page.text.indexOf('Signed in with a passkey'));
      // The dashboard navigation has the page, marked current.
      assert.match(page.text, /<a href="\/settings\/activity" aria-current="page">Activity<\/a>/);
    });

    it('pages back in time with "Older events" links until the end', async () => {
      const bob = await world.user({ tag: 'bob' });
      const records = Array.from({ length: 60 }, (_, i) =>
        event('passkey.added', { account: bob.id, actor: userActor(bob), data: { name: `pk-${i}` } }),
      );
      await append(...records);
      const seen: string[] = [];
      let path: string | null = '/settings/activity';
      let pages = 0;
      while (path) {
        const page = await html(bob, path);
        assert.equal(page.status, 200);
        seen.push(...[...page.text.matchAll(/Passkey &quot;(pk-\d+)&quot; added/g)].map((m) => m[1]!));
        path = olderLink(page.text, '/settings/activity?');
        pages++;
        assert.ok(pages < 10);
      }
      assert.ok(pages >= 2, 'more than one page');
      assert.deepEqual(
        seen,
        Array.from({ length: 60 }, (_, i) => `pk-${59 - i}`),
      );
    });

    it('sends a signed-out browser to sign in', async () => {
      const res = await fetch(`${world.url}/settings/activity`, { redirect: 'manual' });
      assert.equal(res.status, 302);
      assert.match(res.headers.get('location') ?? '', /^\/login\?return_to=%2Fsettings%2Factivity/);
    });
  });

  describe('/admin/audit', () => {
    it('filters by type, actor and dates, and its keyset links keep the filter', async () => {
      const admin = await world.user({ tag: 'ops', admin: true });
      const carol = await world.user({ tag: 'carol' });
      const old = clock - 10 * DAY;
      await append(
        ...Array.from({ length: 55 }, (_, i) =>
          event('application.suspended', { account: carol.id, actor: userActor(admin), data: { name: `app-${i}` } }),
        ),
        event('sign_in.failed', { account: carol.id, data: { reason: 'wrong password' }, requestId: 'req-fail-1' }),
        event('email.changed', { account: carol.id, actor: userActor(carol), at: old }),
      );
      const byType = await html(admin, '/admin/audit?type=sign_in.failed');
      assert.equal(byType.status, 200);
      assert.match(byType.text, /Sign-in refused \(wrong password\)/);
      assert.match(byType.text, /req-fail-1/);
      assert.doesNotMatch(byType.text, /application\.suspended<\/code>/);
      assert.match(byType.text, /<option value="sign_in.failed" selected>/);
      assert.match(byType.text, /<optgroup label="Signing in and the account">/);

      // By actor email: 55 events, two pages; the second page's link keeps the filter.
      const first = await html(admin, `/admin/audit?actor=${encodeURIComponent(admin.email)}`);
      assert.equal([...first.text.matchAll(/application\.suspended<\/code>/g)].length, 50);
      const next = olderLink(first.text, '/admin/audit?');
      assert.ok(next);
      assert.match(next, /actor=/);
      const second = await html(admin, next);
      assert.equal([...second.text.matchAll(/application\.suspended<\/code>/g)].length, 5);
      assert.equal(olderLink(second.text, '/admin/audit?'), null);

      // By dates: the event from ten days ago only.
      const day = new Date(old).toISOString().slice(0, 10);
      const range = await html(admin, `/admin/audit?account=${encodeURIComponent(carol.email)}&from=${day}&to=${day}`);
      assert.match(range.text, /Email address changed/);
      assert.doesNotMatch(range.text, /Sign-in refused/);

      const unknown = await html(admin, '/admin/audit?actor=nobody%40example.com');
      assert.equal(unknown.status, 400);
      assert.match(unknown.text, /no account is nobody@example\.com/);
    });

    it('lets an auditor read it and keeps everyone else out', async () => {
      const auditor = await world.user({ tag: 'auditor' });
      await world.server.db.updateTable('users').set({ is_auditor: 1 }).where('id', '=', auditor.id).execute();
      assert.equal((await html(auditor, '/admin/audit')).status, 200);
      const someone = await world.user({ tag: 'someone' });
      assert.equal((await html(someone, '/admin/audit')).status, 404);
      assert.equal((await html(someone, '/admin/audit/export?format=csv')).status, 404);
    });

    it('exports the filter as CSV with formula cells neutralised, and records the export', async () => {
      const admin = await world.user({ tag: 'exporter', admin: true });
      const dave = await world.user({ tag: 'dave' });
      await append(
        event('api_key.created', {
          account: dave.id,
          actor: userActor(dave),
          data: { name: 'x' },
          userAgent: '=HYPERLINK("https://evil.example","click")',
          requestId: '@SUM(A1)',
        }),
        event('api_key.revoked', { account: dave.id, actor: userActor(dave), ip: '+1', requestId: '-2' }),
      );
      const res = await admin.browser.get(`/admin/audit/export?format=csv&account=${encodeURIComponent(dave.email)}`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/csv/);
      assert.match(res.headers.get('content-disposition') ?? '', /^attachment; filename="latchkey-audit-.*\.csv"$/);
      const lines = (await res.text()).trimEnd().split('\r\n');
      assert.equal(
        lines[0],
        'id,created_at,type,actor_type,actor_id,actor_account_id,actor_label,account_id,' +
          'target_type,target_id,ip,user_agent,request_id,data',
      );
      // Dave's trail also holds his own sign-up and sign-in, older than these two.
      const trail = await services().auditLog.list({ accountId: dave.id }, { limit: 50 });
      assert.equal(lines.length, 1 + trail.length, 'a header and every event of the filter');
      // Newest first: the revocation, then the creation.
      assert.ok(lines[2]!.includes(`"'=HYPERLINK(""https://evil.example"",""click"")"`), lines[2]);
      assert.ok(lines[2]!.includes(",'@SUM(A1),"), lines[2]);
      assert.ok(lines[1]!.includes(",'+1,"), lines[1]);
      assert.ok(lines[1]!.includes(",'-2,"), lines[1]);
      for (const line of lines.slice(1)) assert.doesNotMatch(line, /,[=+\-@]/, 'no cell starts a formula');

      const exported = await services().auditLog.list(
        { actorAccountId: admin.id, types: ['audit.exported'] },
        {
          limit: 5,
        },
      );
      assert.equal(exported.length, 1);
      assert.equal(exported[0]!.actor.type, 'user');
      assert.equal(exported[0]!.data['format'], 'csv');
      assert.deepEqual(exported[0]!.data['filter'], { account: dave.email });
    });

    it('exports JSON lines: one event per line, in the API’s shape, streamed past one page', async () => {
      const admin = await world.user({ tag: 'jsonl', admin: true });
      const erin = await world.user({ tag: 'erin' });
      await append(
        ...Array.from({ length: 1_203 }, (_, i) =>
          event('consent.granted', { account: erin.id, data: { client_name: `c${i}` } }),
        ),
      );
      const res = await admin.browser.get(`/admin/audit/export?format=jsonl&account=${erin.id}&type=consent.granted`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^application\/x-ndjson/);
      assert.match(res.headers.get('content-disposition') ?? '', /^attachment; filename=".*\.jsonl"$/);
      const lines = (await res.text())
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.equal(lines.length, 1_203);
      assert.equal((lines[0]!['data'] as Record<string, unknown>)['client_name'], 'c1202');
      assert.equal((lines.at(-1)!['data'] as Record<string, unknown>)['client_name'], 'c0');
      assert.deepEqual(Object.keys(lines[0]!).sort(), [
        'account_id',
        'actor',
        'created_at',
        'data',
        'id',
        'ip',
        'request_id',
        'target',
        'type',
        'user_agent',
      ]);
      assert.equal(new Set(lines.map((l) => l['id'])).size, 1_203, 'no event twice across pages');
      const bad = await admin.browser.get('/admin/audit/export?format=xlsx');
      assert.equal(bad.status, 400);
    });
  });

  describe('GET /v2/admin/audit', () => {
    it('answers admin:all with pages of events and a next_before cursor, with the same filters', async () => {
      const admin = await world.user({ tag: 'api-admin', admin: true });
      const frank = await world.user({ tag: 'frank' });
      const key = await world.apiKey(admin, ['admin:all']);
      await append(
        ...Array.from({ length: 5 }, (_, i) =>
          event('webhook_endpoint.created', { account: frank.id, actor: userActor(frank), data: { url: `u${i}` } }),
        ),
      );
      const q = `account=${encodeURIComponent(frank.email)}&type=webhook_endpoint.created&limit=3`;
      const first = await world.request('GET', `/v2/admin/audit?${q}`, { bearer: key.key });
      assert.equal(first.status, 200);
      const page1 = first.body as { data: Record<string, unknown>[]; next_before: number | null };
      assert.equal(page1.data.length, 3);
      assert.equal(page1.data[0]!['type'], 'webhook_endpoint.created');
      assert.equal(page1.data[0]!['account_id'], frank.id);
      assert.deepEqual(page1.data[0]!['actor'], {
        type: 'user',
        id: frank.id,
        account_id: frank.id,
        label: frank.email,
      });
      assert.equal(typeof page1.next_before, 'number');
      const second = await world.request('GET', `/v2/admin/audit?${q}&before=${page1.next_before}`, {
        bearer: key.key,
      });
      const page2 = second.body as { data: Record<string, unknown>[]; next_before: number | null };
      assert.equal(page2.data.length, 2);
      assert.equal(page2.next_before, null);
      assert.deepEqual(
        [...page1.data, ...page2.data].map((e) => (e['data'] as { url: string }).url),
        ['u4', 'u3', 'u2', 'u1', 'u0'],
      );
    });

    it('refuses a limit over 200, an unknown type, and a credential without admin:all', async () => {
      const admin = await world.user({ tag: 'api-admin2', admin: true });
      const key = await world.apiKey(admin, ['admin:all']);
      const tooMany = await world.request('GET', '/v2/admin/audit?limit=201', { bearer: key.key });
      assert.equal(tooMany.status, 400);
      const badType = await world.request('GET', '/v2/admin/audit?type=nope', { bearer: key.key });
      assert.equal(badType.status, 400);
      const reader = await world.apiKey(admin, ['read:users']);
      assert.equal((await world.request('GET', '/v2/admin/audit', { bearer: reader.key })).status, 403);
      assert.equal((await world.request('GET', '/v2/admin/audit')).status, 401);
    });

    it('is in the OpenAPI document with its schema', async () => {
      const doc = (await world.request('GET', '/v2/openapi.json')).body as {
        paths: Record<string, Record<string, { operationId: string }>>;
      };
      assert.equal(doc.paths['/v2/admin/audit']?.['get']?.operationId, 'listAuditEvents');
    });
  });

  describe('retention', () => {
    it('deletes events older than AUDIT_RETENTION_DAYS and keeps the recent ones', async () => {
      const gina = await world.user({ tag: 'gina' });
      const start = clock;
      try {
        await append(
          event('password.changed', { account: gina.id, data: { marker: 'old' }, at: start - 31 * DAY }),
          event('password.changed', { account: gina.id, data: { marker: 'recent' }, at: start - 29 * DAY }),
        );
        await services().auditTrail.pruneExpired();
        const markers = (
          await services().auditLog.list(
            { accountId: gina.id, types: ['password.changed'] },
            {
              limit: 10,
            },
          )
        ).map((e) => e.data['marker']);
        assert.deepEqual(markers, ['recent']);
        // Two days later (the clock moves), the recent one is past the retention too.
        clock = start + 2 * DAY;
        await services().auditTrail.pruneExpired();
        assert.equal(
          (await services().auditLog.list({ accountId: gina.id, types: ['password.changed'] }, { limit: 10 })).length,
          0,
        );
      } finally {
        clock = Date.now();
      }
    });
  });

  describe('as webhook events', () => {
    it('an endpoint subscribed to audit.* receives audit.api_key.created; one subscribed to * does not', async () => {
      const hank = await world.user({ tag: 'hank' });
      const auditHook = await WebhookReceiver.start();
      const allHook = await WebhookReceiver.start();
      receivers.push(auditHook, allHook);
      for (const [r, events] of [
        [auditHook, ['audit.*']],
        [allHook, ['*']],
      ] as const) {
        const res = await hank.browser.postJson('/v2/webhooks', { url: r.url(), events });
        assert.equal(res.status, 201, await res.clone().text());
      }
      const key = await world.apiKey(hank, ['read:users'], { name: 'hooked' });
      await world.server.built.webhookWorker.drain();
      const types = auditHook.types();
      assert.ok(types.includes('audit.api_key.created'), types.join());
      const delivered = eventOf(auditHook.requests.find((r) => eventOf(r).type === 'audit.api_key.created')!);
      assert.equal(delivered.data['type'], 'api_key.created');
      assert.deepEqual(delivered.data['target'], { type: 'api_key', id: key.id });
      assert.ok(allHook.types().includes('api_key.created'), 'the change event itself');
      assert.ok(!allHook.types().some((t) => t.startsWith('audit.')), allHook.types().join());
    });

    it('accepts each audit.<type> by name, and the dashboard offers them beside All events', async () => {
      const ivy = await world.user({ tag: 'ivy' });
      const hook = await WebhookReceiver.start();
      receivers.push(hook);
      const named = await ivy.browser.postJson('/v2/webhooks', { url: hook.url(), events: ['audit.sign_in.failed'] });
      assert.equal(named.status, 201);
      const refused = await ivy.browser.postJson('/v2/webhooks', { url: hook.url(), events: ['audit.nope'] });
      assert.equal(refused.status, 400);
      const form = await html(ivy, '/settings/webhooks/new');
      assert.match(form.text, /value="audit\.\*"/);
      assert.match(form.text, /value="audit\.api_key\.revoked"/);
    });
  });
});
