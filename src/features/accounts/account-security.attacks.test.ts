/**
 * Attacks on a person's own account through the browser, over real HTTP against the real server:
 * a stolen or left-open session cookie changing the second factor or the password (sudo mode),
 * another browser's OAuth session outliving a password change, parallel password and code
 * guesses, and sign-up as an account-discovery oracle and an argon2 flood.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as OTPAuth from 'otpauth';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { minuteAlignedClock, startTestServer, type TestServer } from '../../../test/support/server.ts';
import { createTestDatabase, testBackend } from '../../../test/support/database.ts';
import { Browser, authorize, csrfFrom, registerApp } from '../../../test/support/http.ts';
import { signIn } from '../../../test/support/api.ts';
import { PASSWORD, uniqueEmail } from '../../../test/support/world.ts';
import { BY_SYSTEM } from '../audit/audit.ts';

const T0 = Date.UTC(2026, 10, 27, 12, 0, 0);
const MINUTE = 60_000;
const alertText = (html: string) => /role="alert">([^<]*)</.exec(html)?.[1];

/** A browser holding a copy of another browser's cookies: what a cookie thief has. */
function thiefOf(victim: Browser): Browser {
  const thief = new Browser(victim.baseUrl);
  for (const [name, value] of victim.jar.entries())
    thief.jar.store(new Response(null, { headers: { 'set-cookie': `${name}=${value}` } }));
  return thief;
}

async function postFrom(
  browser: Browser,
  page: string,
  path: string,
  fields: Record<string, string> = {},
): Promise<Response> {
  const html = await (await browser.get(page)).text();
  return browser.postForm(path, { _csrf: csrfFrom(html), ...fields });
}

