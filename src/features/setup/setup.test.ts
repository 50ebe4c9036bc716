import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../../../test/support/server.ts';
import { createTestDatabase, testBackend } from '../../../test/support/database.ts';
import { spawnServer, type ServerProcess } from '../../../test/reliability/server-process.ts';
import { sleep } from '../../../test/reliability/helpers.ts';
import { Browser, csrfFrom } from '../../../test/support/http.ts';
import { PASSWORD, uniqueEmail } from '../../../test/support/world.ts';
import { BY_SYSTEM } from '../audit/audit.ts';

// First-run setup over real HTTP: the real server process prints one link while no admin exists;
// /setup refuses anything but a live link (a page, never the form); the link creates one admin,
// signed in, once, even when two posts race; and once an admin exists nothing is printed.

const DAY = 24 * 3_600_000;
const LINK = /(http:\/\/[^\s"]+\/setup\?token=[A-Za-z0-9]+)/;

/** The setup link lines a server process printed (waits up to `ms` for the first when `expectOne`). */
async function printedLinks(server: ServerProcess, expectOne: boolean, ms = 20_000): Promise<string[]> {
  const links = () =>
    server
      .stdout()
      .split('\n')
      .filter((l) => LINK.test(l));
  for (const until = Date.now() + ms; expectOne && links().length === 0 && Date.now() < until; ) await sleep(50);
  return links().map((l) => LINK.exec(l)![1]!);
}

/** Opens `link` in `browser` and posts the setup form with `fields`; the answer to the post. */
async function submitSetup(browser: Browser, link: string, fields: Record<string, string>): Promise<Response> {
  const page = await (await browser.get(link)).text();
  const token = /name="token" value="([^"]*)"/.exec(page)?.[1] ?? '';
  return browser.postForm('/setup', { _csrf: csrfFrom(page), token, ...fields });
}

const isSetupForm = (html: string) => /<form[^>]+action="\/setup"/.test(html);

describe('first-run setup: the server process', () => {
  let dir: string;
  let env: Record<string, string>;
  let server: ServerProcess | undefined;
  let dropDatabase: () => Promise<void>;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-setup-'));
    const database = await createTestDatabase(dir);
    dropDatabase = database.drop;
    env = {
      DATABASE_URL: database.url,
      LOG_LEVEL: 'info',
      ...(testBackend === 'postgres' ? { SECRETS_KEY: crypto.randomBytes(32).toString('base64') } : {}),
    };
  });
  after(async () => {
    await server?.kill('SIGTERM');
    await dropDatabase();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('prints one link on a fresh database; the link creates the owner; the next start prints none', async () => {
    server = await spawnServer(env);
    const links = await printedLinks(server, true);
    assert.equal(links.length, 1, server.stdout());
    const link = links[0]!;
    assert.ok(link.startsWith(`${server.url}/setup?token=`), link);
    // The token is 43 base62 characters (about 256 bits) and only its hash is stored.
    assert.match(link, /token=[A-Za-z0-9]{43}$/);

    const browser = new Browser(server.url);
    const email = uniqueEmail('owner');
    const created = await submitSetup(browser, link, { email, name: 'Owner', password: PASSWORD });
    assert.equal(created.status, 303);
    assert.equal(created.headers.get('location'), '/dashboard');
    const dashboard = await browser.get('/dashboard');
    assert.equal(dashboard.status, 200);
    assert.ok((await dashboard.text()).includes(email));

    const port = server.port;
    await server.kill('SIGTERM');
    server = await spawnServer(env, port);
    // The "listening" line comes before where the link would be: wait for it, then a moment more.
    await printedLinks(server, true, 1_500);
    assert.deepEqual(await printedLinks(server, false), []);
    assert.equal((await new Browser(server.url).get(link)).status, 404);
  });
});

