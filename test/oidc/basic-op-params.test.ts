/**
 * The Basic OP plan's modules about authorization request parameters (oidcc-basic-certification-
 * test-plan): prompt, max_age, id_token_hint, login_hint, ui_locales, claims_locales, display,
 * acr_values, unknown parameters, POST requests, request objects, the redirect URI and code reuse.
 * Each test is named after the conformance module it mirrors, and the plan runs once with
 * `client_secret_basic` and once with `client_secret_post`. A browser here is the test's cookie jar
 * (see test/support/http.ts); the cross-site POST is proven in Chromium (e2e/post-authorize.test.ts).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Browser, authorizeUrl, csrfFrom, formAction } from '../support/http.ts';
import { BY_SYSTEM } from '../../src/features/audit/audit.ts';
import {
  CLIENT_AUTH_METHODS,
  signInWithOpenId,
  tokenRequest,
  userinfo,
  verifyIdToken,
  type Person,
} from '../support/openid.ts';
import {
  PASSWORD,
  REDIRECT_URI,
  startWorld,
  uniqueEmail,
  type RegisteredApp,
  type TestWorld,
} from '../support/world.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** oidcc-codereuse-30seconds waits 30 s; the point (tokens revoked after the reuse) holds after 1 s too. */
const CODE_REUSE_WAIT_MS = process.env['SOAK'] ? 30_000 : 1_000;

/** Where an authorization request led a browser: a page (its HTML), or back to the application. */
interface Outcome {
  page?: string;
  redirect?: URL;
}