describe('sudo mode: the cookie alone changes nothing about how the account signs in', () => {
  let clock = T0;
  let server: TestServer;

  before(async () => {
    server = await startTestServer({ now: () => clock });
  });
  after(() => server.dispose());

  async function person(): Promise<{ email: string; browser: Browser; id: string }> {
    const email = uniqueEmail('sudo');
    const account = await server.built.services.accounts.signUp({ email, password: PASSWORD }, BY_SYSTEM);
    const browser = new Browser(server.url);
    assert.equal((await signIn(browser, email, PASSWORD)).status, 303);
    return { email, browser, id: account.id };
  }

  async function enrol(browser: Browser): Promise<string> {
    const begin = await postFrom(browser, '/settings/security', '/settings/security/2fa/begin');
    assert.equal(begin.status, 200);
    const secret = /id="totp-secret">([A-Z2-7]+)</.exec(await begin.text())![1]!;
    const confirmed = await postFrom(browser, '/settings/security', '/settings/security/2fa/confirm', {
      code: totp(secret),
    });
    assert.equal(confirmed.status, 303, 'on, and off to the recovery codes');
    return secret;
  }
  const totp = (secret: string, at = clock) =>
    new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), digits: 6, period: 30 }).generate({ timestamp: at });
  const storedSecret = async (id: string) =>
    await server.db
      .selectFrom('users')
      .select(['totp_secret_enc', 'totp_pending_secret_enc'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();

  it(
    'a stolen session cannot replace the second factor: begin and confirm go to the confirm page, nothing ' + 'changes',
    async () => {
      const victim = await person();
      await enrol(victim.browser);
      const before = await storedSecret(victim.id);
      const codesBefore = await server.db
        .selectFrom('recovery_codes')
        .select('code_hash')
        .where('user_id', '=', victim.id)
        .execute();

      clock += 11 * MINUTE; // the victim signed in more than FRESH_AUTH_MAX_AGE (10 min) ago
      const thief = thiefOf(victim.browser);
      const begin = await postFrom(thief, '/settings/security', '/settings/security/2fa/begin');
      assert.equal(begin.status, 303);
      assert.equal(begin.headers.get('location'), '/settings/confirm?return_to=%2Fsettings%2Fsecurity');
      assert.ok(!/totp-secret/.test(await begin.text()), 'no new secret is shown');
      const confirm = await postFrom(thief, '/settings/security', '/settings/security/2fa/confirm', { code: '123456' });
      assert.equal(confirm.status, 303);
      const disable = await postFrom(thief, '/settings/security', '/settings/security/2fa/disable', {
        password: 'guess',
        code: '123456',
      });
      assert.equal(disable.status, 303);
      assert.match(disable.headers.get('location') ?? '', /^\/settings\/confirm\?/);

      assert.deepEqual(await storedSecret(victim.id), before, 'the TOTP secret (and pending secret) are untouched');
      const codesAfter = await server.db
        .selectFrom('recovery_codes')
        .select('code_hash')
        .where('user_id', '=', victim.id)
        .execute();
      assert.deepEqual(codesAfter, codesBefore, 'the recovery codes are untouched');
    },
  );

  it(
    'a stolen session cannot change the password, even knowing it: the change goes to the confirm page ' + 'first',
    async () => {
      const victim = await person();
      const hashBefore = (
        await server.db
          .selectFrom('users')
          .select('password_hash')
          .where('id', '=', victim.id)
          .executeTakeFirstOrThrow()
      ).password_hash;
      clock += 11 * MINUTE; // older than FRESH_AUTH_MAX_AGE
      const thief = thiefOf(victim.browser);
      const changed = await postFrom(thief, '/settings/security', '/settings/security/password', {
        current_password: PASSWORD,
        new_password: 'the thief chose this one',
      });
      assert.equal(changed.status, 303);
      assert.match(changed.headers.get('location') ?? '', /^\/settings\/confirm\?/);
      const hashAfter = (
        await server.db
          .selectFrom('users')
          .select('password_hash')
          .where('id', '=', victim.id)
          .executeTakeFirstOrThrow()
      ).password_hash;
      assert.equal(hashAfter, hashBefore, 'the password is untouched');
    },
  );

  it('while 2FA is on, even a fresh session cannot re-enrol over it (turn it off first, with a code)', async () => {
    const victim = await person();
    await enrol(victim.browser);
    const before = await storedSecret(victim.id);
    clock += MINUTE; // still fresh
    const begin = await postFrom(victim.browser, '/settings/security', '/settings/security/2fa/begin');
    assert.equal(begin.status, 409);
    assert.match(alertText(await begin.text()) ?? '', /already on/);
    const confirm = await postFrom(victim.browser, '/settings/security', '/settings/security/2fa/confirm', {
      code: '123456',
    });
    assert.equal(confirm.status, 409);
    assert.deepEqual(await storedSecret(victim.id), before);
  });

  it(
    'the confirm page asks for the password (a code when 2FA is on), is throttled, and returns to the ' + 'form',
    async () => {
      const { email, browser } = await person();
      clock += 11 * MINUTE;
      const stale = await postFrom(browser, '/settings/security', '/settings/security/password', {
        current_password: PASSWORD,
        new_password: 'a brand new passphrase',
      });
      assert.equal(stale.status, 303, 'the current password alone does not replace sudo mode');
      const confirmPath = stale.headers.get('location')!;
      const page = await (await browser.get(confirmPath)).text();
      assert.match(page, /name="password"/);
      assert.ok(page.includes(email));
      const wrong = await browser.postForm(confirmPath, { _csrf: csrfFrom(page), password: 'not my password' });
      assert.equal(wrong.status, 401);
      assert.equal(alertText(await wrong.text()), 'That password is not right.');
      const forged = await browser.postForm(confirmPath, { password: PASSWORD });
      assert.equal(forged.status, 403, 'CSRF-protected');
      const right = await browser.postForm(confirmPath, { _csrf: csrfFrom(page), password: PASSWORD });
      assert.equal(right.status, 303);
      assert.equal(right.headers.get('location'), '/settings/security');
      const begin = await postFrom(browser, '/settings/security', '/settings/security/2fa/begin');
      assert.equal(begin.status, 200, 'fresh again: the form works');
      const secret = /id="totp-secret">([A-Z2-7]+)</.exec(await begin.text())![1]!;
      assert.equal(
        (await postFrom(browser, '/settings/security', '/settings/security/2fa/confirm', { code: totp(secret) }))
          .status,
        303,
      );

      clock += 11 * MINUTE;
      const withCode = await (await browser.get(confirmPath)).text();
      assert.match(withCode, /name="code"/, 'with 2FA on, a code confirms');
      assert.equal(
        (
          await browser.postForm(confirmPath, {
            _csrf: csrfFrom(withCode),
            code: '000000' === totp(secret) ? '111111' : '000000',
          })
        ).status,
        401,
      );
      assert.equal(
        (await browser.postForm(confirmPath, { _csrf: csrfFrom(withCode), code: totp(secret) })).status,
        303,
      );
    },
  );

  it('the confirm page refuses an open redirect and needs a signed-in browser', async () => {
    const { browser } = await person();
    const page = await (await browser.get('/settings/confirm?return_to=//evil.example')).text();
    const res = await browser.postForm('/settings/confirm?return_to=//evil.example', {
      _csrf: csrfFrom(page),
      password: PASSWORD,
    });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), '/dashboard');
    const anonymous = await new Browser(server.url).get('/settings/confirm?return_to=/settings/security');
    assert.equal(anonymous.status, 303);
    assert.match(anonymous.headers.get('location') ?? '', /^\/login\?return_to=/);
  });
});

