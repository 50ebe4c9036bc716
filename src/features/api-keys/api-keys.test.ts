import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startTestServer, type TestServer } from '../../../test/support/server.ts';
import { expectApiError } from '../../../test/support/api.ts';
import { dumpDatabase } from '../../../test/support/db-dump.ts';
import { cliDatabaseEnv } from '../../../test/support/database.ts';
import { runCli, type RunResult } from '../../../test/support/process.ts';
import { startWorld, credentialServerEnv, type World, type TestUser, request } from '../../../test/support/world.ts';

// API keys over real HTTP: created by a signed-in dashboard browser,
// used as bearer credentials, with an injected clock for expiry and rotation grace and
// X-Forwarded-For (TRUST_PROXY=1) for the client address.

const KEY_SHAPE = /^lk_([0-9A-Za-z]{12})_[0-9A-Za-z]{36}$/;
const DOCUMENTED_401 = { error: { code: 'UNAUTHORIZED', message: 'Invalid or missing authentication credentials' } };
const HOUR = 3_600_000;

interface CreatedKey {
  id: string;
  key: string;
  name: string;
  prefix: string;
  scopes: string[];
  allowed_ips: string[] | null;
  status: string;
  expires_at: string | null;
  created_at: string;
  last_used_at: string | null;
  last_used_ip: string | null;
  revoked_at: string | null;
  replaced_by: string | null;
  grace_until: string | null;
}

/** The same key with one character of its secret part changed (the checksum no longer matches). */
function typo(key: string, at = 20): string {
  const c = key[at]!;
  const replacement = c === 'a' ? 'b' : 'a';
  return key.slice(0, at) + replacement + key.slice(at + 1);
}

async function expect401(res: { status: number; body: unknown; headers: Headers }, why: string) {
  assert.equal(res.status, 401, `${why}: ${JSON.stringify(res.body)}`);
  assert.deepEqual(res.body, DOCUMENTED_401, why);
  assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer\b/, why);
}