describe('first-run setup: /setup', () => {
  let server: TestServer;
  let clock = Date.now();
  const setup = () => server.built.services.setup;
  const adminCount = async () =>
    (await server.db.selectFrom('users').select('id').where('is_admin', '=', 1).execute()).length;

  before(async () => {
    server = await startTestServer({ now: () => clock });
  });
  after(async () => server.dispose());

  it('is refused without a link or with a wrong one: a page, never the form', async () => {
    const link = (await setup().issueLink())!;
    const wrong = link.replace(/token=(.)/, (_, c: string) => `token=${c === 'A' ? 'B' : 'A'}`);
    for (const target of ['/setup', '/setup?token=', '/setup?token=short', wrong]) {
      const res = await new Browser(server.url).get(target);
      assert.equal(res.status, 403, target);
      const html = await res.text();
      assert.ok(!isSetupForm(html), target);
      assert.match(html, /This setup link is not valid/);
    }
    // Posting a wrong token with a valid CSRF token is refused too, and retires nobody's link.
    const browser = new Browser(server.url);
    const page = await (await browser.get('/login')).text();
    const posted = await browser.postForm('/setup', {
      _csrf: csrfFrom(page),
      token: new URL(wrong).searchParams.get('token')!,
      email: uniqueEmail('intruder'),
      password: PASSWORD,
    });
    assert.equal(posted.status, 403);
    assert.equal(await adminCount(), 0);
    assert.equal((await new Browser(server.url).get(link)).status, 200);
  });

  it('keeps the link when the form is refused (a weak password) and shows the form again', async () => {
    const link = (await setup().issueLink())!;
    const browser = new Browser(server.url);
    const weak = await submitSetup(browser, link, { email: uniqueEmail('owner'), password: 'password1' });
    assert.equal(weak.status, 400);
    assert.ok(isSetupForm(await weak.text()));
    assert.equal((await browser.get(link)).status, 200);
    assert.equal(await adminCount(), 0);
  });

  it('refuses an expired link', async () => {
    const link = (await setup().issueLink())!;
    clock += DAY + 1;
    assert.equal((await new Browser(server.url).get(link)).status, 403);
  });

  it('creates one admin of two posts racing with the same link, and of two racing with two links', async () => {
    const link = (await setup().issueLink())!;
    const other = (await setup().issueLink())!;
    // Both forms are loaded before either is posted, so the posts meet in the database.
    const browsers = [link, link, other].map(() => new Browser(server.url));
    const forms = await Promise.all(
      [link, link, other].map(async (target, i) => {
        const page = await (await browsers[i]!.get(target)).text();
        return { _csrf: csrfFrom(page), token: new URL(target).searchParams.get('token')! };
      }),
    );
    const answers = await Promise.all(
      forms.map((form, i) =>
        browsers[i]!.postForm('/setup', { ...form, email: uniqueEmail(`racer${i}`), password: PASSWORD }),
      ),
    );
    const statuses = answers.map((a) => a.status).sort();
    assert.equal(statuses.filter((s) => s === 303).length, 1, String(statuses));
    assert.ok(
      statuses.filter((s) => s !== 303).every((s) => s === 403 || s === 404),
      String(statuses),
    );
    assert.equal(await adminCount(), 1);

    // The owner: an admin, with a proven address, signed in on the dashboard.
    const winner = answers.findIndex((a) => a.status === 303);
    const dashboard = await browsers[winner]!.get('/dashboard');
    assert.equal(dashboard.status, 200);
    const owner = (await server.db.selectFrom('users').selectAll().where('is_admin', '=', 1).executeTakeFirst())!;
    assert.ok(owner.email_verified_at !== null);
    assert.ok((await dashboard.text()).includes(owner.email));

    // Single use: every link is retired, and the page now says there is nothing to set up.
    for (const target of [link, other]) {
      const res = await new Browser(server.url).get(target);
      assert.equal(res.status, 404);
      assert.ok(!isSetupForm(await res.text()));
    }
    const late = new Browser(server.url);
    const csrf = csrfFrom(await (await late.get('/login')).text());
    const token = new URL(link).searchParams.get('token')!;
    const again = await late.postForm('/setup', { _csrf: csrf, token, email: uniqueEmail('late'), password: PASSWORD });
    assert.equal(again.status, 404);
    assert.equal(await adminCount(), 1);
    assert.equal((await server.db.selectFrom('setup_tokens').selectAll().execute()).length, 0);
    // A start now issues no link.
    assert.equal(await setup().issueLink(), null);
  });
});

describe('first-run setup after the CLI made an admin', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => server.dispose());

  it('refuses a link issued before, and issues none', async () => {
    const link = (await server.built.services.setup.issueLink())!;
    // What `latchkey users create --admin` does.
    await server.built.services.accounts.signUp(
      { email: uniqueEmail('cli'), password: PASSWORD, isAdmin: true },
      BY_SYSTEM,
    );
    const res = await new Browser(server.url).get(link);
    assert.equal(res.status, 404);
    assert.match(await res.text(), /already set up/);
    assert.equal(await server.built.services.setup.issueLink(), null);
    assert.equal((await server.db.selectFrom('setup_tokens').selectAll().execute()).length, 0);
  });
});