describe('a password change ends every other browser session, dashboard and OAuth', () => {
  let server: TestServer;
  let dev: Browser;

  before(async () => {
    server = await startTestServer();
    dev = new Browser(server.url);
    await server.built.services.accounts.signUp({ email: 'dev-pw@example.com', password: PASSWORD }, BY_SYSTEM);
    await signIn(dev, 'dev-pw@example.com', PASSWORD);
  });
  after(() => server.dispose());

  const app = (name: string) =>
    registerApp(dev, { name, redirect_uris: ['https://client.example/cb'], scopes: ['read:users'] });
  const token = async (client: { client_id: string; client_secret?: string }, fields: Record<string, string>) =>
    fetch(`${server.url}/oauth/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64')}`,
      },
      body: new URLSearchParams(fields).toString(),
    });

  async function setUp() {
    const email = uniqueEmail('pw');
    await server.built.services.accounts.signUp({ email, password: PASSWORD }, BY_SYSTEM);
    const first = await app('First');
    // The other browser (the attacker's, signed in with the old password) holds an OAuth session.
    const other = new Browser(server.url);
    const granted = await authorize(other, {
      clientId: first.client_id,
      redirectUri: 'https://client.example/cb',
      scope: 'read:users',
      state: 's',
      email,
      password: PASSWORD,
    });
    assert.equal(granted.sawLogin, true);
    const exchanged = await token(first, {
      grant_type: 'authorization_code',
      code: granted.redirect.searchParams.get('code')!,
      redirect_uri: 'https://client.example/cb',
    });
    assert.equal(exchanged.status, 200);
    const tokens = (await exchanged.json()) as { access_token: string; refresh_token?: string };
    // The person, in their own browser, changes the password.
    const own = new Browser(server.url);
    assert.equal((await signIn(own, email, PASSWORD)).status, 303);
    return { email, first, other, own, tokens };
  }

  /** Where the other browser lands when it asks for a code again, without typing anything. */
  async function silentAuthorize(browser: Browser, clientId: string): Promise<{ url: string; html: string }> {
    const url = new URL('/oauth/authorize', server.url);
    for (const [k, v] of Object.entries({
      client_id: clientId,
      redirect_uri: 'https://client.example/cb',
      response_type: 'code',
      scope: 'read:users',
      state: 't',
    }))
      url.searchParams.set(k, v);
    const { res, url: at } = await browser.follow(await browser.get(url.toString()));
    return { url: at, html: res.status === 200 ? await res.text() : '' };
  }

  it("the other browser's provider session no longer gets codes or consents to new applications", async () => {
    const { first, other, own } = await setUp();
    const before = await silentAuthorize(other, first.client_id);
    assert.match(
      before.url,
      /^https:\/\/client\.example\/cb\?code=/,
      'before: a code with no sign-in (the session is alive)',
    );

    const changed = await postFrom(own, '/settings/security', '/settings/security/password', {
      current_password: PASSWORD,
      new_password: 'a brand new passphrase',
      revoke_applications: 'on',
    });
    assert.equal(changed.status, 200);
    assert.match(await changed.text(), /Password changed/);

    const again = await silentAuthorize(other, first.client_id);
    assert.ok(!again.url.startsWith('https://client.example/'), `no code without signing in again: ${again.url}`);
    assert.match(again.html, /name="password"/, 'the sign-in page');
    const second = await app('Second');
    const newApp = await silentAuthorize(other, second.client_id);
    assert.match(newApp.html, /name="password"/, 'a new application: sign-in, not the consent page');
    assert.ok(!newApp.html.includes('/confirm'));
    assert.equal((await own.get('/settings/security')).status, 200, 'the current dashboard session stays');
  });

  it(
    '"also revoke every application\'s access" (checked by default) revokes grants and refresh tokens; unchecked ' +
      'keeps them',
    async () => {
      const revoked = await setUp();
      const page = await (await revoked.own.get('/settings/security')).text();
      assert.match(page, /<input type="checkbox" name="revoke_applications" checked>/);
      assert.equal(
        (
          await postFrom(revoked.own, '/settings/security', '/settings/security/password', {
            current_password: PASSWORD,
            new_password: 'a brand new passphrase',
            revoke_applications: 'on',
          })
        ).status,
        200,
      );
      const v2 = await fetch(`${server.url}/v2/auth/test`, {
        headers: { authorization: `Bearer ${revoked.tokens.access_token}` },
      });
      assert.equal(v2.status, 401, 'the access token is dead');
      const consents = await server.db
        .selectFrom('consents')
        .selectAll()
        .where('client_id', '=', revoked.first.client_id)
        .execute();
      assert.equal(consents.length, 0, 'the consent is gone');

      const kept = await setUp();
      assert.equal(
        (
          await postFrom(kept.own, '/settings/security', '/settings/security/password', {
            current_password: PASSWORD,
            new_password: 'a brand new passphrase',
          })
        ).status,
        200,
      );
      assert.equal(
        (
          await fetch(`${server.url}/v2/auth/test`, {
            headers: { authorization: `Bearer ${kept.tokens.access_token}` },
          })
        ).status,
        200,
        'unchecked: the application keeps its access',
      );
    },
  );

  it('no oidc-provider Session row of the account survives the change', async () => {
    const { own, email } = await setUp();
    const user = await server.db.selectFrom('users').select('id').where('email', '=', email).executeTakeFirstOrThrow();
    const sessionsOf = () =>
      server.db
        .selectFrom('oidc_payloads')
        .select('id_hash')
        .where('type', '=', 'Session')
        .where('account_id', '=', user.id)
        .execute();
    assert.ok((await sessionsOf()).length >= 1);
    await postFrom(own, '/settings/security', '/settings/security/password', {
      current_password: PASSWORD,
      new_password: 'a brand new passphrase',
    });
    assert.equal((await sessionsOf()).length, 0);
  });
});

