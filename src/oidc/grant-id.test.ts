import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { startTestServer, type TestServer } from '../../test/support/server.ts';
import { basicAuth, codeFlow, newApp, token, type RegisteredApp } from '../../test/support/oauth.ts';
import { REDIRECT_URI, worldOn, request } from '../../test/support/world.ts';

// A grant id is a reference, not a credential: it is kept in plain text where oidc-provider needs
// to load the grant (token payloads, consents.grant_id), and no endpoint takes one. Someone who
// reads it from a database dump can present it as every kind of credential and be refused.
describe('a grant id from a database dump authorizes nothing', () => {
  let server: TestServer;
  let app: RegisteredApp;
  let grantId: string;

  before(async () => {
    server = await startTestServer();
    app = await newApp(server, { scopes: ['read:users'] });
    await codeFlow(server, app, await worldOn(server).user());
    const rows = await sql<{ grant_id: string }>`SELECT grant_id FROM consents`.execute(server.db);
    grantId = rows.rows[0]!.grant_id;
    assert.ok(grantId && grantId.length >= 20, 'the dump holds a grant id');
  });
  after(() => server.dispose());

  it('is not an access token at /v2', async () => {
    const res = await fetch(`${server.url}/v2/auth/test`, { headers: { Authorization: `Bearer ${grantId}` } });
    assert.equal(res.status, 401);
    await res.arrayBuffer();
  });

  it('is not a refresh token, nor an authorization code', async () => {
    for (const body of [
      { grant_type: 'refresh_token', refresh_token: grantId },
      { grant_type: 'authorization_code', code: grantId, redirect_uri: REDIRECT_URI },
    ]) {
      const res = await token(server, app, body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body['error'], 'invalid_grant');
    }
  });

  it('introspects as inactive and revokes nothing', async () => {
    const seen = await request(server, 'POST', '/oauth/introspect', {
      body: { token: grantId },
      headers: { Authorization: basicAuth(app) },
    });
    assert.deepEqual(seen.body, { active: false });
    const revoked = await request(server, 'POST', '/oauth/revoke', {
      body: { token: grantId },
      headers: { Authorization: basicAuth(app) },
    }).catch(() => null);
    assert.ok(revoked === null || revoked.status === 200);
    const stillThere = await sql<{ n: number }>`SELECT COUNT(*) AS n FROM consents WHERE grant_id = ${grantId}`.execute(
      server.db,
    );
    assert.equal(Number(stillThere.rows[0]!.n), 1);
  });
});
