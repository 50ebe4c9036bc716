import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startTestServer, type TestServer } from '../../test/support/server.ts';
import { Browser, authorizeUrl, csrfFrom, formAction } from '../../test/support/http.ts';
import { newApp, type RegisteredApp, type User } from '../../test/support/oauth.ts';
import { REDIRECT_URI, worldOn } from '../../test/support/world.ts';

// Every URL the authorization server hands out comes from ISSUER, never from the request: a forged
// Host (or X-Forwarded-Host behind a proxy) would otherwise poison cached discovery documents with
// an attacker's token endpoint, or send a person signing in to the attacker's host.

const EVIL = 'evil.example';

interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A GET with headers fetch will not send (Host), or an absolute-form request target. */
function rawGet(server: TestServer, target: string, headers: Record<string, string>): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: server.port, method: 'GET', path: target, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Every string in a JSON document that looks like a URL. */
function urlsIn(doc: unknown): string[] {
  if (typeof doc === 'string') return /^[a-z]+:\/\//i.test(doc) ? [doc] : [];
  if (Array.isArray(doc)) return doc.flatMap(urlsIn);
  if (doc && typeof doc === 'object') return Object.values(doc).flatMap(urlsIn);
  return [];
}

const forgeries = (trustProxy: boolean): [string, string, Record<string, string>][] => [
  ['Host', '', { Host: EVIL }],
  ['Host with port', '', { Host: `${EVIL}:8443` }],
  ['absolute-form request target', `http://${EVIL}`, {}],
  [
    'X-Forwarded-Host and -Proto',
    '',
    {
      'X-Forwarded-Host': EVIL,
      'X-Forwarded-Proto': 'https',
      ...(trustProxy ? { 'X-Forwarded-For': '198.51.100.1' } : {}),
    },
  ],
];

for (const trustProxy of [false, true]) {
  describe(`URLs come from ISSUER whatever the request says (TRUST_PROXY ${trustProxy ? 'on' : 'off'})`, () => {
    let server: TestServer;
    let app: RegisteredApp;
    let user: User;

    before(async () => {
      server = await startTestServer({ env: { TRUST_PROXY: trustProxy ? '1' : '0' } });
      app = await newApp(server, { scopes: ['read:users'] });
      user = await worldOn(server).user();
    });
    after(() => server.dispose());

    for (const doc of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
      for (const [name, prefix, headers] of forgeries(trustProxy)) {
        it(`${doc} with a forged ${name}`, async () => {
          const res = await rawGet(server, `${prefix}${doc}`, headers);
          assert.equal(res.status, 200, res.body);
          const meta = JSON.parse(res.body) as Record<string, unknown>;
          assert.equal(meta['issuer'], server.config.ISSUER);
          const urls = urlsIn(meta);
          assert.ok(urls.length >= 5, `urls: ${urls.join(' ')}`);
          for (const url of urls)
            assert.ok(
              url === server.config.ISSUER || url.startsWith(`${server.config.ISSUER}/`),
              `${url} is not under ${server.config.ISSUER}`,
            );
        });
      }
    }

    for (const [name, prefix, headers] of forgeries(trustProxy)) {
      it(`an authorization started with a forged ${name} returns to ISSUER after sign-in and consent`, async () => {
        const start = new URL(
          authorizeUrl(server.url, {
            clientId: app.client_id,
            redirectUri: REDIRECT_URI,
            scope: 'read:users',
            state: 's1',
          }),
        );
        const first = await rawGet(server, `${prefix}${start.pathname}${start.search}`, headers);
        assert.equal(first.status, 303, first.body);
        const browser = new Browser(server.url);
        browser.jar.store(
          new Response(null, {
            headers: (first.headers['set-cookie'] ?? []).map((c) => ['set-cookie', c] as [string, string]),
          }),
        );
        const interaction = new URL(first.headers.location!, server.url);
        assert.equal(interaction.origin, new URL(server.config.ISSUER).origin);

        // Sign in and consent as a person would; every redirect must stay on ISSUER until the client's.
        let { res, url } = await browser.follow(await browser.get(interaction.toString()));
        for (let step = 0; step < 3 && res.status === 200; step++) {
          const html = await res.text();
          const fields: Record<string, string> = html.includes('name="password"')
            ? { _csrf: csrfFrom(html), email: user.email, password: user.password }
            : { _csrf: csrfFrom(html) };
          const action = formAction(html, html.includes('name="password"') ? '/login' : '/confirm');
          ({ res, url } = await browser.follow(await browser.postForm(action, fields)));
        }
        await res.arrayBuffer();
        const back = new URL(url);
        assert.equal(`${back.origin}${back.pathname}`, REDIRECT_URI, `ended at ${url}`);
        assert.ok(back.searchParams.get('code'));
        assert.equal(back.searchParams.get('iss'), server.config.ISSUER);
      });
    }
  });
}
