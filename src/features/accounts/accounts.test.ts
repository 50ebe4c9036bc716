import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../../test/support/server.ts';
import { Browser, csrfFrom, signUp } from '../../../test/support/http.ts';
import { expectApiError, signIn } from '../../../test/support/api.ts';
import { PASSWORD, uniqueEmail } from '../../../test/support/world.ts';

// Sign-up, sign-in, sign-out and the page-level protections, over real HTTP.
const hasSessionCookie = (res: Response) =>
  res.headers.getSetCookie().some((c) => /^lk_session=[^;]+/.test(c) && !/expires=Thu, 01 Jan 1970/i.test(c));
const alertText = (html: string) => /role="alert">([^<]*)</.exec(html)?.[1];

describe('accounts pages', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer();
  });
  after(() => server.dispose());

  describe('sign-up', () => {
    it('creates an account, answers "check your inbox" and signs nobody in; signing in works', async () => {
      const browser = new Browser(server.url);
      const email = uniqueEmail('signup');
      const page = await browser.get('/signup');
      assert.equal(page.status, 200);
      const res = await browser.postForm('/signup', {
        _csrf: csrfFrom(await page.text()),
        email: email.toUpperCase(),
        password: PASSWORD,
        name: 'Ada',
      });
      assert.equal(res.status, 200);
      assert.match(await res.text(), new RegExp(`Check your inbox[\\s\\S]*<strong>${email}</strong>`));
      assert.ok(!hasSessionCookie(res), 'sign-up alone does not sign in');
      const login = await (await browser.get('/login')).text();
      const signedIn = await browser.postForm('/login', { _csrf: csrfFrom(login), email, password: PASSWORD });
      assert.equal(signedIn.status, 303);
      assert.equal(signedIn.headers.get('location'), '/dashboard');
      const dashboard = await browser.get('/dashboard');
      assert.equal(dashboard.status, 200);
      assert.ok((await dashboard.text()).includes(email), 'the dashboard shows the (lower-cased) email');
    });

    it(
      'answers a registered email as it answers a new one (no 409, no session): emails cannot be ' + 'discovered',
      async () => {
        const email = uniqueEmail('dup');
        await signUp(new Browser(server.url), email, PASSWORD);
        const browser = new Browser(server.url);
        const page = await (await browser.get('/signup')).text();
        const res = await browser.postForm('/signup', {
          _csrf: csrfFrom(page),
          email,
          password: 'another long password',
        });
        assert.equal(res.status, 200);
        assert.match(await res.text(), /Check your inbox/);
        assert.ok(!hasSessionCookie(res));
      },
    );

    it('refuses a short password with 400', async () => {
      const browser = new Browser(server.url);
      const page = await (await browser.get('/signup')).text();
      const res = await browser.postForm('/signup', {
        _csrf: csrfFrom(page),
        email: uniqueEmail('short'),
        password: 'short',
      });
      assert.equal(res.status, 400);
      assert.match(alertText(await res.text()) ?? '', /Password must be at least 10 characters/);
      assert.ok(!hasSessionCookie(res));
    });

    it('stores the password as argon2id with m=19456, t=2, p=1', async () => {
      const email = uniqueEmail('hash');
      await signUp(new Browser(server.url), email, PASSWORD);
      const row = await server.db
        .selectFrom('users')
        .select('password_hash')
        .where('email', '=', email)
        .executeTakeFirstOrThrow();
      // PHC string: $argon2id$v=19$<params>$salt$hash; the argon2 package orders params m,p,t.
      const [, algorithm, version, params] = row.password_hash.split('$');
      assert.equal(algorithm, 'argon2id');
      assert.equal(version, 'v=19');
      assert.deepEqual(Object.fromEntries(params!.split(',').map((kv) => kv.split('='))), {
        m: '19456',
        t: '2',
        p: '1',
      });
      assert.ok(!row.password_hash.includes(PASSWORD));
    });
  });

  describe('sign-in and sign-out', () => {
    let email: string;
    before(async () => {
      email = uniqueEmail('login');
      await signUp(new Browser(server.url), email, PASSWORD);
    });

    it('a wrong password and an unknown email look the same', async () => {
      const attempt = async (who: string, password: string) => {
        const res = await signIn(new Browser(server.url), who, password);
        const html = await res.text();
        // The only differences allowed: the echoed email, and the per-browser CSRF token.
        const normalised = html
          .replaceAll(who, 'EMAIL')
          .replace(/name="_csrf" value="[^"]+"/g, 'name="_csrf" value=""');
        return { status: res.status, alert: alertText(html), normalised, session: hasSessionCookie(res) };
      };
      const wrongPassword = await attempt(email, 'not the password');
      const unknownEmail = await attempt(uniqueEmail('nobody'), PASSWORD);
      assert.equal(wrongPassword.status, 401);
      assert.equal(unknownEmail.status, wrongPassword.status);
      assert.equal(wrongPassword.alert, 'Invalid email or password');
      assert.equal(unknownEmail.alert, wrongPassword.alert);
      assert.equal(unknownEmail.normalised, wrongPassword.normalised);
      assert.equal(wrongPassword.session || unknownEmail.session, false);
    });

    it('refuses a login POST without or with a wrong _csrf: 403, no session', async () => {
      const browser = new Browser(server.url);
      const token = csrfFrom(await (await browser.get('/login')).text());
      const attempts: Record<string, string>[] = [
        { email, password: PASSWORD },
        { _csrf: `${token.slice(1)}x`, email, password: PASSWORD },
        { _csrf: '', email, password: PASSWORD },
      ];
      for (const fields of attempts) {
        const res = await browser.postForm('/login', fields);
        assert.equal(res.status, 403);
        assert.ok(!hasSessionCookie(res));
        assert.match(await res.text(), /This form has expired/);
      }
      // A token from another browser does not fit this browser's cookie either.
      const other = csrfFrom(await (await new Browser(server.url).get('/login')).text());
      const res = await browser.postForm('/login', { _csrf: other, email, password: PASSWORD });
      assert.equal(res.status, 403);
      assert.ok(!hasSessionCookie(res));
      assert.equal((await browser.get('/dashboard')).status, 302);
    });

    it('logout ends the session, even for a replayed cookie', async () => {
      const browser = new Browser(server.url);
      assert.equal((await signIn(browser, email, PASSWORD)).status, 303);
      const dashboard = await browser.get('/dashboard');
      assert.equal(dashboard.status, 200);
      const stolen = browser.jar.header();

      const res = await browser.postForm('/logout', { _csrf: csrfFrom(await dashboard.text()) });
      assert.equal(res.status, 303);
      assert.equal(res.headers.get('location'), '/login?signed_out=1');
      const landing = await browser.get(res.headers.get('location')!);
      assert.equal(landing.status, 200);
      assert.match(await landing.text(), /<p class="notice" role="status">You are signed out\./);
      // The notice is for the page signing out lands on, not every sign-in page.
      assert.doesNotMatch(await (await browser.get('/login')).text(), /You are signed out/);
      const afterLogout = await browser.get('/dashboard');
      assert.equal(afterLogout.status, 302);
      assert.match(afterLogout.headers.get('location') ?? '', /^\/login\b/);

      const replay = await fetch(`${server.url}/dashboard`, { headers: { cookie: stolen }, redirect: 'manual' });
      assert.equal(replay.status, 302, 'the old session cookie no longer works');
      assert.match(replay.headers.get('location') ?? '', /^\/login\b/);
    });

    it('logout without a CSRF token is refused', async () => {
      const browser = new Browser(server.url);
      await signIn(browser, email, PASSWORD);
      assert.equal((await browser.postForm('/logout', {})).status, 403);
      assert.equal((await browser.get('/dashboard')).status, 200, 'still signed in');
    });

    for (const target of ['//evil.com', '/\\evil.com', 'https://evil.com/x', 'javascript:alert(1)']) {
      it(`does not follow return_to=${target}`, async () => {
        const res = await signIn(new Browser(server.url), email, PASSWORD, target);
        assert.equal(res.status, 303);
        assert.equal(res.headers.get('location'), '/dashboard');
      });
    }

    it('a signed-in browser at /login?return_to=//evil.com goes to the dashboard', async () => {
      const browser = new Browser(server.url);
      await signIn(browser, email, PASSWORD);
      const res = await browser.get(`/login?return_to=${encodeURIComponent('//evil.com')}`);
      assert.equal(res.status, 302);
      assert.equal(res.headers.get('location'), '/dashboard');
    });

    it('follows a same-site return_to path', async () => {
      const res = await signIn(new Browser(server.url), email, PASSWORD, '/dashboard?tab=apps');
      assert.equal(res.status, 303);
      assert.equal(res.headers.get('location'), '/dashboard?tab=apps');
    });
  });

  describe('headers and errors', () => {
    it('pages carry CSP frame-ancestors none, X-Frame-Options DENY and nosniff', async () => {
      for (const [path, status] of [
        ['/login', 200],
        ['/signup', 200],
        ['/nothing-here', 404],
      ] as const) {
        const res = await fetch(`${server.url}${path}`);
        assert.equal(res.status, status);
        assert.match(res.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
        assert.equal(res.headers.get('x-frame-options'), 'DENY');
        assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      }
    });

    it('echoes a well-formed X-Request-ID and replaces one that is not', async () => {
      const idOf = async (given?: string) =>
        (
          await fetch(`${server.url}/login`, given === undefined ? {} : { headers: { 'x-request-id': given } })
        ).headers.get('x-request-id');
      assert.equal(await idOf('req-123_abc.def:9'), 'req-123_abc.def:9');
      for (const bad of ['has spaces in it', 'x'.repeat(200), '<script>']) {
        const id = await idOf(bad);
        assert.ok(id, 'a request id is still sent');
        assert.notEqual(id, bad);
        assert.match(id, /^[A-Za-z0-9._:-]{1,128}$/);
      }
      const generated = await idOf();
      assert.match(generated ?? '', /^[A-Za-z0-9._:-]{8,128}$/);
      assert.notEqual(await idOf(), generated, 'generated ids are unique');
    });

    it('answers unknown paths with JSON under /v2 and /oauth, an HTML page elsewhere', async () => {
      for (const path of ['/v2/nothing-here', '/oauth/nothing-here']) {
        const res = await fetch(`${server.url}${path}`, { headers: { accept: 'text/html' } });
        await expectApiError(res, 404, 'NOT_FOUND');
      }
      const page = await fetch(`${server.url}/nothing-here`, { headers: { accept: 'text/html' } });
      assert.equal(page.status, 404);
      assert.match(page.headers.get('content-type') ?? '', /text\/html/);
      assert.match(await page.text(), /Page not found/);
    });
  });
});

describe('SIGNUP=closed', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ env: { SIGNUP: 'closed' } });
  });
  after(() => server.dispose());

  it('shows a 404 page at /signup and refuses the form', async () => {
    const browser = new Browser(server.url);
    const page = await browser.get('/signup');
    assert.equal(page.status, 404);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    assert.match(await page.text(), /Sign-up is closed/);
    const login = await (await browser.get('/login')).text();
    assert.doesNotMatch(login, /href="\/signup"/, 'the login page does not offer sign-up');
    const res = await browser.postForm('/signup', {
      _csrf: csrfFrom(login),
      email: uniqueEmail('closed'),
      password: PASSWORD,
    });
    assert.equal(res.status, 404);
    assert.ok(!hasSessionCookie(res));
    assert.deepEqual(await server.db.selectFrom('users').select('id').execute(), []);
  });
});