describe('parallel guesses: each is counted before it is checked', () => {
  let server: TestServer;
  // Each test starts just after a minute begins on the server's clock, so that its burst of guesses
  // cannot straddle two of the throttle's windows.
  const { now: clock, startOfMinute } = minuteAlignedClock();

  before(async () => {
    server = await startTestServer({ env: { RATE_LIMIT_LOGIN: '100000,10000' }, now: clock });
  });
  beforeEach(startOfMinute);
  after(() => server.dispose());

  const statuses = (responses: Response[]) => {
    const counts: Record<number, number> = {};
    for (const r of responses) counts[r.status] = (counts[r.status] ?? 0) + 1;
    return counts;
  };

  it('40 parallel wrong passwords at /login: at most 3 are checked (401), the rest refused (429)', async () => {
    const email = uniqueEmail('guess');
    await server.built.services.accounts.signUp({ email, password: PASSWORD }, BY_SYSTEM);
    const browsers = await Promise.all(
      Array.from({ length: 40 }, async () => {
        const b = new Browser(server.url);
        return { b, csrf: csrfFrom(await (await b.get('/login')).text()) };
      }),
    );
    const answers = await Promise.all(
      browsers.map(({ b, csrf }, i) => b.postForm('/login', { _csrf: csrf, email, password: `wrong guess ${i}` })),
    );
    const counts = statuses(answers);
    assert.ok((counts[401] ?? 0) <= 3, `checked: ${JSON.stringify(counts)}`);
    assert.equal((counts[401] ?? 0) + (counts[429] ?? 0), 40, JSON.stringify(counts));
    const refused = answers.find((r) => r.status === 429)!;
    assert.match(await refused.text(), /Too many sign-in attempts/);
  });

  it("the OAuth login form shares the account's count", async () => {
    const email = uniqueEmail('guess-oauth');
    await server.built.services.accounts.signUp({ email, password: PASSWORD }, BY_SYSTEM);
    for (let i = 0; i < 3; i++) assert.equal((await signIn(new Browser(server.url), email, 'wrong')).status, 401);
    const dev = new Browser(server.url);
    await server.built.services.accounts.signUp({ email: `d-${email}`, password: PASSWORD }, BY_SYSTEM);
    await signIn(dev, `d-${email}`, PASSWORD);
    const client = await registerApp(dev, {
      name: 'Guess',
      redirect_uris: ['https://client.example/cb'],
      scopes: ['read:users'],
    });
    const b = new Browser(server.url);
    const { res } = await b.follow(
      await b.get(
        `/oauth/authorize?client_id=${client.client_id}` +
          `&redirect_uri=${encodeURIComponent('https://client.example/cb')}` +
          '&response_type=code&scope=read:users&state=s',
      ),
    );
    const html = await res.text();
    const action = /action="(\/interaction\/[^"]+\/login)"/.exec(html)![1]!;
    assert.equal(
      (await b.postForm(action, { _csrf: csrfFrom(html), email, password: PASSWORD })).status,
      429,
      'even the right password waits',
    );
  });

  it(
    'the current password in Settings, the confirm page and the code at 2FA disable are throttled the same ' + 'way',
    async () => {
      const email = uniqueEmail('guess-settings');
      await server.built.services.accounts.signUp({ email, password: PASSWORD }, BY_SYSTEM);
      const browser = new Browser(server.url);
      assert.equal((await signIn(browser, email, PASSWORD)).status, 303);
      const csrf = csrfFrom(await (await browser.get('/settings/security')).text());

      const changes = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          browser.postForm('/settings/security/password', {
            _csrf: csrf,
            current_password: `wrong ${i}`,
            new_password: 'a brand new passphrase',
          }),
        ),
      );
      const counts = statuses(changes);
      assert.ok((counts[400] ?? 0) <= 3, `checked: ${JSON.stringify(counts)}`);
      assert.equal((counts[400] ?? 0) + (counts[429] ?? 0), 40, JSON.stringify(counts));
      const confirm = await browser.postForm('/settings/confirm?return_to=/settings/security', {
        _csrf: csrf,
        password: PASSWORD,
      });
      assert.equal(confirm.status, 429, 'the confirm page shares the count');

      // Another account with 2FA on: parallel wrong codes at /2fa/disable.
      const tfEmail = uniqueEmail('guess-code');
      await server.built.services.accounts.signUp({ email: tfEmail, password: PASSWORD }, BY_SYSTEM);
      const tf = new Browser(server.url);
      await signIn(tf, tfEmail, PASSWORD);
      const begin = await postFrom(tf, '/settings/security', '/settings/security/2fa/begin');
      const secret = /id="totp-secret">([A-Z2-7]+)</.exec(await begin.text())![1]!;
      const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), digits: 6, period: 30 });
      const codeAt = (offsetMs: number) => totp.generate({ timestamp: clock() + offsetMs });
      assert.equal(
        (await postFrom(tf, '/settings/security', '/settings/security/2fa/confirm', { code: codeAt(0) })).status,
        303,
      );
      const tfCsrf = csrfFrom(await (await tf.get('/settings/security')).text());
      // The server accepts the step before and after the current one; no guess may be one of them.
      const valid = new Set([codeAt(-30_000), codeAt(0), codeAt(30_000)]);
      const guesses = await Promise.all(
        Array.from({ length: 40 }, (_, i) => {
          const guess = String(100000 + i * 7919).slice(0, 6);
          return tf.postForm('/settings/security/2fa/disable', {
            _csrf: tfCsrf,
            password: PASSWORD,
            code: valid.has(guess) ? '999999' : guess,
          });
        }),
      );
      const codeCounts = statuses(guesses);
      assert.ok((codeCounts[400] ?? 0) <= 3, `codes checked: ${JSON.stringify(codeCounts)}`);
      assert.equal((codeCounts[400] ?? 0) + (codeCounts[429] ?? 0), 40, JSON.stringify(codeCounts));
      const state = await server.db
        .selectFrom('users')
        .select('totp_secret_enc')
        .where('email', '=', tfEmail)
        .executeTakeFirstOrThrow();
      assert.ok(state.totp_secret_enc, '2FA is still on');
    },
  );

  it('a completed sign-in starts the count afresh', async () => {
    const email = uniqueEmail('afresh');
    await server.built.services.accounts.signUp({ email, password: PASSWORD }, BY_SYSTEM);
    for (let i = 0; i < 2; i++) assert.equal((await signIn(new Browser(server.url), email, 'wrong')).status, 401);
    assert.equal((await signIn(new Browser(server.url), email, PASSWORD)).status, 303);
    for (let i = 0; i < 3; i++)
      assert.equal(
        (await signIn(new Browser(server.url), email, 'wrong')).status,
        401,
        `failure ${i + 1} after the sign-in`,
      );
    assert.equal((await signIn(new Browser(server.url), email, PASSWORD)).status, 429);
  });
});

