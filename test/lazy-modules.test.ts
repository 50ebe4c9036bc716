import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { spawnServer, type ServerProcess } from './reliability/server-process.ts';
import { sleep } from './reliability/helpers.ts';
import { Browser, csrfFrom } from './support/http.ts';
import { PROJECT_ROOT } from './support/process.ts';
import { PASSWORD, uniqueEmail } from './support/world.ts';

// Packages only rarely used features need load on first use, so that a server whose traffic is
// API calls and token requests never holds them in its heap: SimpleWebAuthn with its ASN.1 and
// X.509 stack (passkeys), the QR code encoder (TOTP enrolment), node-postgres (PostgreSQL only).
// The real server runs in a process of its own, with a preload that reports every module loaded.
const PACKAGES = {
  webauthn: '/node_modules/@simplewebauthn/server/',
  qrcode: '/node_modules/qrcode/',
  pg: '/node_modules/pg/',
} as const;
type Package = keyof typeof PACKAGES;

const SETUP_LINK = /(http:\/\/[^\s"]+\/setup\?token=[A-Za-z0-9]+)/;

describe('rarely used packages load on first use', () => {
  let dir: string;
  let loadedFile: string;
  let server: ServerProcess;

  /** Which of PACKAGES the server process has loaded so far. */
  async function loaded(): Promise<Record<Package, boolean>> {
    fs.rmSync(loadedFile, { force: true });
    process.kill(server.pid, 'SIGUSR2');
    for (const until = Date.now() + 10_000; !fs.existsSync(loadedFile) && Date.now() < until; ) await sleep(20);
    const modules = JSON.parse(fs.readFileSync(loadedFile, 'utf8')) as string[];
    // A sanity check on the recorder itself: it sees packages loaded at start (ES module and CommonJS).
    assert.ok(
      modules.some((m) => m.includes('/node_modules/oidc-provider/')),
      'the recorder saw no ES module',
    );
    assert.ok(
      modules.some((m) => m.includes('/node_modules/better-sqlite3/')),
      'the recorder saw no CommonJS',
    );
    const has = (p: Package) => modules.some((m) => m.includes(PACKAGES[p]));
    return { webauthn: has('webauthn'), qrcode: has('qrcode'), pg: has('pg') };
  }

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-lazy-'));
    loadedFile = path.join(dir, 'loaded.json');
    server = await spawnServer({
      DATABASE_URL: `sqlite:${path.join(dir, 'latchkey.sqlite')}`,
      LOG_LEVEL: 'info', // the first-run setup link is printed at info
      NODE_OPTIONS: `--import ${path.join(PROJECT_ROOT, 'test/support/module-recorder.mjs')}`,
      LOADED_MODULES_FILE: loadedFile,
    });
  });
  after(async () => {
    await server?.kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('none at start on SQLite, nor for sign-in, pages, /v2 and /oauth/token; each with its feature', async () => {
    assert.deepEqual(await loaded(), { webauthn: false, qrcode: false, pg: false });

    // The owner made through the first-run link, signed in with a password; the hot paths' answers.
    let link: string | undefined;
    for (const until = Date.now() + 20_000; !link && Date.now() < until; await sleep(50))
      link = SETUP_LINK.exec(server.stdout())?.[1];
    assert.ok(link, server.stdout());
    const browser = new Browser(server.url);
    const setupPage = await (await browser.get(link)).text();
    const created = await browser.postForm('/setup', {
      _csrf: csrfFrom(setupPage),
      token: new URL(link).searchParams.get('token')!,
      email: uniqueEmail('owner'),
      name: 'Owner',
      password: PASSWORD,
    });
    assert.equal(created.status, 303);
    assert.equal((await browser.get('/dashboard')).status, 200);
    assert.equal((await fetch(`${server.url}/v2/auth/test`)).status, 401);
    const token = await fetch(`${server.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials&client_id=nobody&client_secret=nothing',
    });
    assert.equal(token.status, 401);
    assert.deepEqual(await loaded(), { webauthn: false, qrcode: false, pg: false });

    // TOTP enrolment shows its QR code; passkey registration answers its options.
    const security = await (await browser.get('/settings/security')).text();
    const begun = await browser.postForm('/settings/security/2fa/begin', { _csrf: csrfFrom(security) });
    assert.equal(begun.status, 200);
    assert.match(await begun.text(), /<svg[^>]*>[\s\S]*<path[^>]+d="M/);
    const options = await browser.request('/settings/security/passkeys/options', {
      method: 'POST',
      headers: { 'X-CSRF-Token': csrfFrom(security) },
    });
    assert.equal(options.status, 200);
    assert.match(((await options.json()) as { challenge: string }).challenge, /^[A-Za-z0-9_-]{20,}$/);
    assert.deepEqual(await loaded(), { webauthn: true, qrcode: true, pg: false });
  });
});
