import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startTestServer, type TestServer } from '../../test/support/server.ts';
import {
  codeFlow,
  introspect,
  newApp,
  refresh,
  token,
  type RegisteredApp,
  type User,
} from '../../test/support/oauth.ts';
import { request, worldOn } from '../../test/support/world.ts';
import { sha256 } from '../shared/secrets.ts';
import { storedKeyOf, timeOrderedId } from './time-ordered-ids.ts';

const SHAPE = /^[0-9a-z]{9}~[A-Za-z0-9_-]{43}$/;

describe('time-ordered ids: the key of an id', () => {
  it('puts the time in front of the hash of the whole id', () => {
    const id = timeOrderedId('r'.repeat(43), 1_767_225_600_123);
    assert.match(id, SHAPE);
    assert.equal(Number.parseInt(id.slice(0, 9), 36), 1_767_225_600_123);
    assert.equal(storedKeyOf(id), `${id.slice(0, 10)}${sha256(id)}`);
  });

  it('keeps any other id under its hash alone, as before', () => {
    for (const id of ['r'.repeat(43), `${'0'.repeat(8)}~${'r'.repeat(43)}`, `${'A'.repeat(9)}~x`, '~', '']) {
      assert.equal(storedKeyOf(id), sha256(id), id);
    }
  });

  it('orders keys as the ids were made, whatever their random part', () => {
    const times = [0, 1, 35, 36, 1_767_225_600_000, 1_767_225_600_001, 36 ** 9 - 1];
    const keys = times.map((t) => storedKeyOf(timeOrderedId(crypto.randomBytes(32).toString('base64url'), t)));
    assert.deepEqual([...keys].sort(), keys);
  });
});

describe('time-ordered ids: tokens the server issues', () => {
  let clock = Date.now();
  let server: TestServer;
  let app: RegisteredApp;
  let user: User;
  let service: RegisteredApp;

  before(async () => {
    server = await startTestServer({ now: () => clock });
    app = await newApp(server, { scopes: ['read:users'] });
    const make = worldOn(server);
    user = await make.user();
    service = (await make.serviceToken(await make.user({ tag: 'svc' }), ['read:users'])).app;
  });
  after(() => server.dispose());

  const clientCredentials = async () => {
    const res = await token(server, service, { grant_type: 'client_credentials', scope: 'read:users' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body['access_token'] as string;
  };
  const rowKeys = async (type: string) =>
    (await server.db.selectFrom('oidc_payloads').select('id_hash').where('type', '=', type).execute()).map(
      (r) => r.id_hash,
    );
  /** Moves a row to the key a random id (one issued before time-ordered ids) had; returns that id. */
  const asIssuedBefore = async (type: string, issued: string) => {
    const old = crypto.randomBytes(32).toString('base64url');
    const moved = await server.db
      .updateTable('oidc_payloads')
      .set({ id_hash: sha256(old) })
      .where('type', '=', type)
      .where('id_hash', '=', storedKeyOf(issued))
      .executeTakeFirst();
    assert.equal(moved.numUpdatedRows, 1n);
    return old;
  };

  it('issues every token and code with its time in front, stored under its time', async () => {
    const issuedAt = clock;
    const flow = await codeFlow(server, app, user);
    const cc = await clientCredentials();
    for (const value of [flow.access_token, flow.refresh_token!, cc]) {
      assert.match(value, SHAPE);
      assert.equal(Number.parseInt(value.slice(0, 9), 36), issuedAt);
    }
    assert.ok((await rowKeys('AccessToken')).includes(storedKeyOf(flow.access_token)));
    assert.ok((await rowKeys('RefreshToken')).includes(storedKeyOf(flow.refresh_token!)));
    assert.ok((await rowKeys('ClientCredentials')).includes(storedKeyOf(cc)));
    // The code was stored under its time too (its value passed through the browser).
    const codes = await rowKeys('AuthorizationCode');
    assert.ok(codes.length > 0 && codes.every((k) => k.startsWith(flow.access_token.slice(0, 10))), codes.join());
  });

  it('stores tokens issued one after another in the order they were issued', async () => {
    const issued: string[] = [];
    for (let i = 0; i < 12; i++) {
      clock += i % 3; // some in the same millisecond
      issued.push(await clientCredentials());
    }
    const keys = issued.map(storedKeyOf);
    const stored = new Set(await rowKeys('ClientCredentials'));
    assert.ok(keys.every((k) => stored.has(k)));
    const times = keys.map((k) => k.slice(0, 9));
    assert.deepEqual([...times].sort(), times);
  });

  it('refuses a token whose time was changed', async () => {
    const cc = await clientCredentials();
    const moved = timeOrderedId(cc.slice(10), Number.parseInt(cc.slice(0, 9), 36) + 1);
    assert.equal((await request(server, 'GET', '/v2/auth/test', { bearer: moved })).status, 401);
    assert.deepEqual(await introspect(server, service, moved), { active: false });
    assert.equal((await introspect(server, service, cc))['active'], true);
  });

  it('still honours an access token issued before, and revokes it', async () => {
    const old = await asIssuedBefore('ClientCredentials', await clientCredentials());
    assert.equal((await request(server, 'GET', '/v2/auth/test', { bearer: old })).status, 200);
    assert.equal((await introspect(server, service, old))['active'], true);
    const revoked = await request(server, 'POST', '/oauth/revoke', {
      body: { token: old, client_id: service.client_id, client_secret: service.client_secret },
    });
    assert.equal(revoked.status, 200);
    assert.deepEqual(await introspect(server, service, old), { active: false });
  });

  it('still rotates a refresh token issued before, and spends it', async () => {
    const flow = await codeFlow(server, app, user);
    const old = await asIssuedBefore('RefreshToken', flow.refresh_token!);
    clock += 1_000;
    const next = await refresh(server, app, old);
    assert.match(next.refresh_token!, SHAPE);
    assert.equal((await introspect(server, app, next.access_token))['active'], true);
    const spent = await server.db
      .selectFrom('oidc_payloads')
      .select('consumed_at')
      .where('type', '=', 'RefreshToken')
      .where('id_hash', '=', sha256(old))
      .executeTakeFirstOrThrow();
    assert.equal(spent.consumed_at, clock);
  });
});
