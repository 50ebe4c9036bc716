import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as OTPAuth from 'otpauth';
import { startTestServer, type TestServer } from '../../../test/support/server.ts';
import { Browser, csrfFrom } from '../../../test/support/http.ts';
import { signIn } from '../../../test/support/api.ts';
import { dumpDatabase } from '../../../test/support/db-dump.ts';
import { BY_SYSTEM } from '../audit/audit.ts';

const T0 = Date.UTC(2026, 11, 1, 12, 0, 0);
const PASSWORD = 'enrolment passphrase';
const CODES_PAGE = '/settings/security/2fa/recovery-codes';

// Turning on TOTP as a person does it: a mistyped first code is not the end of the enrolment (the
// QR code already scanned stays valid), guesses are throttled like every other code check, and the
// recovery codes can be reloaded and downloaded while they are on screen, and only then.
describe('TOTP enrolment: retry, throttle, recovery codes shown until saved', () => {
  let clock = T0;
  let server: TestServer;
  let accounts = 0;

  before(async () => {
    server = await startTestServer({ now: () => clock });
  });
  after(() => server.dispose());

  const codeFor = (secret: string, at = clock) =>
    new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), digits: 6, period: 30 }).generate({ timestamp: at });
  /** A well-formed code that matches no step the server accepts now (±1 step). */
  const wrongFor = (secret: string) => {
    const near = new Set([-30_000, 0, 30_000].map((d) => codeFor(secret, clock + d)));
    return ['000000', '111111', '222222', '333333'].find((c) => !near.has(c))!;
  };
  const secretIn = (html: string) => /id="totp-secret">([A-Z2-7]+)</.exec(html)?.[1];

  /** A new account, signed in, with an enrolment begun: its browser and the secret on the page. */
  async function enrolling(): Promise<{ browser: Browser; secret: string; email: string }> {
    const email = `enrol${++accounts}@example.com`;
    await server.built.services.accounts.signUp({ email, password: PASSWORD }, BY_SYSTEM);
    const browser = new Browser(server.url);
    assert.equal((await signIn(browser, email, PASSWORD)).status, 303);
    const page = await (await browser.get('/settings/security')).text();
    const begin = await browser.postForm('/settings/security/2fa/begin', { _csrf: csrfFrom(page) });
    assert.equal(begin.status, 200);
    return { browser, secret: secretIn(await begin.text())!, email };
  }

  const confirm = async (browser: Browser, code: string) => {
    const page = await (await browser.get('/settings/security')).text();
    return browser.postForm('/settings/security/2fa/confirm', { _csrf: csrfFrom(page), code });
  };
  const enabled = async (browser: Browser) =>
    /unused recovery codes? left/.test(await (await browser.get('/settings/security')).text());

  it('a wrong code shows the same secret again, and the right code for it turns 2FA on', async () => {
    const { browser, secret } = await enrolling();
    const wrong = await confirm(browser, wrongFor(secret));
    assert.equal(wrong.status, 400);
    const html = await wrong.text();
    assert.match(html, /That code is not right/);
    assert.equal(secretIn(html), secret, 'the same secret, not a new one');
    assert.match(html, /<svg/, 'with its QR code');
    assert.equal(await enabled(browser), false);

    const right = await confirm(browser, codeFor(secret));
    assert.equal(right.status, 303);
    assert.equal(right.headers.get('location'), CODES_PAGE);
    assert.equal(await enabled(browser), true);
  });

  it('throttles enrolment codes like other code checks: after 3 a minute even the right one waits', async () => {
    clock += 3_600_000;
    const { browser, secret } = await enrolling();
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await confirm(browser, wrongFor(secret))).status);
    const held = await confirm(browser, codeFor(secret));
    statuses.push(held.status);
    assert.deepEqual(statuses, [400, 400, 400, 429]);
    const heldHtml = await held.text();
    assert.match(heldHtml, /Too many codes tried\. Try again in \d+ seconds?/);
    assert.equal(secretIn(heldHtml), secret, 'still the same secret to come back to');
    assert.equal(await enabled(browser), false, 'a throttled code is not checked');

    clock += 60_000;
    assert.equal((await confirm(browser, codeFor(secret))).status, 303);
    assert.equal(await enabled(browser), true);
  });

  it('keeps the pending secret sealed at rest while the person retries', async () => {
    clock += 3_600_000;
    const { browser, secret } = await enrolling();
    assert.equal((await confirm(browser, wrongFor(secret))).status, 400);
    const values = (await dumpDatabase(server.db)).map((v) => v.value).join('\n');
    assert.ok(!values.includes(secret), 'the pending TOTP secret is not in the database in clear');
  });

  it('recovery codes: shown again on reload, downloadable as .txt, gone once saved', async () => {
    clock += 3_600_000;
    const { browser, secret, email } = await enrolling();
    assert.equal((await confirm(browser, codeFor(secret))).status, 303);
    const first = await (await browser.get(CODES_PAGE)).text();
    const codes = [...first.matchAll(/<li><code>([A-Z0-9-]{19})<\/code><\/li>/g)].map((m) => m[1]!);
    assert.equal(codes.length, 10);
    assert.match(first, /I have saved these recovery codes/);

    const again = await browser.get(CODES_PAGE);
    assert.equal(again.status, 200, 'a reload shows the same codes');
    assert.deepEqual(
      [...(await again.text()).matchAll(/<li><code>([A-Z0-9-]{19})<\/code>/g)].map((m) => m[1]),
      codes,
    );

    // Another session of the same account cannot read them, even with this browser's cookie.
    const other = new Browser(server.url);
    clock += 30_000;
    await signIn(other, email, PASSWORD);
    const secondStep = await (await other.get('/login/2fa')).text();
    await other.postForm('/login/2fa', { _csrf: csrfFrom(secondStep), code: codeFor(secret) });
    const stolen = await other.request(`${CODES_PAGE}.txt`, {
      headers: { cookie: `${other.jar.header()}; ${browser.jar.header()}` },
    });
    assert.equal(stolen.status, 404);

    const file = await browser.get(`${CODES_PAGE}.txt`);
    assert.equal(file.status, 200);
    assert.match(file.headers.get('content-type')!, /^text\/plain/);
    assert.equal(file.headers.get('content-disposition'), 'attachment; filename="latchkey-recovery-codes.txt"');
    assert.equal(file.headers.get('cache-control'), 'no-store');
    const text = await file.text();
    for (const c of codes) assert.ok(text.includes(`\n${c}\n`), `${c} on its own line`);

    const saved = await browser.postForm(`${CODES_PAGE}/saved`, { _csrf: csrfFrom(first), saved: 'on' });
    assert.equal(saved.status, 303);
    assert.equal(saved.headers.get('location'), '/settings/security');
    assert.equal((await browser.get(`${CODES_PAGE}.txt`)).status, 404, 'no download once saved');
    const page = await browser.get(CODES_PAGE);
    assert.equal(page.status, 302, 'nor the page');
    assert.equal(page.headers.get('location'), '/settings/security');
  });

  it('stops showing the codes after 15 minutes', async () => {
    clock += 3_600_000;
    const { browser, secret } = await enrolling();
    assert.equal((await confirm(browser, codeFor(secret))).status, 303);
    assert.equal((await browser.get(CODES_PAGE)).status, 200);
    clock += 15 * 60_000 + 1;
    assert.equal((await browser.get(`${CODES_PAGE}.txt`)).status, 404);
  });
});
