import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Browser, csrfFrom } from '../../../test/support/http.ts';
import { signIn } from '../../../test/support/api.ts';
import { startWorld, type TestUser, type TestWorld, uniqueEmail } from '../../../test/support/world.ts';

// The password rule, tried as someone choosing a bad password would, on every way in that sets
// one: the sign-up form, the change form in Settings → Security, and POST /v2/users.

const alertText = (html: string) => /role="alert">([^<]*)</.exec(html)?.[1] ?? '';
const STRONG = 'quartz lantern orbit mosaic';

/** What each bad password is, and the words its refusal must say (naming the field). */
const weak = (email: string): [string, string, RegExp][] => [
  ['9 characters', 'kT7#qz!w2', /must be at least 10 characters/],
  ['9 emoji (18 UTF-16 units, 9 characters)', '🔑🌵🎲🚲🧭🪁🎻🦉🍋', /must be at least 10 characters/],
  ['a common password', 'password123', /stronger .*password: .*(common|guess)/i],
  ['a keyboard row', 'qwertyuiop', /stronger .*password: .*(keyboard|common|guess)/i],
  ['the email itself', email, /stronger .*password: it contains your email address or name/],
];

describe('password policy, over HTTP', () => {
  let world: TestWorld;
  before(async () => {
    world = await startWorld();
  });
  after(() => world.close());

  const accountExists = async (email: string) =>
    (await world.server.db.selectFrom('users').select('id').where('email', '=', email).executeTakeFirst()) !==
    undefined;

  describe('sign-up form', () => {
    const signUpWith = async (email: string, password: string, name = '') => {
      const browser = new Browser(world.url);
      const page = await (await browser.get('/signup')).text();
      return browser.postForm('/signup', { _csrf: csrfFrom(page), email, password, name });
    };

    for (const [what, password, says] of weak('signup-weak@example.com')) {
      it(`refuses ${what}: 400, the message names the password, no account`, async () => {
        const email = password.includes('@') ? password : uniqueEmail('signup-weak');
        const res = await signUpWith(email, password);
        assert.equal(res.status, 400);
        const alert = alertText(await res.text());
        assert.match(alert, /password/i, 'names the field');
        assert.match(alert, says);
        assert.equal(await accountExists(email), false);
      });
    }

    it('refuses a password made of the name given on the form', async () => {
      const email = uniqueEmail('named');
      const res = await signUpWith(email, 'ada lovelace 1815', 'Ada Lovelace');
      assert.equal(res.status, 400);
      assert.match(alertText(await res.text()), /Choose a stronger password: it contains your email address or name/);
      assert.equal(await accountExists(email), false);
    });

    it('accepts a strong one: the account exists and signs in with it', async () => {
      const email = uniqueEmail('signup-strong');
      const res = await signUpWith(email, STRONG);
      assert.equal(res.status, 200);
      assert.equal(await accountExists(email), true);
      assert.equal((await signIn(new Browser(world.url), email, STRONG)).status, 303);
    });
  });

  describe('change form (Settings → Security)', () => {
    let person: TestUser;
    before(async () => {
      person = await world.user({ tag: 'changer' });
    });
    const change = async (next: string) => {
      const page = await (await person.browser.get('/settings/security')).text();
      return person.browser.postForm('/settings/security/password', {
        _csrf: csrfFrom(page),
        current_password: person.password,
        new_password: next,
      });
    };

    // The person exists only once `before` ran: '' stands for their email.
    for (const [what, password, says] of weak('')) {
      it(`refuses ${what}: 400 naming the new password, the old one still signs in`, async () => {
        const next = password === '' ? person.email : password;
        const res = await change(next);
        assert.equal(res.status, 400);
        const alert = alertText(await res.text());
        assert.match(alert, /new password/i, 'names the field');
        assert.match(alert, says);
        assert.equal((await signIn(new Browser(world.url), person.email, next)).status, 401, 'not set');
        assert.equal((await signIn(new Browser(world.url), person.email, person.password)).status, 303);
      });
    }

    it('accepts a strong one, which then signs in', async () => {
      const res = await change(STRONG);
      assert.equal(res.status, 200);
      assert.match(await res.text(), /Password changed/);
      assert.equal((await signIn(new Browser(world.url), person.email, STRONG)).status, 303);
      person = { ...person, password: STRONG };
    });
  });

  describe('POST /v2/users (admin:all)', () => {
    let key: string;
    before(async () => {
      const admin = await world.user({ admin: true, tag: 'admin' });
      key = (await world.apiKey(admin, ['admin:all'])).key;
    });
    const create = (email: string, password: string) =>
      world.request('POST', '/v2/users', { bearer: key, body: { email, password, name: 'Grace Hopper' } });

    for (const [what, password, says] of weak('api-weak@example.com')) {
      it(`refuses ${what}: 400 validation on the password field, nobody created`, async () => {
        const email = password.includes('@') ? password : uniqueEmail('api-weak');
        const res = await create(email, password);
        assert.equal(res.status, 400, await res.text());
        const body = res.body as { error: { code: string; field: string; message: string } };
        assert.equal(body.error.code, 'VALIDATION_FAILED');
        assert.equal(body.error.field, 'password');
        assert.match(body.error.message, /password/i);
        assert.match(body.error.message, says);
        assert.equal(await accountExists(email), false);
      });
    }

    it('refuses the name as the password', async () => {
      const email = uniqueEmail('api-named');
      const res = await create(email, 'gracehopper1906');
      assert.equal(res.status, 400);
      assert.equal(await accountExists(email), false);
    });

    it('accepts a strong one: 201, and the account signs in with it', async () => {
      const email = uniqueEmail('api-strong');
      const res = await create(email, STRONG);
      assert.equal(res.status, 201, await res.text());
      assert.equal((await signIn(new Browser(world.url), email, STRONG)).status, 303);
    });
  });
});