describe('/v2/api-keys', () => {
  let server: TestServer;
  let make: World;
  let alice: TestUser;
  let admin: TestUser;
  let clock = Date.now();
  const plaintextKeys: string[] = [];

  /** POST /v2/api-keys as the user's dashboard browser (session cookie, JSON body). */
  const create = (u: TestUser, body: unknown) => u.browser.postJson('/v2/api-keys', body);
  const created = async (u: TestUser, body: unknown): Promise<CreatedKey> => {
    const res = await create(u, body);
    const text = await res.text();
    assert.equal(res.status, 201, text);
    const key = JSON.parse(text) as CreatedKey;
    plaintextKeys.push(key.key);
    return key;
  };
  const getKey = async (u: TestUser, id: string): Promise<CreatedKey> => {
    const res = await request(u.browser, 'GET', `/v2/api-keys/${id}`);
    const text = await res.text();
    assert.equal(res.status, 200, text);
    return JSON.parse(text) as CreatedKey;
  };
  const activity = async (u: TestUser, id: string) => {
    const res = await request(u.browser, 'GET', `/v2/api-keys/${id}/activity`);
    const text = await res.text();
    assert.equal(res.status, 200, text);
    return (JSON.parse(text) as { data: Record<string, unknown>[] }).data;
  };
  const authTest = (key: string, headers: Record<string, string> = {}) =>
    request(server, 'GET', '/v2/auth/test', { bearer: key, headers });

  before(async () => {
    make = await startWorld({ now: () => clock });
    server = make.server;
    alice = await make.user({ tag: 'alice' });
    admin = await make.user({ admin: true, tag: 'admin' });
  });
  after(() => server.dispose());

  describe('create, list, get', () => {
    it('returns 201 with the key once (lk_<12>_<36>); list and get show only its prefix', async () => {
      const res = await create(alice, { name: 'Production Key', scopes: ['read:users', 'write:projects'] });
      assert.equal(res.status, 201);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      const k = (await res.json()) as CreatedKey;
      plaintextKeys.push(k.key);
      const m = KEY_SHAPE.exec(k.key);
      assert.ok(m, `key shape: ${k.key}`);
      assert.equal(m[1], k.id, 'the public id is the key’s middle part');
      assert.equal(k.prefix, `lk_${k.id}_`);
      assert.ok(k.key.startsWith(k.prefix));
      assert.equal(k.name, 'Production Key');
      assert.deepEqual(k.scopes, ['read:users', 'write:projects']);
      assert.equal(k.status, 'active');
      assert.equal(k.expires_at, null);
      assert.equal(k.allowed_ips, null);
      assert.equal(k.created_at, new Date(clock).toISOString());

      const listRes = await request(alice.browser, 'GET', '/v2/api-keys');
      assert.equal(listRes.status, 200);
      const listText = await listRes.text();
      assert.ok(!listText.includes(k.key), 'the list never shows the key');
      assert.ok(!listText.includes(k.key.slice(k.prefix.length)), 'nor its secret part');
      const listed = (JSON.parse(listText) as { data: CreatedKey[] }).data.find((x) => x.id === k.id);
      assert.ok(listed, 'listed');
      assert.equal(listed.key, undefined);
      assert.equal(listed.prefix, k.prefix);

      const getRes = await request(alice.browser, 'GET', `/v2/api-keys/${k.id}`);
      assert.equal(getRes.status, 200);
      const getText = await getRes.text();
      assert.ok(!getText.includes(k.key.slice(k.prefix.length)), 'get never shows the key');
      const got = JSON.parse(getText) as CreatedKey;
      assert.equal(got.key, undefined);
      assert.equal(got.prefix, k.prefix);
      assert.deepEqual(got.scopes, ['read:users', 'write:projects']);

      // And the key works.
      const used = await authTest(k.key);
      assert.equal(used.status, 200);
      assert.deepEqual(used.body, {
        valid: true,
        method: 'api_key',
        subject: alice.id,
        scopes: ['read:users', 'write:projects'],
        expires_at: null,
      });
    });

    it("another user's key is 403 to get, revoke, rotate and activity (the documented body)", async () => {
      const k = await created(alice, { name: 'mine', scopes: ['read:users'] });
      const bob = await make.user({ tag: 'bob' });
      await expectApiError(await request(bob.browser, 'GET', `/v2/api-keys/${k.id}`), 403, 'FORBIDDEN', {
        message: 'Insufficient permissions for this operation',
      });
      await expectApiError(
        await request(bob.browser, 'POST', `/v2/api-keys/${k.id}/revoke`, { body: {} }),
        403,
        'FORBIDDEN',
        { message: 'Insufficient permissions for this operation' },
      );
      await expectApiError(
        await request(bob.browser, 'POST', `/v2/api-keys/${k.id}/rotate`, { body: {} }),
        403,
        'FORBIDDEN',
        { message: 'Insufficient permissions for this operation' },
      );
      await expectApiError(await request(bob.browser, 'GET', `/v2/api-keys/${k.id}/activity`), 403, 'FORBIDDEN', {
        message: 'Insufficient permissions for this operation',
      });
      const bobList = (await (await request(bob.browser, 'GET', '/v2/api-keys')).json()) as { data: CreatedKey[] };
      assert.ok(!bobList.data.some((x) => x.id === k.id));
      assert.equal((await authTest(k.key)).status, 200, 'still alive');
    });

    it('refuses scopes beyond the creator’s: admin:all by a non-admin is 403 (alone or with others)', async () => {
      for (const scopes of [['admin:all'], ['read:users', 'admin:all']]) {
        const body = await expectApiError(await create(alice, { name: 'too much', scopes }), 403, 'FORBIDDEN');
        assert.match(body.error.message, /admin:all/);
      }
      const list = (await (await request(alice.browser, 'GET', '/v2/api-keys')).json()) as { data: CreatedKey[] };
      assert.ok(!list.data.some((x) => x.name === 'too much'), 'nothing was created');
    });

    it('an admin may create an admin:all key', async () => {
      const k = await created(admin, { name: 'ops', scopes: ['admin:all'] });
      const used = await authTest(k.key);
      assert.equal(used.status, 200);
      assert.deepEqual(used.body!['scopes'], ['admin:all']);
    });

    it('a key cannot mint keys (no session, no admin:all): 403', async () => {
      const k = await created(alice, { name: 'minter', scopes: ['read:users', 'write:users'] });
      const res = await request(server, 'POST', '/v2/api-keys', {
        bearer: k.key,
        body: { name: 'child', scopes: ['read:users'] },
      });
      assert.equal(res.status, 403, JSON.stringify(res.body));
      assert.equal((res.body as { error: { code: string } }).error.code, 'FORBIDDEN');
    });

    it('expires_at in the past is 400 naming expires_at; a malformed one too', async () => {
      const past = await expectApiError(
        await create(alice, {
          name: 'old',
          scopes: ['read:users'],
          expires_at: new Date(clock - 60_000).toISOString(),
        }),
        400,
        'VALIDATION_FAILED',
        { field: 'expires_at' },
      );
      assert.match(past.error.message, /expires_at/);
      await expectApiError(
        await create(alice, { name: 'bad', scopes: ['read:users'], expires_at: 'next tuesday' }),
        400,
        'VALIDATION_FAILED',
        { field: 'expires_at' },
      );
    });

    it('a bad CIDR in allowed_ips is 400 naming the entry', async () => {
      for (const bad of ['10.0.0.0/33', 'not-an-ip', '2001:db8::/129', '300.1.1.1']) {
        const body = await expectApiError(
          await create(alice, { name: 'cidr', scopes: ['read:users'], allowed_ips: ['10.0.0.0/8', bad] }),
          400,
          'VALIDATION_FAILED',
          { field: 'allowed_ips.1' },
        );
        assert.match(body.error.message, /allowed_ips/);
      }
    });

    it('other bad input is 400 naming the field (unknown scope, no name, unknown field)', async () => {
      await expectApiError(await create(alice, { name: 'x', scopes: ['read:everything'] }), 400, 'VALIDATION_FAILED', {
        field: 'scopes.0',
      });
      await expectApiError(await create(alice, { scopes: ['read:users'] }), 400, 'VALIDATION_FAILED', {
        field: 'name',
      });
      await expectApiError(await create(alice, { name: 'x', scopes: [] }), 400, 'VALIDATION_FAILED', {
        field: 'scopes',
      });
      await expectApiError(
        await create(alice, { name: 'x', scopes: ['read:users'], owner: 'someone' }),
        400,
        'VALIDATION_FAILED',
        { field: 'owner' },
      );
    });
  });

  describe('using a key', () => {
    it('an expired key is refused (401) once the clock passes expires_at', async () => {
      const expiresAt = new Date(clock + 2 * HOUR).toISOString();
      const k = await created(alice, { name: 'short', scopes: ['read:users'], expires_at: expiresAt });
      assert.equal(k.expires_at, expiresAt);
      const ok = await authTest(k.key);
      assert.equal(ok.status, 200);
      assert.equal(ok.body!['expires_at'], expiresAt);
      clock += HOUR;
      assert.equal((await authTest(k.key)).status, 200, 'one hour in: still valid');
      clock += HOUR + 1000;
      await expect401(await authTest(k.key), 'expired');
      assert.equal((await getKey(alice, k.id)).status, 'expired');
    });

    it('a revoked key is refused (401) at once; revoke is shown in get', async () => {
      const k = await created(alice, { name: 'to revoke', scopes: ['read:users'] });
      assert.equal((await authTest(k.key)).status, 200);
      const res = await request(alice.browser, 'POST', `/v2/api-keys/${k.id}/revoke`, { body: {} });
      assert.equal(res.status, 200);
      const view = (await res.json()) as CreatedKey;
      assert.equal(view.status, 'revoked');
      assert.equal(view.revoked_at, new Date(clock).toISOString());
      await expect401(await authTest(k.key), 'revoked');

      // DELETE /:id revokes too.
      const k2 = await created(alice, { name: 'to delete', scopes: ['read:users'] });
      assert.equal((await authTest(k2.key)).status, 200);
      assert.equal((await request(alice.browser, 'DELETE', `/v2/api-keys/${k2.id}`)).status, 200);
      await expect401(await authTest(k2.key), 'revoked by DELETE');
    });

    it('a key with one character changed (checksum fails) is refused (401)', async () => {
      const k = await created(alice, { name: 'typo', scopes: ['read:users'] });
      assert.equal((await authTest(k.key)).status, 200);
      for (const at of [4, 16, 30, k.key.length - 1]) {
        const wrong = typo(k.key, at);
        assert.notEqual(wrong, k.key);
        await expect401(await authTest(wrong), `typo at ${at}`);
      }
      await expect401(await authTest(k.key.slice(0, -1)), 'truncated');
      await expect401(await authTest(`${k.key}x`), 'extended');
      await expect401(await authTest(k.key.replace(/^lk_/, 'lx_')), 'wrong prefix');
    });

    it('a well-formed key with a valid checksum that was never issued is refused (401)', async () => {
      // Same shape and checksum scheme as a real key, but unknown id: 401, not 500.
      const { mintApiKey } = await import('./key-format.ts');
      await expect401(await authTest(mintApiKey().key), 'unknown key');
    });

    it('a refused API key gets RFC 6750 `WWW-Authenticate: Bearer error="invalid_token"`', async () => {
      const k = await created(alice, { name: 'hdr', scopes: ['read:users'] });
      await request(alice.browser, 'POST', `/v2/api-keys/${k.id}/revoke`, { body: {} });
      for (const [why, token] of [
        ['revoked', k.key],
        ['typo', typo(k.key)],
      ] as const) {
        const res = await authTest(token);
        assert.equal(res.status, 401);
        assert.match(
          res.headers.get('www-authenticate') ?? '',
          /^Bearer error="invalid_token"/,
          `${why}: ${res.headers.get('www-authenticate')}`,
        );
      }
    });
  });

  describe('IP allowlist (X-Forwarded-For with TRUST_PROXY=1)', () => {
    it('IPv4 CIDR: allowed from 10.1.2.3, 403 from 192.168.1.1 and from the loopback', async () => {
      const k = await created(alice, { name: 'office', scopes: ['read:users'], allowed_ips: ['10.1.0.0/16'] });
      assert.deepEqual(k.allowed_ips, ['10.1.0.0/16']);
      const ok = await authTest(k.key, { 'X-Forwarded-For': '10.1.2.3' });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      const froms: Record<string, string>[] = [
        { 'X-Forwarded-For': '192.168.1.1' },
        { 'X-Forwarded-For': '10.2.0.1' },
        {},
      ];
      for (const from of froms) {
        const res = await authTest(k.key, from);
        assert.equal(res.status, 403, `${JSON.stringify(from)}: ${JSON.stringify(res.body)}`);
        assert.equal((res.body as { error: { code: string } }).error.code, 'FORBIDDEN');
      }
    });

    it('IPv6 CIDR works (and a single IPv6 address)', async () => {
      const k = await created(alice, {
        name: 'v6',
        scopes: ['read:users'],
        allowed_ips: ['2001:db8::/32', '2001:db9::7'],
      });
      assert.equal((await authTest(k.key, { 'X-Forwarded-For': '2001:db8:1234::1' })).status, 200);
      assert.equal((await authTest(k.key, { 'X-Forwarded-For': '2001:db9::7' })).status, 200);
      assert.equal((await authTest(k.key, { 'X-Forwarded-For': '2001:db9::8' })).status, 403);
      assert.equal((await authTest(k.key, { 'X-Forwarded-For': '2001:dead::1' })).status, 403);
      assert.equal((await authTest(k.key, { 'X-Forwarded-For': '10.1.2.3' })).status, 403);
    });

    it('an IPv4-mapped IPv6 address counts as its IPv4 address', async () => {
      const k = await created(alice, { name: 'mapped', scopes: ['read:users'], allowed_ips: ['10.1.0.0/16'] });
      assert.equal((await authTest(k.key, { 'X-Forwarded-For': '::ffff:10.1.2.3' })).status, 200);
      assert.equal((await authTest(k.key, { 'X-Forwarded-For': '::ffff:192.168.1.1' })).status, 403);
    });
  });

  describe('rotation', () => {
    it('POST /:id/rotate returns a new key; the old one works for 23 h and is refused after 24 h', async () => {
      const old = await created(alice, {
        name: 'rotating',
        scopes: ['read:users', 'read:projects'],
        allowed_ips: ['10.1.0.0/16'],
      });
      const from = { 'X-Forwarded-For': '10.1.2.3' };
      const rotatedAt = clock;
      const res = await request(alice.browser, 'POST', `/v2/api-keys/${old.id}/rotate`, { body: {} });
      assert.equal(res.status, 201);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      const fresh = (await res.json()) as CreatedKey;
      plaintextKeys.push(fresh.key);
      assert.match(fresh.key, KEY_SHAPE);
      assert.notEqual(fresh.key, old.key);
      assert.notEqual(fresh.id, old.id);
      assert.equal(fresh.name, old.name);
      assert.deepEqual(fresh.scopes, old.scopes, 'same scopes');
      assert.deepEqual(fresh.allowed_ips, old.allowed_ips, 'same allowlist');

      const oldView = await getKey(alice, old.id);
      assert.equal(oldView.replaced_by, fresh.id);
      assert.equal(oldView.grace_until, new Date(rotatedAt + 24 * HOUR).toISOString());

      assert.equal((await authTest(fresh.key, from)).status, 200, 'the new key works at once');
      assert.equal((await authTest(old.key, from)).status, 200, 'the old key still works');
      clock = rotatedAt + 23 * HOUR;
      assert.equal((await authTest(old.key, from)).status, 200, 'within the grace period (23 h)');
      assert.equal((await authTest(fresh.key, from)).status, 200);
      clock = rotatedAt + 25 * HOUR;
      await expect401(await authTest(old.key, from), 'after the grace period (25 h)');
      assert.equal((await authTest(fresh.key, from)).status, 200, 'the new key lives on');
      assert.equal((await getKey(alice, old.id)).status, 'rotated');

      // A rotated key cannot be rotated again.
      await expectApiError(
        await request(alice.browser, 'POST', `/v2/api-keys/${old.id}/rotate`, { body: {} }),
        409,
        'CONFLICT',
      );
    });

    it('the grace period never runs past the old key’s own expiry', async () => {
      const rotatedAt = clock;
      const expiresAt = rotatedAt + 2 * HOUR;
      const old = await created(alice, {
        name: 'expiring',
        scopes: ['read:users'],
        expires_at: new Date(expiresAt).toISOString(),
      });
      const res = await request(alice.browser, 'POST', `/v2/api-keys/${old.id}/rotate`, { body: {} });
      assert.equal(res.status, 201);
      const fresh = (await res.json()) as CreatedKey;
      plaintextKeys.push(fresh.key);
      assert.equal((await getKey(alice, old.id)).grace_until, new Date(expiresAt).toISOString());
      clock = rotatedAt + HOUR;
      assert.equal((await authTest(old.key)).status, 200, 'before its expiry');
      assert.equal((await authTest(fresh.key)).status, 200);
      clock = expiresAt + 1000;
      await expect401(await authTest(old.key), 'past its own expiry, though the 24 h grace has not run out');
    });

    it('a revoked or expired key cannot be rotated (409)', async () => {
      const k = await created(alice, { name: 'dead', scopes: ['read:users'] });
      await request(alice.browser, 'POST', `/v2/api-keys/${k.id}/revoke`, { body: {} });
      await expectApiError(
        await request(alice.browser, 'POST', `/v2/api-keys/${k.id}/rotate`, { body: {} }),
        409,
        'CONFLICT',
      );
    });
  });

  describe('last use and activity', () => {
    it(
      'records last_used_at / last_used_ip and an activity entry with method, path, status, request id and ' +
        'X-Client-Version',
      async () => {
        const k = await created(alice, { name: 'watched', scopes: ['read:users'] });
        const requestId = `req-${crypto.randomUUID()}`;
        const usedAt = clock;
        const res = await authTest(k.key, {
          'X-Forwarded-For': '203.0.113.7',
          'X-Request-ID': requestId,
          'X-Client-Version': '1.0.0',
        });
        assert.equal(res.status, 200);

        const entries = await activity(alice, k.id);
        const entry = entries.find((e) => e['request_id'] === requestId);
        assert.ok(entry, `entry for ${requestId} in ${JSON.stringify(entries)}`);
        assert.equal(entry['method'], 'GET');
        assert.equal(entry['path'], '/v2/auth/test');
        assert.equal(entry['status'], 200);
        assert.equal(entry['ip'], '203.0.113.7');
        assert.equal(entry['client_version'], '1.0.0');
        assert.equal(entry['at'], new Date(usedAt).toISOString());

        const view = await getKey(alice, k.id);
        assert.equal(view.last_used_at, new Date(usedAt).toISOString());
        assert.equal(view.last_used_ip, '203.0.113.7');

        // A later use moves last use forward.
        clock += 60_000;
        assert.equal((await authTest(k.key, { 'X-Forwarded-For': '198.51.100.9' })).status, 200);
        assert.equal((await activity(alice, k.id)).length, 2);
        const later = await getKey(alice, k.id);
        assert.equal(later.last_used_at, new Date(clock).toISOString());
        assert.equal(later.last_used_ip, '198.51.100.9');
      },
    );

    it('a 403 request (missing scope) is recorded with status 403', async () => {
      const k = await created(alice, { name: 'limited', scopes: ['read:users'] });
      const requestId = `forbidden-${crypto.randomUUID()}`;
      const res = await request(server, 'POST', '/v2/projects', {
        bearer: k.key,
        body: { name: 'nope' },
        headers: { 'X-Request-ID': requestId, 'X-Client-Version': '2.3.4' },
      });
      assert.equal(res.status, 403, JSON.stringify(res.body));
      const entry = (await activity(alice, k.id)).find((e) => e['request_id'] === requestId);
      assert.ok(entry, 'recorded');
      assert.equal(entry['status'], 403);
      assert.equal(entry['method'], 'POST');
      assert.equal(entry['path'], '/v2/projects');
      assert.equal(entry['client_version'], '2.3.4');
    });
  });

  describe('secrets at rest', () => {
    it('no table value contains a plaintext key; api_keys.secret_hash is the SHA-256 hex of the key', async () => {
      const k = await created(alice, { name: 'at rest', scopes: ['read:users'] });
      assert.equal((await authTest(k.key, { 'X-Client-Version': '1.0.0' })).status, 200);
      await activity(alice, k.id); // flushes the activity buffer to the database
      assert.ok(plaintextKeys.length >= 10, `keys minted in this file: ${plaintextKeys.length}`);

      const values = await dumpDatabase(server.db);
      assert.ok(values.length > 0);
      for (const key of plaintextKeys) {
        const secretPart = key.slice('lk_'.length + 12 + 1);
        const hit = values.find((v) => v.value.includes(key) || v.value.includes(secretPart));
        assert.equal(hit, undefined, `plaintext key found in ${hit?.table}.${hit?.column}`);
      }

      for (const key of plaintextKeys) {
        const id = KEY_SHAPE.exec(key)![1]!;
        const row = await server.db
          .selectFrom('api_keys')
          .select('secret_hash')
          .where('id', '=', id)
          .executeTakeFirst();
        assert.ok(row, `row for ${id}`);
        assert.equal(row.secret_hash, crypto.createHash('sha256').update(key).digest('hex'));
      }
    });
  });
});