for (const auth of CLIENT_AUTH_METHODS) {
  describe(`Basic OP authorization request parameters (${auth})`, () => {
    let world: TestWorld;
    let app: RegisteredApp;

    before(async () => {
      world = await startWorld();
      app = await world.app(undefined, { scopes: ['read:users'] });
    });
    after(() => world.close());

    async function newPerson(name = 'Ada Lovelace'): Promise<Person & { id: string }> {
      const email = uniqueEmail('params');
      const account = await world.server.built.services.accounts.signUp({ email, password: PASSWORD, name }, BY_SYSTEM);
      return { id: account.id, email, password: PASSWORD };
    }

    /** Signs `who` in through the code flow in `browser` (login and consent as asked); the ID token's claims. */
    async function signIn(browser: Browser, who: Person, extra: Record<string, string> = {}) {
      const tokens = await signInWithOpenId(world.server, app, who, { auth, browser, extra });
      return { tokens, claims: (await verifyIdToken(world.server, app, tokens.id_token)).payload };
    }

    /** One authorization request in `browser`, followed on our origin: the page it stops at, or the redirect. */
    async function request(browser: Browser, extra: Record<string, string> = {}): Promise<Outcome> {
      const url = authorizeUrl(world.url, {
        clientId: app.client_id,
        redirectUri: REDIRECT_URI,
        scope: 'openid',
        state: 'st-p',
        extra,
      });
      return outcomeOf(browser, await browser.get(url));
    }

    async function outcomeOf(browser: Browser, first: Response): Promise<Outcome> {
      const { res, url } = await browser.follow(first);
      if (res.status === 200) return { page: await res.text() };
      if (res.status >= 300 && res.status < 400) return { redirect: new URL(url) };
      throw new Error(`authorization ended with ${res.status}: ${(await res.text()).slice(0, 300)}`);
    }

    /** The code in a redirect back to the application, exchanged: the ID token's claims. */
    async function exchange(redirect: URL | undefined) {
      assert.ok(redirect, 'sent back to the application');
      assert.equal(`${redirect.origin}${redirect.pathname}`, REDIRECT_URI);
      assert.equal(redirect.searchParams.get('state'), 'st-p');
      const code = redirect.searchParams.get('code');
      assert.ok(code, `a code in ${redirect}`);
      const res = await tokenRequest(
        world.server,
        app,
        { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI },
        auth,
      );
      const body = (await res.json()) as { id_token: string; access_token: string };
      assert.equal(res.status, 200, JSON.stringify(body));
      return (await verifyIdToken(world.server, app, body.id_token)).payload;
    }

    const isLoginForm = (o: Outcome) => o.page?.includes('name="password"') === true;
    const isConsent = (o: Outcome) => o.page?.includes('/confirm"') === true;
    const errorOf = (o: Outcome) => o.redirect?.searchParams.get('error') ?? null;

    /** Signs in on the form shown (and approves consent if asked); the redirect it ends at. */
    async function completeLogin(browser: Browser, o: Outcome, who: Person): Promise<URL> {
      assert.ok(isLoginForm(o), 'the sign-in form');
      const html = o.page!;
      let next = await outcomeOf(
        browser,
        await browser.postForm(formAction(html, '/login'), {
          _csrf: csrfFrom(html),
          email: who.email,
          password: who.password,
        }),
      );
      if (isConsent(next)) {
        next = await outcomeOf(
          browser,
          await browser.postForm(formAction(next.page!, '/confirm'), { _csrf: csrfFrom(next.page!) }),
        );
      }
      assert.ok(next.redirect, 'back to the application');
      return next.redirect;
    }

    it('oidcc-prompt-none-not-logged-in: login_required to the redirect URI, no page', async () => {
      const o = await request(new Browser(world.url), { prompt: 'none' });
      assert.equal(o.page, undefined);
      assert.equal(errorOf(o), 'login_required');
      assert.equal(o.redirect!.searchParams.get('state'), 'st-p');
      assert.equal(o.redirect!.searchParams.get('iss'), world.server.config.ISSUER);
    });

    it('oidcc-prompt-none-logged-in: a code with no page, for the same person and sign-in', async () => {
      const person = await newPerson();
      const browser = new Browser(world.url);
      const first = await signIn(browser, person);
      const silent = await request(browser, { prompt: 'none' });
      assert.equal(silent.page, undefined, 'prompt=none never shows a page');
      const claims = await exchange(silent.redirect);
      assert.equal(claims.sub, person.id);
      assert.equal(claims['auth_time'], first.claims['auth_time']);
    });

    it('prompt=none signed in to the dashboard only: a code, with no earlier OAuth sign-in', async () => {
      const user = await world.user({ tag: 'dash' });
      // Consent given once; then the browser forgets its OAuth sign-in and keeps the dashboard one.
      await signIn(user.browser, user);
      user.browser.jar.drop(['_session', '_session.sig', '_session.legacy', '_session.legacy.sig']);
      assert.ok(user.browser.jar.get('lk_session'));
      const silent = await request(user.browser, { prompt: 'none' });
      assert.equal(silent.page, undefined);
      const claims = await exchange(silent.redirect);
      assert.equal(claims.sub, user.id);
      assert.deepEqual(claims['amr'], ['pwd'], 'how the dashboard sign-in was made');
    });

    it('prompt=none with consent never given: consent_required, no page', async () => {
      const user = await world.user({ tag: 'noconsent' });
      const o = await request(user.browser, { prompt: 'none' });
      assert.equal(o.page, undefined);
      assert.equal(errorOf(o), 'consent_required');
    });

    it('oidcc-prompt-login: the sign-in form again, and a newer auth_time after it', async () => {
      const person = await newPerson();
      const browser = new Browser(world.url);
      const first = await signIn(browser, person);
      await sleep(1100);
      const o = await request(browser, { prompt: 'login' });
      const claims = await exchange(await completeLogin(browser, o, person));
      assert.equal(claims.sub, person.id);
      assert.ok(Number(claims['auth_time']) > Number(first.claims['auth_time']), 'a new sign-in');
    });

    it('prompt=consent: the consent page every time, even when consent was given', async () => {
      const person = await newPerson();
      const browser = new Browser(world.url);
      await signIn(browser, person);
      assert.equal((await request(browser)).page, undefined, 'no page without it');
      const o = await request(browser, { prompt: 'consent' });
      assert.ok(isConsent(o), 'consent asked again');
      assert.match(o.page!, /Know who you are/);
    });

    it('prompt=select_account: "Continue as X" keeps the signed-in person, with no sign-in form', async () => {
      const person = await newPerson();
      const browser = new Browser(world.url);
      await signIn(browser, person);
      const o = await request(browser, { prompt: 'select_account' });
      assert.match(o.page ?? '', new RegExp(`Continue as ${person.email}`));
      assert.match(o.page!, /Use another account/);
      const chosen = await outcomeOf(
        browser,
        await browser.postForm(formAction(o.page!, '/select-account'), { _csrf: csrfFrom(o.page!) }),
      );
      assert.equal((await exchange(chosen.redirect)).sub, person.id);
    });

    it('prompt=select_account: "Use another account" signs out and asks who; none signed in: the form', async () => {
      const [person, other] = [await newPerson(), await newPerson('Other')];
      const browser = new Browser(world.url);
      await signIn(browser, person);
      const o = await request(browser, { prompt: 'select_account' });
      const switched = await outcomeOf(
        browser,
        await browser.postForm(formAction(o.page!, '/switch-account'), { _csrf: csrfFrom(o.page!) }),
      );
      const claims = await exchange(await completeLogin(browser, switched, other));
      assert.equal(claims.sub, other.id);
      // Just signed in, the person has chosen: no second question.
      assert.ok(isLoginForm(await request(new Browser(world.url), { prompt: 'select_account' })));
      assert.equal(
        errorOf(await request(new Browser(world.url), { prompt: 'none select_account' })),
        'invalid_request',
        'prompt=none goes with no other value',
      );
    });

    it('oidcc-max-age-1: a sign-in older than max_age asks again, and auth_time is the new one', async () => {
      const person = await newPerson();
      const browser = new Browser(world.url);
      const first = await signIn(browser, person);
      await sleep(1100);
      const o = await request(browser, { max_age: '1' });
      const claims = await exchange(await completeLogin(browser, o, person));
      assert.ok(Number(claims['auth_time']) > Number(first.claims['auth_time']));
      // With prompt=none it cannot ask: login_required.
      await sleep(1100);
      assert.equal(errorOf(await request(browser, { max_age: '1', prompt: 'none' })), 'login_required');
    });

    it('oidcc-max-age-10000: a recent sign-in is not asked again, auth_time unchanged', async () => {
      const person = await newPerson();
      const browser = new Browser(world.url);
      const first = await signIn(browser, person);
      const o = await request(browser, { max_age: '10000' });
      assert.equal(o.page, undefined, 'no sign-in form');
      const claims = await exchange(o.redirect);
      assert.equal(claims['auth_time'], first.claims['auth_time']);
    });

    it('oidcc-id-token-hint: the ID token of the signed-in person is accepted with prompt=none', async () => {
      const person = await newPerson();
      const browser = new Browser(world.url);
      const first = await signIn(browser, person);
      const o = await request(browser, { prompt: 'none', id_token_hint: first.tokens.id_token });
      const claims = await exchange(o.redirect);
      assert.equal(claims.sub, person.id);
    });

    it('an id_token_hint of another account: login_required with prompt=none, else the sign-in form', async () => {
      const [person, other] = [await newPerson(), await newPerson('Other')];
      const hint = (await signIn(new Browser(world.url), other)).tokens.id_token;
      const browser = new Browser(world.url);
      await signIn(browser, person);
      assert.equal(errorOf(await request(browser, { prompt: 'none', id_token_hint: hint })), 'login_required');
      const o = await request(browser, { id_token_hint: hint });
      const claims = await exchange(await completeLogin(browser, o, other));
      assert.equal(claims.sub, other.id);
    });

    it('oidcc-login-hint: the sign-in form is pre-filled with the hinted email', async () => {
      const person = await newPerson();
      const o = await request(new Browser(world.url), { login_hint: person.email });
      assert.ok(isLoginForm(o));
      assert.match(
        o.page!,
        new RegExp(`name="email"[^>]*value="${person.email}"|value="${person.email}"[^>]*name="email"`),
      );
    });

    it('a login_hint naming someone other than the signed-in person: login_required with prompt=none', async () => {
      const person = await newPerson();
      const browser = new Browser(world.url);
      await signIn(browser, person);
      const hint = { login_hint: 'someone-else@example.com' };
      assert.equal(errorOf(await request(browser, { ...hint, prompt: 'none' })), 'login_required');
      assert.ok(isLoginForm(await request(browser, hint)));
      assert.equal((await request(browser, { login_hint: person.email, prompt: 'none' })).page, undefined);
    });

    it('oidcc-ui-locales: accepted; the pages say the one language they honour (en)', async () => {
      const o = await request(new Browser(world.url), { ui_locales: 'se fr-CA' });
      assert.ok(isLoginForm(o));
      assert.match(o.page!, /<html lang="en">/);
    });

    for (const [module, extra] of [
      ['oidcc-claims-locales', { claims_locales: 'se' }],
      ['oidcc-display-page', { display: 'page' }],
      ['oidcc-display-popup', { display: 'popup' }],
      ['oidcc-ensure-request-with-unknown-parameter-succeeds', { extra: 'foobar', 'x-custom': '1' }],
      ['oidcc-ensure-request-with-acr-values-succeeds', { acr_values: '1 2' }],
    ] as const) {
      it(`${module}: the request succeeds as without it`, async () => {
        const person = await newPerson();
        const browser = new Browser(world.url);
        const o = await request(browser, extra);
        const claims = await exchange(await completeLogin(browser, o, person));
        assert.equal(claims.sub, person.id);
        assert.equal(claims['acr'], '1', 'the level of the sign-in made: a password');
      });
    }

    it('oidcc-ensure-post-request-succeeds: an authorization request as a form POST', async () => {
      const person = await newPerson();
      const browser = new Browser(world.url);
      const posted = await browser.postForm('/oauth/authorize', {
        client_id: app.client_id,
        redirect_uri: REDIRECT_URI,
        response_type: 'code',
        scope: 'openid',
        state: 'st-p',
        nonce: 'post-nonce',
      });
      // Answered as the same request by GET (see src/oidc/authorize-post.ts).
      assert.equal(posted.status, 303);
      assert.equal(new URL(posted.headers.get('location')!, world.url).searchParams.get('nonce'), 'post-nonce');
      const claims = await exchange(await completeLogin(browser, await outcomeOf(browser, posted), person));
      assert.equal(claims.sub, person.id);
      assert.equal(claims['nonce'], 'post-nonce');
      // Signed in now: a POSTed prompt=none answers a code with no page.
      const silent = await browser.postForm('/oauth/authorize', {
        client_id: app.client_id,
        redirect_uri: REDIRECT_URI,
        response_type: 'code',
        scope: 'openid',
        state: 'st-p',
        prompt: 'none',
      });
      assert.equal((await exchange((await outcomeOf(browser, silent)).redirect)).sub, person.id);
    });

    it('a POSTed authorization request larger than 8 KiB is refused with a page, not a redirect', async () => {
      const res = await new Browser(world.url).postForm('/oauth/authorize', {
        client_id: app.client_id,
        state: 'x'.repeat(9000),
      });
      assert.equal(res.status, 413);
      assert.match(await res.text(), /too large/);
    });

    it('oidcc-unsigned-request-object / request objects: refused with request_not_supported', async () => {
      const body = Buffer.from(JSON.stringify({ client_id: app.client_id, redirect_uri: REDIRECT_URI })).toString(
        'base64url',
      );
      const o = await request(new Browser(world.url), { request: `eyJhbGciOiJub25lIn0.${body}.` });
      assert.equal(errorOf(o), 'request_not_supported');
      assert.equal(o.redirect!.searchParams.get('state'), 'st-p');
    });

    it('oidcc-ensure-request-object-with-redirect-uri: request_uri refused, request_uri_not_supported', async () => {
      const o = await request(new Browser(world.url), { request_uri: 'https://myapp.com/request.jwt' });
      assert.equal(errorOf(o), 'request_uri_not_supported');
    });

    it('oidcc-ensure-registered-redirect-uri: an unregistered redirect URI is an error page, no redirect', async () => {
      const url = authorizeUrl(world.url, {
        clientId: app.client_id,
        redirectUri: 'https://attacker.example/callback',
        scope: 'openid',
        state: 'st-p',
      });
      const res = await fetch(url, { redirect: 'manual' });
      assert.equal(res.status, 400);
      assert.equal(res.headers.get('location'), null);
      assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    });

    it('oidcc-codereuse: the second use of a code is invalid_grant', async () => {
      const person = await newPerson();
      const browser = new Browser(world.url);
      const redirect = await completeLogin(browser, await request(browser), person);
      const code = redirect.searchParams.get('code')!;
      const params = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI };
      assert.equal((await tokenRequest(world.server, app, params, auth)).status, 200);
      const again = await tokenRequest(world.server, app, params, auth);
      assert.equal(again.status, 400);
      assert.equal(((await again.json()) as { error: string }).error, 'invalid_grant');
    });

    it('oidcc-codereuse-30seconds: a reused code revokes the tokens it was exchanged for', async () => {
      const person = await newPerson();
      const browser = new Browser(world.url);
      const redirect = await completeLogin(browser, await request(browser, {}), person);
      const params = {
        grant_type: 'authorization_code',
        code: redirect.searchParams.get('code')!,
        redirect_uri: REDIRECT_URI,
      };
      const tokens = (await (await tokenRequest(world.server, app, params, auth)).json()) as {
        access_token: string;
        refresh_token?: string;
      };
      assert.equal((await userinfo(world.server, tokens.access_token)).status, 200);
      await sleep(CODE_REUSE_WAIT_MS);
      const again = await tokenRequest(world.server, app, params, auth);
      assert.equal(((await again.json()) as { error: string }).error, 'invalid_grant');
      assert.equal((await userinfo(world.server, tokens.access_token)).status, 401, 'the access token is revoked');
      assert.ok(tokens.refresh_token);
      const refreshed = await tokenRequest(
        world.server,
        app,
        { grant_type: 'refresh_token', refresh_token: tokens.refresh_token },
        auth,
      );
      assert.equal(((await refreshed.json()) as { error: string }).error, 'invalid_grant');
    });
  });
}
