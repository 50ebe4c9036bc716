/**
 * The OpenID Foundation's Basic OP certification plan (oidcc-basic-certification-test-plan), module by
 * module, against the real server: each test is named after the conformance module it mirrors, and
 * the plan runs once with `client_secret_basic` and once with `client_secret_post`, as the
 * certification does. (The modules about authorization request parameters, logout and the rest of
 * the plan live beside these, with the features they test.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { PASSWORD, startWorld, uniqueEmail, type RegisteredApp, type TestWorld } from '../support/world.ts';
import { BY_SYSTEM } from '../../src/features/audit/audit.ts';
import {
  CLIENT_AUTH_METHODS,
  USERINFO_WAYS,
  publishedKeys,
  signInWithOpenId,
  tokenRequest,
  userinfo,
  verifyIdToken,
  type Person,
} from '../support/openid.ts';

const nowSeconds = () => Math.floor(Date.now() / 1000);

for (const auth of CLIENT_AUTH_METHODS) {
  describe(`Basic OP (${auth})`, () => {
    let world: TestWorld;
    let app: RegisteredApp;
    let person: Person & { id: string };

    /** A person with a name, made through the accounts service (as /signup does). */
    async function namedPerson(name = 'Ada Lovelace'): Promise<Person & { id: string }> {
      const email = uniqueEmail('rp');
      const account = await world.server.built.services.accounts.signUp({ email, password: PASSWORD, name }, BY_SYSTEM);
      return { id: account.id, email, password: PASSWORD };
    }

    before(async () => {
      world = await startWorld();
      app = await world.app(undefined, { scopes: ['read:users', 'read:projects'] });
      person = await namedPerson();
    });
    after(() => world.close());

    const signIn = (o: Parameters<typeof signInWithOpenId>[3] = {}, who: Person = person) =>
      signInWithOpenId(world.server, app, who, { auth, ...o });

    it('oidcc-server: the code flow answers an ID token that verifies against the published keys', async () => {
      const tokens = await signIn({ nonce: 'n-0S6_WzA2Mj' });
      assert.equal(tokens.token_type, 'Bearer');
      assert.ok(tokens.access_token);
      const { payload } = await verifyIdToken(world.server, app, tokens.id_token);
      assert.equal(payload.iss, world.server.config.ISSUER);
      assert.equal(payload.sub, person.id);
      assert.equal(payload['nonce'], 'n-0S6_WzA2Mj');
    });

    it('oidcc-id-token-signature, oidcc-id-token-rs256: RS256 by default, kid of a published key', async () => {
      const tokens = await signIn();
      const { header } = await verifyIdToken(world.server, app, tokens.id_token);
      assert.equal(header.alg, 'RS256');
      const key = (await publishedKeys(world.server)).keys.find((k) => k['kid'] === header.kid);
      assert.ok(key, 'the kid names a published key');
      assert.equal(key['alg'], 'RS256');
      assert.equal(key['use'], 'sig');
      // A tampered token fails: the signature is what the relying party relies on.
      const [h, p, s] = tokens.id_token.split('.');
      const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p!, 'base64url').toString()), sub: 'x' }));
      await assert.rejects(verifyIdToken(world.server, app, `${h}.${forged.toString('base64url')}.${s}`));
    });

    it('oidcc-id-token-unsigned: no ID token is ever unsigned (alg none)', async () => {
      const tokens = await signIn();
      const header = JSON.parse(Buffer.from(tokens.id_token.split('.')[0]!, 'base64url').toString());
      assert.notEqual(String(header.alg).toLowerCase(), 'none');
      assert.equal(tokens.id_token.split('.')[2]!.length > 0, true);
    });

    it('oidcc-id-token-aud-single-value, oidcc-id-token-iat, oidcc-id-token-sub: aud, iat, exp and sub', async () => {
      const before = nowSeconds();
      const { payload } = await verifyIdToken(world.server, app, (await signIn()).id_token);
      assert.equal(payload.aud, app.client_id, 'aud is the client id, a single string');
      assert.equal(payload['azp'], undefined);
      assert.ok(payload.iat! >= before - 5 && payload.iat! <= nowSeconds() + 5);
      assert.equal(payload.exp! - payload.iat!, 3600);
      assert.equal(payload.sub, person.id, 'sub is the account id (public subject)');
    });

    it('auth_time, acr and amr say when and how the person signed in: a password is pwd, level 1', async () => {
      const started = nowSeconds();
      const { payload } = await verifyIdToken(world.server, app, (await signIn()).id_token);
      assert.equal(typeof payload['auth_time'], 'number');
      assert.ok((payload['auth_time'] as number) >= started - 5 && (payload['auth_time'] as number) <= nowSeconds());
      assert.deepEqual(payload['amr'], ['pwd']);
      assert.equal(payload['acr'], '1');
    });

    it('a sign-in with a second factor (here a recovery code) is amr [pwd, otp], acr 2', async () => {
      const twoFactor = await world.user({ twoFactor: true });
      // The enrolment just used this window's TOTP code, and a code is accepted once.
      const secondFactor = () => twoFactor.recoveryCodes[0]!;
      const tokens = await signIn({}, { email: twoFactor.email, password: twoFactor.password, secondFactor });
      const { payload } = await verifyIdToken(world.server, app, tokens.id_token);
      assert.equal(payload.sub, twoFactor.id);
      assert.deepEqual(payload['amr'], ['pwd', 'otp']);
      assert.equal(payload['acr'], '2');
    });

    it('oidcc-ensure-request-without-nonce-succeeds-for-code-flow: no nonce asked, none in the ID token', async () => {
      const { payload } = await verifyIdToken(world.server, app, (await signIn()).id_token);
      assert.equal(payload['nonce'], undefined);
    });

    for (const way of USERINFO_WAYS) {
      it(`oidcc-userinfo-${way}: a token for openid and API scopes works at userinfo and /v2`, async () => {
        const tokens = await signIn({ scope: 'openid email profile read:users' });
        const { payload } = await verifyIdToken(world.server, app, tokens.id_token);
        const res = await userinfo(world.server, tokens.access_token, way);
        assert.equal(res.status, 200, await res.clone().text());
        assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
        assert.equal(res.headers.get('cache-control'), 'no-store');
        const claims = (await res.json()) as Record<string, unknown>;
        assert.equal(claims['sub'], payload.sub, 'userinfo sub is the ID token sub');
        assert.equal(claims['email'], person.email);
        assert.equal(claims['name'], 'Ada Lovelace');
        const api = await world.request('GET', '/v2/auth/test', { bearer: tokens.access_token });
        assert.equal(api.status, 200, JSON.stringify(api.body));
      });
    }

    it('oidcc-scope-profile: name and updated_at, in the ID token and at userinfo; nothing invented', async () => {
      const tokens = await signIn({ scope: 'openid profile' });
      const { payload } = await verifyIdToken(world.server, app, tokens.id_token);
      const info = (await (await userinfo(world.server, tokens.access_token)).json()) as Record<string, unknown>;
      for (const claims of [payload as Record<string, unknown>, info]) {
        assert.equal(claims['name'], 'Ada Lovelace');
        assert.equal(typeof claims['updated_at'], 'number');
        assert.ok((claims['updated_at'] as number) <= nowSeconds());
        for (const absent of ['email', 'given_name', 'family_name', 'picture', 'locale', 'zoneinfo', 'nickname']) {
          assert.equal(claims[absent], undefined, absent);
        }
      }
      assert.deepEqual(Object.keys(info).sort(), ['name', 'sub', 'updated_at']);
    });

    it('oidcc-scope-email: email and email_verified (false until the address is proven, then true)', async () => {
      const fresh = await namedPerson('Grace Hopper');
      const first = await signIn({ scope: 'openid email' }, fresh);
      const info = (await (await userinfo(world.server, first.access_token)).json()) as Record<string, unknown>;
      assert.deepEqual(info, { sub: fresh.id, email: fresh.email, email_verified: false });
      assert.equal((await verifyIdToken(world.server, app, first.id_token)).payload['email_verified'], false);

      // The address proven (the verification link's effect on the account).
      await sql`update users set email_verified_at = ${Date.now()} where id = ${fresh.id}`.execute(world.server.db);
      const again = await signIn({ scope: 'openid email' }, fresh);
      const { payload } = await verifyIdToken(world.server, app, again.id_token);
      assert.equal(payload['email'], fresh.email);
      assert.equal(payload['email_verified'], true);
    });

    it('oidcc-scope-address and oidcc-scope-phone: data Latchkey does not hold is ignored, not refused', async () => {
      for (const scope of ['openid address', 'openid phone']) {
        const tokens = await signIn({ scope });
        const { payload } = await verifyIdToken(world.server, app, tokens.id_token);
        assert.equal(payload['address'], undefined);
        assert.equal(payload['phone_number'], undefined);
        const info = (await (await userinfo(world.server, tokens.access_token)).json()) as Record<string, unknown>;
        assert.deepEqual(Object.keys(info), ['sub'], scope);
      }
    });

    it('oidcc-scope-all: openid profile email address phone releases every claim held', async () => {
      const tokens = await signIn({ scope: 'openid profile email address phone' });
      const info = (await (await userinfo(world.server, tokens.access_token)).json()) as Record<string, unknown>;
      assert.deepEqual(Object.keys(info).sort(), ['email', 'email_verified', 'name', 'sub', 'updated_at']);
    });

    it('oidcc-claims-essential: a claim asked for alone (claims parameter) is consented and released', async () => {
      const fresh = await namedPerson('Katherine Johnson');
      const tokens = await signIn(
        { scope: 'openid', claims: { userinfo: { name: { essential: true } }, id_token: { email: null } } },
        fresh,
      );
      assert.match(tokens.consentHtml ?? '', /<span class="desc">See your name<\/span> <code>name<\/code>/);
      assert.match(tokens.consentHtml ?? '', /<span class="desc">See your email address<\/span> <code>email<\/code>/);
      const info = (await (await userinfo(world.server, tokens.access_token)).json()) as Record<string, unknown>;
      assert.equal(info['name'], 'Katherine Johnson');
      const { payload } = await verifyIdToken(world.server, app, tokens.id_token);
      assert.equal(payload['email'], fresh.email);
      assert.equal(payload['name'], undefined, 'the userinfo member does not put name in the ID token');
    });

    it('oidcc-refresh-token: a refresh answers a new ID token for the same sign-in and a live token', async () => {
      const tokens = await signIn({ scope: 'openid email read:users' });
      assert.ok(tokens.refresh_token);
      const first = await verifyIdToken(world.server, app, tokens.id_token);
      const res = await tokenRequest(
        world.server,
        app,
        { grant_type: 'refresh_token', refresh_token: tokens.refresh_token },
        auth,
      );
      const refreshed = (await res.json()) as { id_token: string; access_token: string };
      assert.equal(res.status, 200, JSON.stringify(refreshed));
      const second = await verifyIdToken(world.server, app, refreshed.id_token);
      assert.equal(second.payload.sub, first.payload.sub);
      assert.equal(second.payload['auth_time'], first.payload['auth_time'], 'the sign-in it describes is the same');
      assert.deepEqual(second.payload['amr'], first.payload['amr']);
      const info = (await (await userinfo(world.server, refreshed.access_token, 'post-body')).json()) as {
        sub: string;
      };
      assert.equal(info.sub, person.id);
    });

    it('oidcc-response-type-missing: an authorization request without response_type is refused', async () => {
      const url = new URL('/oauth/authorize', world.url);
      url.search = new URLSearchParams({
        client_id: app.client_id,
        redirect_uri: 'https://myapp.com/callback',
        scope: 'openid',
        state: 's',
      }).toString();
      const res = await fetch(url, { redirect: 'manual' });
      assert.equal(res.status, 303);
      const back = new URL(res.headers.get('location')!);
      assert.equal(back.searchParams.get('error'), 'invalid_request');
      assert.equal(back.searchParams.get('state'), 's');
    });
  });
}