describe('latchkey keys create (CLI) against a running server on the same database', () => {
  let server: TestServer;
  const EMAIL = `cli-owner-${crypto.randomBytes(4).toString('hex')}@example.com`;
  const json = (r: RunResult): Record<string, unknown> => {
    assert.equal(r.code, 0, `exit ${r.code}${r.timedOut ? ' (timed out)' : ''}: ${r.stderr}`);
    assert.deepEqual(r.stderrLines, []);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  };

  before(async () => {
    server = await startTestServer({ env: credentialServerEnv });
  });
  after(() => server.dispose());

  it('prints {id, key, ...} and the key works against the server', async () => {
    const env = cliDatabaseEnv(server.config);
    const owner = json(
      await runCli(['users', 'create', '--email', EMAIL, '--password-stdin'], { env, input: 'a long cli password\n' }),
    );
    const before = Date.now();
    const out = json(
      await runCli(
        [
          'keys',
          'create',
          '--owner',
          EMAIL,
          '--name',
          'N',
          '--scopes',
          'read:users',
          '--expires-in',
          '90d',
          '--allow-ip',
          '127.0.0.1',
        ],
        { env },
      ),
    );
    const key = String(out['key']);
    const m = KEY_SHAPE.exec(key);
    assert.ok(m, `key shape: ${key}`);
    assert.equal(out['id'], m[1]);
    assert.equal(out['name'], 'N');
    assert.deepEqual(out['scopes'], ['read:users']);
    assert.deepEqual(out['allowed_ips'], ['127.0.0.1']);
    const expires = Date.parse(String(out['expires_at']));
    assert.ok(
      Math.abs(expires - (before + 90 * 86_400_000)) < 5 * 60_000,
      `expires_at ≈ now + 90 d: ${out['expires_at']}`,
    );

    const res = await request(server, 'GET', '/v2/auth/test', { bearer: key });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body!['method'], 'api_key');
    assert.equal(res.body!['subject'], owner['id']);
    assert.deepEqual(res.body!['scopes'], ['read:users']);
    assert.equal(res.body!['expires_at'], new Date(expires).toISOString());

    // Its allowlist holds: only the loopback.
    assert.equal(
      (await request(server, 'GET', '/v2/auth/test', { bearer: key, headers: { 'X-Forwarded-For': '10.0.0.1' } }))
        .status,
      403,
    );
  });
});
