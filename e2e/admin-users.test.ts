import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser as Chromium, Page } from 'playwright-core';
import { assertAccessible } from './axe.ts';
import { launchChromium, screenshotBoth } from './chromium.ts';
import { startTestServer, type TestServer } from '../test/support/server.ts';
import { credentialServerEnv, request, worldOn, type TestUser, type World } from '../test/support/world.ts';
import { BY_SYSTEM } from '../src/features/audit/audit.ts';

// The console's Users section in real Chromium: an admin finds an account by its email and
// disables it (its API key is refused at once), resets another's second factor (who then signs in
// with the password alone), and an auditor sees the same page without a single action button, and
// a crafted post is refused. The list and the account page pass axe and fit a phone.

describe('Admin console: users, in Chromium', { timeout: 240_000 }, () => {
  let server: TestServer;
  let chromium: Chromium;
  let world: World;
  let admin: TestUser;

  before(async () => {
    server = await startTestServer({ env: credentialServerEnv });
    chromium = await launchChromium();
    world = worldOn(server);
    admin = await world.user({ admin: true, tag: 'console-admin' });
  });
  after(async () => {
    await chromium?.close();
    await server?.dispose();
  });

  async function signIn(who: { email: string; password: string }): Promise<Page> {
    const page = await (await chromium.newContext()).newPage();
    await page.goto(`${server.url}/login`);
    await page.getByLabel('Email').fill(who.email);
    await page.getByLabel('Password').fill(who.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/dashboard$/);
    return page;
  }

  it('finds a user by email and disables them: their API key is refused at once', async () => {
    const victim = await world.user({ tag: 'console-victim' });
    const key = await world.apiKey(victim, ['read:users']);
    const check = () => request(server, 'GET', '/v2/auth/test', { bearer: key.key });
    assert.equal((await check()).status, 200);

    const page = await signIn(admin);
    await page.goto(`${server.url}/admin/users`);
    await page.getByLabel('Email contains').fill(victim.email.split('@')[0]!.toUpperCase());
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('link', { name: victim.email }).waitFor();
    await assertAccessible(page, '/admin/users');
    await screenshotBoth(page, 'admin-users');
    await page.getByRole('link', { name: victim.email }).click();
    await page.getByRole('heading', { name: victim.email, level: 1 }).waitFor();
    await assertAccessible(page, '/admin/users/:id');
    await screenshotBoth(page, 'admin-user');

    await page.getByRole('link', { name: 'Disable account…' }).click();
    await page.getByRole('heading', { name: `Disable ${victim.email}?` }).waitFor();
    await page.getByRole('button', { name: 'Disable account' }).click();
    await page.getByText('The account is disabled').waitFor();
    assert.equal((await check()).status, 401);
  });

  it("resets a user's second factor: they sign in with their password alone", async () => {
    const person = await world.user({ tag: 'console-2fa', twoFactor: true });
    const page = await signIn(admin);
    await page.goto(`${server.url}/admin/users/${person.id}`);
    await page.getByRole('button', { name: 'Reset two-factor' }).click();
    await page.getByText('Two-factor authentication is off').waitFor();

    const theirs = await signIn(person);
    assert.match(theirs.url(), /\/dashboard$/, 'no second-factor step');
  });

  it('an auditor sees the account without action buttons, and a crafted post is refused', async () => {
    const auditor = await world.user({ tag: 'console-auditor' });
    await server.built.services.userAdmin.setRoles('cli', auditor.id, { admin: false, auditor: true }, BY_SYSTEM);
    const target = await world.user({ tag: 'console-target' });
    const page = await signIn(auditor);
    await page.goto(`${server.url}/admin/users/${target.id}`);
    await page.getByRole('heading', { name: target.email, level: 1 }).waitFor();
    assert.equal(await page.locator('form[action^="/admin/"]').count(), 0);
    const actions = page.getByRole('button', { name: /Disable|Enable|Reset|Save roles|Send password|Delete/ });
    assert.equal(await actions.count(), 0);
    assert.equal(await page.getByRole('link', { name: /Disable account|Delete account/ }).count(), 0);
    const csrf = await page.locator('input[name="_csrf"]').first().getAttribute('value');
    const crafted = await page.request.post(`${server.url}/admin/users/${target.id}/disable`, {
      form: { _csrf: csrf ?? '' },
      maxRedirects: 0,
    });
    assert.equal(crafted.status(), 403);
    assert.equal((await server.built.services.accounts.findById(target.id))?.disabled, false);
  });
});
