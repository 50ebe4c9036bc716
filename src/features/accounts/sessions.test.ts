import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Browser, authorize, authorizeUrl, csrfFrom } from '../../../test/support/http.ts';
import { REDIRECT_URI, startWorld, type TestUser, type TestWorld } from '../../../test/support/world.ts';

const MAC_CHROME =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) ' +
  'Chrome/131.0.0.0 Safari/537.36';
const WINDOWS_FIREFOX = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0';
const IPHONE_SAFARI =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) ' +
  'Version/18.1 Mobile/15E148 Safari/604.1';

/** A browser that always sends this User-Agent and comes from this address (one trusted proxy in front). */
class Device extends Browser {
  constructor(
    baseUrl: string,
    readonly userAgent: string,
    public address: string,
  ) {
    super(baseUrl);
  }
  override request(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set('user-agent', this.userAgent);
    headers.set('x-forwarded-for', this.address);
    return super.request(url, { ...init, headers });
  }
}

/** Settings → Sessions: the account's own sessions, and signing out one or all others, over real HTTP. */
describe('settings: sessions', () => {
  let world: TestWorld;
  let clock = Date.now();
  before(async () => (world = await startWorld({ now: () => clock })));
  after(() => world.close());

  const signIn = async (user: TestUser, userAgent: string, address: string) => {
    const device = new Device(world.url, userAgent, address);
    const page = await (await device.get('/login')).text();
    const res = await device.postForm('/login', { _csrf: csrfFrom(page), email: user.email, password: user.password });
    assert.equal(res.status, 303, 'signed in');
    return device;
  };
  const sessionsPage = async (browser: Browser) => {
    const res = await browser.get('/settings/sessions');
    assert.equal(res.status, 200);
    return res.text();
  };
  /** The sign-out handle of the row naming `device` on the page. */
  const handleOf = (html: string, device: string) => {
    const row = html.split('<tr').find((r) => r.includes(`>${device}<`));
    const m = row && /name="session" value="([^"]+)"/.exec(row);
    assert.ok(m, `a Sign out button for ${device}`);
    return m[1]!;
  };
  const signedIn = async (browser: Browser) => (await browser.get('/dashboard')).status === 200;
  const rows = async (userId: string) => world.server.built.services.accounts.listSessions(userId, 'none');

  it("lists the account's sessions: device, address, signed in, last seen, and this device", async () => {
    const alice = await world.user({ tag: 'list' });
    const bob = await world.user({ tag: 'bystander' });
    const laptop = await signIn(alice, MAC_CHROME, '198.51.100.7');
    await signIn(alice, WINDOWS_FIREFOX, '203.0.113.9');
    await signIn(bob, IPHONE_SAFARI, '192.0.2.44');

    const html = await sessionsPage(laptop);
    assert.match(html, /aria-current="page">Sessions</, 'the nav marks Sessions');
    const mine = html.split('<tr').find((r) => r.includes('>Chrome on macOS<'))!;
    assert.match(mine, /This device/);
    assert.match(mine, /198\.51\.100\.7/);
    assert.doesNotMatch(mine, /name="session"/, 'no Sign out button for this browser');
    const other = html.split('<tr').find((r) => r.includes('>Firefox on Windows<'))!;
    assert.match(other, /203\.0\.113\.9/);
    assert.doesNotMatch(other, /This device/);
    assert.match(other, /Just now/);
    assert.doesNotMatch(html, /Safari on iPhone|192\.0\.2\.44/, "another account's session is never listed");
    // The factory's own browser (no User-Agent of ours) is the third session of the account.
    assert.equal((await rows(alice.id)).length, 3);
    assert.ok((await rows(bob.id)).length >= 2);
  });

  it('records when a session was last seen, and from where, at most once a minute', async () => {
    const carol = await world.user({ tag: 'seen' });
    const start = clock;
    const phone = await signIn(carol, IPHONE_SAFARI, '192.0.2.10');
    const seen = async () => (await rows(carol.id)).find((s) => s.device === 'Safari on iPhone')!;
    assert.equal((await seen()).lastSeenAt, start);

    clock = start + 59_000;
    phone.address = '192.0.2.11';
    assert.ok(await signedIn(phone));
    assert.equal((await seen()).lastSeenAt, start, 'within the minute: no write');
    assert.equal((await seen()).ip, '192.0.2.10');

    clock = start + 61_000;
    assert.ok(await signedIn(phone));
    assert.equal((await seen()).lastSeenAt, start + 61_000);
    assert.equal((await seen()).ip, '192.0.2.11', 'the address it was last used from');
    const page = await sessionsPage(await signIn(carol, MAC_CHROME, '198.51.100.1'));
    assert.match(page, /192\.0\.2\.11/);
  });

  it('signs out one other session: its cookie stops working at once, the others stay', async () => {
    const dave = await world.user({ tag: 'one' });
    const laptop = await signIn(dave, MAC_CHROME, '198.51.100.20');
    const lost = await signIn(dave, WINDOWS_FIREFOX, '203.0.113.20');
    const html = await sessionsPage(laptop);
    const res = await laptop.postForm('/settings/sessions/sign-out', {
      _csrf: csrfFrom(html),
      session: handleOf(html, 'Firefox on Windows'),
    });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), '/settings/sessions?done=signed-out');
    assert.equal(await signedIn(lost), false, 'the signed-out cookie no longer works');
    assert.ok(await signedIn(laptop));
    assert.ok(await signedIn(dave.browser), 'the third session stays');
    assert.match(await (await laptop.get(res.headers.get('location')!)).text(), /That session is signed out/);
  });

  it('signs out every other session and keeps this one', async () => {
    const erin = await world.user({ tag: 'all' });
    const bystander = await world.user({ tag: 'bystander' });
    const laptop = await signIn(erin, MAC_CHROME, '198.51.100.30');
    const others = [await signIn(erin, WINDOWS_FIREFOX, '203.0.113.30'), await signIn(erin, IPHONE_SAFARI, '::1')];
    const res = await laptop.postForm('/settings/sessions/sign-out-others', {
      _csrf: csrfFrom(await sessionsPage(laptop)),
    });
    assert.equal(res.status, 303);
    for (const b of [...others, erin.browser]) assert.equal(await signedIn(b), false);
    assert.ok(await signedIn(laptop));
    assert.ok(await signedIn(bystander.browser), "another account's session is not touched");
    assert.equal((await rows(erin.id)).length, 1);
    const html = await (await laptop.get(res.headers.get('location')!)).text();
    assert.match(html, /Every other session is signed out/);
    assert.doesNotMatch(html, /Sign out all other sessions/, 'nothing left to sign out');
  });

  it("refuses a forged session handle (another account's, this browser's, unknown): nothing is ended", async () => {
    const mallory = await world.user({ tag: 'mallory' });
    const victim = await world.user({ tag: 'victim' });
    const victimPhone = await signIn(victim, IPHONE_SAFARI, '192.0.2.60');
    const victimHandle = handleOf(await sessionsPage(victim.browser), 'Safari on iPhone');
    const malloryOther = await signIn(mallory, WINDOWS_FIREFOX, '203.0.113.60');
    const mine = handleOf(await sessionsPage(malloryOther), 'Unknown browser'); // the factory's browser
    const csrf = csrfFrom(await sessionsPage(mallory.browser));

    for (const session of [victimHandle, mine.replace(/.$/, (c) => (c === 'a' ? 'b' : 'a')), '', 'x'.repeat(500)]) {
      const res = await mallory.browser.postForm('/settings/sessions/sign-out', { _csrf: csrf, session });
      assert.equal(res.status, 404, session);
    }
    // This browser's own handle, from another of the account's browsers' view: not "another session".
    const own = await mallory.browser.postForm('/settings/sessions/sign-out', { _csrf: csrf, session: mine });
    assert.equal(own.status, 404);
    assert.ok(await signedIn(victimPhone), "the victim's session is untouched");
    assert.ok(await signedIn(victim.browser));
    assert.ok(await signedIn(mallory.browser));
    assert.ok(await signedIn(malloryOther));
  });

  it('refuses a form without the CSRF token, and a browser not signed in', async () => {
    const frank = await world.user({ tag: 'csrf' });
    const other = await signIn(frank, WINDOWS_FIREFOX, '203.0.113.70');
    const handle = handleOf(await sessionsPage(frank.browser), 'Firefox on Windows');
    const forged = await frank.browser.postForm('/settings/sessions/sign-out', { session: handle });
    assert.equal(forged.status, 403);
    const all = await frank.browser.postForm('/settings/sessions/sign-out-others', {});
    assert.equal(all.status, 403);
    assert.ok(await signedIn(other), 'nothing was ended');

    const anonymous = new Browser(world.url);
    const page = await anonymous.get('/settings/sessions');
    assert.equal(page.status, 302);
    assert.equal(page.headers.get('location'), '/login?return_to=%2Fsettings%2Fsessions');
  });

  it('signing out a session signed in through an application ends its OAuth sign-in too', async () => {
    const grace = await world.user({ tag: 'oauth' });
    const registered = await world.app(undefined, { scopes: ['read:users'] });
    const phone = new Device(world.url, IPHONE_SAFARI, '192.0.2.80');
    const request = { clientId: registered.client_id, redirectUri: REDIRECT_URI, scope: 'openid', state: 's' };
    const first = await authorize(phone, { ...request, email: grace.email, password: grace.password });
    assert.ok(first.sawLogin && first.redirect.searchParams.get('code'));
    // Signed in at the provider: a second request is answered without a sign-in form.
    const again = await phone.follow(await phone.get(authorizeUrl(world.url, request)));
    assert.equal(again.res.status, 303, 'no sign-in asked while the OAuth session lives');
    assert.ok(new URL(again.url).searchParams.get('code'));

    const html = await sessionsPage(grace.browser);
    const res = await grace.browser.postForm('/settings/sessions/sign-out', {
      _csrf: csrfFrom(html),
      session: handleOf(html, 'Safari on iPhone'),
    });
    assert.equal(res.status, 303);
    assert.equal(await signedIn(phone), false);
    const after = await phone.follow(await phone.get(authorizeUrl(world.url, request)));
    assert.equal(after.res.status, 200);
    assert.match(await after.res.text(), /name="password"/, 'the application asks for a sign-in again');
  });
  it('"all other sessions" ends the OAuth sign-ins of other browsers and keeps this one\'s', async () => {
    const heidi = await world.user({ tag: 'oauth-all' });
    const registered = await world.app(undefined, { scopes: ['read:users'] });
    const request = { clientId: registered.client_id, redirectUri: REDIRECT_URI, scope: 'openid', state: 's' };
    const viaApp = async (userAgent: string, address: string) => {
      const device = new Device(world.url, userAgent, address);
      await authorize(device, { ...request, email: heidi.email, password: heidi.password });
      return device;
    };
    const laptop = await viaApp(MAC_CHROME, '198.51.100.90');
    const phone = await viaApp(IPHONE_SAFARI, '192.0.2.90');
    const silently = async (device: Device) => {
      const { res, url } = await device.follow(await device.get(authorizeUrl(world.url, request)));
      return res.status === 303 && new URL(url).searchParams.has('code');
    };
    assert.ok((await silently(laptop)) && (await silently(phone)), 'both signed in at the provider');

    const res = await laptop.postForm('/settings/sessions/sign-out-others', {
      _csrf: csrfFrom(await sessionsPage(laptop)),
    });
    assert.equal(res.status, 303);
    assert.equal(await silently(phone), false, "the phone's OAuth sign-in is over");
    assert.equal(await signedIn(phone), false);
    assert.ok(await silently(laptop), "this browser's OAuth sign-in stays");
    assert.ok(await signedIn(laptop));
  });
});