describe(`parallel guesses at two instances on one ${testBackend} database`, () => {
  let a: TestServer;
  let b: TestServer;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-throttle-two-'));
  // Counts kept in memory (SQLite) are in clock-minute windows: start the burst just after one begins.
  const { now: clock, startOfMinute } = minuteAlignedClock();

  before(async () => {
    const database = await createTestDatabase(dir);
    a = await startTestServer({ dir, database, sharedRateLimits: true, now: clock });
    b = await startTestServer({
      dir,
      database,
      env: { ISSUER: a.config.ISSUER },
      sharedRateLimits: true,
      now: clock,
    });
  });
  beforeEach(startOfMinute);
  after(async () => {
    await b.close();
    await a.dispose();
  });

  // On PostgreSQL the instances count in one store; two SQLite instances in one test process each
  // keep their own counts in memory (workers of one `serve` share theirs through the primary).
  const allowance = testBackend === 'postgres' ? 3 : 6;
  it(`40 wrong passwords split across both, all at once: at most ${allowance} checked`, async () => {
    const email = uniqueEmail('two-instances');
    await a.built.services.accounts.signUp({ email, password: PASSWORD }, BY_SYSTEM);
    const browsers = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const browser = new Browser((i % 2 ? b : a).url);
        return { browser, csrf: csrfFrom(await (await browser.get('/login')).text()) };
      }),
    );
    const answers = await Promise.all(
      browsers.map(({ browser, csrf }, i) =>
        browser.postForm('/login', { _csrf: csrf, email, password: `wrong ${i}` }),
      ),
    );
    const checked = answers.filter((r) => r.status === 401).length;
    assert.ok(checked <= allowance, `${checked} checked`);
    assert.equal(answers.filter((r) => r.status === 429).length, 40 - checked);
  });
});

