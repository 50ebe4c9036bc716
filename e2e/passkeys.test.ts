import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser as Chromium } from 'playwright-core';
import { startCallbackSite } from './loopback-site.ts';
import { launchChromium, screenshotBoth, signInAfterSignUp } from './chromium.ts';
import { assertAccessible } from './axe.ts';
import { freePort, startTestServer, type TestServer } from '../test/support/server.ts';
import { Browser, authorizeUrl, registerApp, signUp } from '../test/support/http.ts';

// Passkeys as a person uses them, in Chromium with a virtual authenticator (a platform authenticator
// that verifies the user: what Touch ID or Windows Hello does): add one in Settings → Security,
// sign out, sign in with it on the dashboard, then in an application's sign-in, then remove it.
// WebAuthn needs a secure context and a domain as relying-party id: the server's ISSUER is
// http://localhost:<port> (loopback, which browsers treat as secure), and the browser goes there.

const PASSWORD = 'correct horse battery';

describe('Passkeys in Chromium', { timeout: 120_000 }, () => {
  let server: TestServer;
  let base: string;
  let callback: { url: string; close(): Promise<void> };
  let chromium: Chromium;

  before(async () => {
    const port = await freePort();
    base = `http://localhost:${port}`;
    server = await startTestServer({ port, env: { ISSUER: base } });
    callback = await startCallbackSite();
    chromium = await launchChromium();
  });
  after(async () => {
    await chromium?.close();
    await Promise.all([server?.dispose(), callback?.close()]);
  });

  it('adds a passkey, signs in with it (dashboard and an application), and removes it', async () => {
    const page = await (await chromium.newContext()).newPage();
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });
    const email = 'passkey.journey@example.com';
    await page.goto(`${base}/signup`);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await signInAfterSignUp(page, base, email, PASSWORD);

    // Add one: named, created by the authenticator, listed.
    await page.goto(`${base}/settings/security`);
    await page.getByLabel('Name for a new passkey').fill('This laptop');
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await page.getByText('Passkey added').waitFor();
    await page.getByRole('cell', { name: 'This laptop', exact: true }).waitFor();
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    assert.equal(credentials.length, 1);
    assert.equal(credentials[0]!.isResidentCredential, true, 'a discoverable credential: no email needed');
    await screenshotBoth(page, 'passkeys-settings');
    await assertAccessible(page, '/settings/security (with a passkey)');

    // Sign out, then in with the passkey alone, from the email field's autofill (conditional UI):
    // the virtual authenticator picks the passkey as soon as it is offered, so it stays silent until
    // the page has been looked at.
    await cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId, enabled: false });
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/login/);
    await page.getByRole('button', { name: 'Continue with a passkey' }).waitFor();
    assert.equal(await page.getByLabel('Email').getAttribute('autocomplete'), 'username webauthn');
    await screenshotBoth(page, 'passkeys-login');
    await assertAccessible(page, '/login (with passkeys)');
    await cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId, enabled: true });
    await page.reload();
    await page.waitForURL(`${base}/dashboard`);
    await page.getByText(email).first().waitFor();

    // From here on, a browser without conditional UI: the button is the way.
    await page.addInitScript(() => {
      PublicKeyCredential.isConditionalMediationAvailable = async () => false;
    });

    // An application's sign-in: the passkey signs in, consent follows, the application gets a code.
    const developer = new Browser(server.url);
    await signUp(developer, 'dev@example.com', PASSWORD);
    const app = await registerApp(developer, {
      name: 'Acme Reports',
      redirect_uris: [callback.url],
      scopes: ['read:users'],
    });
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/login/);
    await page.goto(
      authorizeUrl(base, { clientId: app.client_id, redirectUri: callback.url, scope: 'read:users', state: 's1' }),
    );
    await page.waitForURL(/\/interaction\//);
    await page.getByRole('button', { name: 'Continue with a passkey' }).click();
    await page.getByRole('button', { name: 'Approve' }).waitFor();
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.waitForURL(/\/callback\?/);
    const landed = new URL(page.url());
    assert.ok(landed.searchParams.get('code'), `a code at ${landed}`);
    assert.equal(landed.searchParams.get('state'), 's1');

    // Remove it (the sign-in just now is fresh authentication): it is gone from the list.
    await page.goto(`${base}/settings/security`);
    await page.getByRole('button', { name: 'Remove passkey This laptop' }).click();
    await page.getByText('Passkey removed').waitFor();
    assert.equal(await page.getByRole('cell', { name: 'This laptop', exact: true }).count(), 0);
    await page.getByText('No passkeys yet.').waitFor();
    await screenshotBoth(page, 'passkeys-removed');
    await assertAccessible(page, '/settings/security (no passkeys)');
  });
});