describe('sign-up: limited per address, and it does not reveal registered emails', () => {
  let clock = T0;
  let server: TestServer;

  before(async () => {
    server = await startTestServer({ now: () => clock, env: { RATE_LIMIT_SIGNUP: '20,1' } });
  });
  after(() => server.dispose());

  const signUpForm = async (email: string, password = PASSWORD) => {
    const b = new Browser(server.url);
    const page = await (await b.get('/signup')).text();
    return { b, res: await b.postForm('/signup', { _csrf: csrfFrom(page), email, password }) };
  };
  const userCount = async () =>
    Number(
      (
        await server.db
          .selectFrom('users')
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );

  it(
    '30 parallel sign-ups from one address: one a second gets through, the rest 429, no account for ' + 'them',
    async () => {
      clock += 3_600_000;
      const before = await userCount();
      const pages = await Promise.all(
        Array.from({ length: 30 }, async () => {
          const b = new Browser(server.url);
          return { b, csrf: csrfFrom(await (await b.get('/signup')).text()) };
        }),
      );
      const answers = await Promise.all(
        pages.map(({ b, csrf }) =>
          b.postForm('/signup', { _csrf: csrf, email: uniqueEmail('flood'), password: PASSWORD }),
        ),
      );
      const created = answers.filter((r) => r.status === 200).length;
      assert.equal(created, 1);
      assert.equal(answers.filter((r) => r.status === 429).length, 29);
      const refused = answers.find((r) => r.status === 429)!;
      assert.ok(Number(refused.headers.get('retry-after')) >= 1);
      assert.match(alertText(await refused.text()) ?? '', /Too many sign-ups/);
      assert.equal((await userCount()) - before, 1);
    },
  );

  it('20 an hour: the 21st waits for the next hour', async () => {
    clock = Math.ceil(clock / 3_600_000) * 3_600_000 + 3_600_000;
    for (let i = 0; i < 20; i++) {
      clock += 1000;
      assert.equal((await signUpForm(uniqueEmail('hourly'))).res.status, 200, `sign-up ${i + 1}`);
    }
    clock += 1000;
    assert.equal((await signUpForm(uniqueEmail('hourly'))).res.status, 429);
    clock += 3_600_000;
    assert.equal((await signUpForm(uniqueEmail('hourly'))).res.status, 200);
  });

  it(
    'a registered email gets the same answer as a new one, and neither signs in; the account is ' + 'untouched',
    async () => {
      clock += 3_600_000;
      const email = uniqueEmail('known');
      const first = await signUpForm(email);
      clock += 1000;
      const again = await signUpForm(email.toUpperCase(), 'an attacker password');
      clock += 1000;
      const fresh = await signUpForm(uniqueEmail('unknown'));
      const bodies: string[] = [];
      for (const { res } of [first, again, fresh]) {
        assert.equal(res.status, 200);
        assert.ok(!res.headers.getSetCookie().some((c) => /^lk_session=[^;]+/.test(c)), 'no session');
        const html = await res.text();
        assert.match(html, /Check your inbox/);
        bodies.push(html.replace(/<strong>[^<]*<\/strong>/, '<strong></strong>'));
      }
      // The same page, apart from the address it names.
      assert.equal(bodies[1], bodies[2]);
      assert.equal(bodies[0], bodies[2]);
      assert.equal(
        (await signIn(new Browser(server.url), email, PASSWORD)).status,
        303,
        'the first password still signs in',
      );
      assert.equal(
        (await signIn(new Browser(server.url), email, 'an attacker password')).status,
        401,
        'the second sign-up did not change it',
      );
    },
  );

  it('a registered email costs as much time as a new one (a password hash either way)', async () => {
    const known = uniqueEmail('timing');
    clock += 3_600_000;
    await signUpForm(known);
    const time = async (email: string) => {
      clock += 1000;
      const b = new Browser(server.url);
      const page = await (await b.get('/signup')).text();
      const t = performance.now();
      await b.postForm('/signup', { _csrf: csrfFrom(page), email, password: PASSWORD });
      return performance.now() - t;
    };
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const knownTimes: number[] = [];
    const newTimes: number[] = [];
    for (let i = 0; i < 5; i++) {
      knownTimes.push(await time(known));
      newTimes.push(await time(uniqueEmail('timing-new')));
    }
    assert.ok(
      median(knownTimes) > 0.4 * median(newTimes),
      `registered ${median(knownTimes).toFixed(1)} ms vs new ${median(newTimes).toFixed(1)} ms`,
    );
  });
});

describe('consent names every scope whose data leaves', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer();
  });
  after(() => server.dispose());

  it('openid, profile, email and offline_access are listed with what they give, beside the API scopes', async () => {
    const dev = new Browser(server.url);
    await server.built.services.accounts.signUp({ email: 'dev-consent@example.com', password: PASSWORD }, BY_SYSTEM);
    await signIn(dev, 'dev-consent@example.com', PASSWORD);
    const client = await registerApp(dev, {
      name: 'Scopes',
      redirect_uris: ['https://client.example/cb'],
      scopes: ['read:users'],
    });
    const email = uniqueEmail('consent');
    await server.built.services.accounts.signUp({ email, password: PASSWORD }, BY_SYSTEM);
    const person = new Browser(server.url);
    const { consentHtml } = await authorize(person, {
      clientId: client.client_id,
      redirectUri: 'https://client.example/cb',
      scope: 'openid profile email offline_access read:users',
      state: 's',
      email,
      password: PASSWORD,
      extra: { prompt: 'consent' },
    });
    assert.ok(consentHtml);
    for (const [scope, says] of [
      ['openid', /account identifier/],
      ['profile', /See your name/],
      ['email', /See your email address/],
      ['offline_access', /while you are not using it/],
      ['read:users', /./],
    ] as const) {
      const item = new RegExp(`<li[^>]*>\\s*<span class="desc">([^<]+)</span> <code>${scope}</code>`).exec(consentHtml);
      assert.ok(item, `${scope} is listed`);
      assert.match(item[1]!, says);
    }
  });
});
