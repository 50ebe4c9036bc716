/**
 * Bad input to the OAuth endpoints: /oauth/token, /oauth/introspect and /oauth/revoke (form and
 * JSON bodies, client authentication in every shape), /oauth/authorize query strings, and the
 * provider's other endpoints. Errors there are RFC 6749 JSON (`{"error": "..."}`) or, for the
 * browser-facing authorization endpoint, an HTML page; nothing ever redirects to a URI that is not
 * registered, nothing answers 5xx, and the server stays up.
 */
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { startTestServer, type TestServer } from '../support/server.ts';
import { registerApp } from '../support/http.ts';
import {
  assertAlive,
  badBody,
  checkAnswer,
  contentType,
  formEncode,
  fuzz,
  headerSafe,
  method,
  oddString,
  pct,
  renderBody,
  runs,
  send,
  summary,
  type BodySpec,
  type Request,
} from './kit.ts';
import { worldOn, credentialServerEnv } from '../support/world.ts';

const FILE = 'test/fuzz/oauth.fuzz.test.ts';
const REDIRECT = 'https://client.example/callback';

interface Client {
  client_id: string;
  client_secret?: string;
}
type ClientAuth =
  | { t: 'none' }
  | { t: 'basic'; who: 'web' | 'service' | 'rs' }
  | { t: 'post'; who: 'web' | 'service' | 'rs' }
  | { t: 'basic-wrong'; who: 'web' | 'service' | 'rs'; secret: string }
  | { t: 'basic-fuzz'; id: string; secret: string }
  | { t: 'basic-raw'; raw: string }
  | { t: 'header-raw'; raw: string };
type Encoding = { t: 'form' } | { t: 'json'; typed: number[] } | { t: 'raw'; body: BodySpec; type: string | null };

describe('fuzz: OAuth endpoints', { timeout: 30 * 60_000 }, () => {
  let server: TestServer;
  const clients = {} as Record<'web' | 'service' | 'rs', Client>;
  const values: string[] = [];
  let browserCookie = '';

  before(async () => {
    server = await startTestServer({ env: credentialServerEnv });
    const f = worldOn(server);
    const dev = await f.user({ admin: true, tag: 'fuzz-dev' });
    const person = await f.user({ tag: 'fuzz-person' });
    clients.web = await registerApp(dev.browser, {
      name: 'Fuzz web',
      redirect_uris: [REDIRECT],
      scopes: ['read:users', 'read:projects'],
    });
    clients.service = await registerApp(dev.browser, {
      name: 'Fuzz service',
      type: 'service',
      redirect_uris: [],
      scopes: ['read:users'],
    });
    clients.rs = await registerApp(dev.browser, {
      name: 'Fuzz RS',
      type: 'resource_server',
      redirect_uris: [],
      scopes: [],
    });
    const tokens = await f.oauthToken(person, ['read:users']);
    const key = await f.apiKey(dev, ['read:users']);
    browserCookie = person.browser.jar.header();
    values.push(
      'authorization_code',
      'refresh_token',
      'client_credentials',
      'password',
      'implicit',
      'urn:ietf:params:oauth:grant-type:device_code',
      'urn:ietf:params:oauth:grant-type:jwt-bearer',
      'urn:ietf:params:oauth:grant-type:token-exchange',
      'access_token',
      'refresh_token',
      'read:users',
      'admin:all',
      'openid',
      'offline_access',
      'read:users admin:all',
      server.config.API_RESOURCE,
      'https://evil.example/',
      REDIRECT,
      `${REDIRECT}/`,
      'S256',
      'plain',
      'x'.repeat(43),
      'x'.repeat(129),
      clients.web.client_id,
      clients.web.client_secret!,
      clients.service.client_id,
      clients.service.client_secret!,
      clients.rs.client_id,
      tokens.access_token,
      tokens.refresh_token,
      tokens.access_token.slice(0, 10),
      `${tokens.refresh_token}x`,
      key.key,
      key.key.slice(0, -2),
      f.jwt({ sub: dev.id, scopes: ['admin:all'] }),
    );
  });

  after(async () => {
    console.log(summary('oauth'));
    await server?.dispose();
  });

  const PARAMS = [
    'grant_type',
    'code',
    'redirect_uri',
    'client_id',
    'client_secret',
    'refresh_token',
    'scope',
    'code_verifier',
    'resource',
    'audience',
    'client_assertion',
    'client_assertion_type',
    'username',
    'password',
    'state',
    'token',
    'token_type_hint',
    'device_code',
    'assertion',
    'subject_token',
    'requested_token_type',
    'response_type',
    '__proto__',
    'constructor',
    'grant_type[]',
    'a[b][c]',
  ];
  const value = fc.oneof(
    { weight: 3, arbitrary: fc.nat().map((i) => values[i % values.length]!) },
    { weight: 3, arbitrary: oddString },
  );
  const pairs = fc.array(
    fc.tuple(
      fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...PARAMS) }, { weight: 1, arbitrary: oddString }),
      value,
    ),
    { maxLength: 8 },
  );
  const who = fc.constantFrom<'web' | 'service' | 'rs'>('web', 'service', 'rs');
  const clientAuth: fc.Arbitrary<ClientAuth> = fc.oneof(
    fc.constant<ClientAuth>({ t: 'none' }),
    fc.record({ t: fc.constant('basic' as const), who }),
    fc.record({ t: fc.constant('post' as const), who }),
    fc.record({ t: fc.constant('basic-wrong' as const), who, secret: oddString }),
    fc.record({ t: fc.constant('basic-fuzz' as const), id: oddString, secret: oddString }),
    fc.record({
      t: fc.constant('basic-raw' as const),
      raw: fc.oneof(oddString, fc.constantFrom('%%%', '====', 'Og==', 'YTpi', 'YQ', '*', 'A'.repeat(12_000))),
    }),
    fc.record({ t: fc.constant('header-raw' as const), raw: oddString }),
  );
  const encoding: fc.Arbitrary<Encoding> = fc.oneof(
    { weight: 3, arbitrary: fc.constant<Encoding>({ t: 'form' }) },
    {
      weight: 3,
      arbitrary: fc.array(fc.nat({ max: 7 }), { maxLength: 3 }).map((typed): Encoding => ({ t: 'json', typed })),
    },
    {
      weight: 2,
      arbitrary: fc.record({ body: badBody, type: contentType }).map((r): Encoding => ({ t: 'raw', ...r })),
    },
  );

  const validAuth = (a: ClientAuth) => a.t === 'basic' || a.t === 'post';

  /** The request to one of the three endpoints, from parameters, client authentication and encoding. */
  function build(path: string, params: [string, string][], auth: ClientAuth, enc: Encoding): Request {
    const headers: Record<string, string> = {};
    const all = [...params];
    const c = auth.t === 'basic' || auth.t === 'post' || auth.t === 'basic-wrong' ? clients[auth.who] : null;
    switch (auth.t) {
      case 'basic':
        headers['authorization'] =
          `Basic ${Buffer.from(`${pct(c!.client_id)}:${pct(c!.client_secret ?? '')}`).toString('base64')}`;
        break;
      case 'post':
        all.push(['client_id', c!.client_id], ['client_secret', c!.client_secret ?? '']);
        break;
      case 'basic-wrong':
        headers['authorization'] = `Basic ${Buffer.from(`${c!.client_id}:${auth.secret}`).toString('base64')}`;
        break;
      case 'basic-fuzz':
        headers['authorization'] = `Basic ${Buffer.from(`${auth.id}:${auth.secret}`).toString('base64')}`;
        break;
      case 'basic-raw':
        headers['authorization'] = `Basic ${headerSafe(auth.raw)}`;
        break;
      case 'header-raw':
        headers['authorization'] = headerSafe(auth.raw) || '-';
        break;
    }
    if (enc.t === 'form') {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      return { method: 'POST', path, headers, body: formEncode(all) };
    }
    if (enc.t === 'json') {
      // Some members of the wrong JSON type: numbers, booleans, arrays, objects, null.
      const odd: unknown[] = [1, true, null, ['x'], { a: 'b' }, 1.5e300, [], {}];
      const obj: Record<string, unknown> = {};
      for (const [i, [k, v]] of all.entries()) {
        Object.defineProperty(obj, k, {
          value: enc.typed.includes(i) ? odd[i % odd.length] : v,
          enumerable: true,
          configurable: true,
          writable: true,
        });
      }
      headers['content-type'] = 'application/json';
      return { method: 'POST', path, headers, body: JSON.stringify(obj) };
    }
    if (enc.type !== null) headers['content-type'] = enc.type;
    return { method: 'POST', path, headers, body: renderBody(enc.body) };
  }

  async function exchange(req: Request, mustFail: boolean, sent: string[]): Promise<void> {
    const res = await send(server.port, req);
    checkAnswer(req, res, { format: 'oauth', mustFail, sent, origin: server.url });
  }

  it('/oauth/token: any parameters, any client authentication, form and JSON', async (t) => {
    await fuzz(
      t,
      FILE,
      'oauth: token endpoint',
      fc.record({ params: pairs, auth: clientAuth, enc: encoding }),
      async (c) => {
        const req = build('/oauth/token', c.params, c.auth, c.enc);
        // Only a valid client asking for client_credentials or refreshing may succeed.
        const hopeful =
          validAuth(c.auth) &&
          c.enc.t !== 'raw' &&
          c.params.some(([k, v]) => k === 'grant_type' && ['client_credentials', 'refresh_token'].includes(v));
        await exchange(req, !hopeful, c.params.flat());
      },
      runs(1100),
    );
    await assertAlive(server.port);
  });

  it('/oauth/introspect: any token, any client authentication, form and JSON', async (t) => {
    await fuzz(
      t,
      FILE,
      'oauth: introspection endpoint',
      fc.record({ params: pairs, token: value, auth: clientAuth, enc: encoding }),
      async (c) => {
        const req = build('/oauth/introspect', [['token', c.token], ...c.params], c.auth, c.enc);
        await exchange(req, !(validAuth(c.auth) && c.enc.t !== 'raw'), [c.token, ...c.params.flat()]);
      },
      runs(700),
    );
    await assertAlive(server.port);
  });

  it('/oauth/revoke: any token, any client authentication, form and JSON', async (t) => {
    await fuzz(
      t,
      FILE,
      'oauth: revocation endpoint',
      fc.record({ params: pairs, token: value, auth: clientAuth, enc: encoding }),
      async (c) => {
        const req = build('/oauth/revoke', [['token', c.token], ...c.params], c.auth, c.enc);
        await exchange(req, !(validAuth(c.auth) && c.enc.t !== 'raw'), [c.token, ...c.params.flat()]);
      },
      runs(600),
    );
    await assertAlive(server.port);
  });

  it('/oauth/authorize: any query string never redirects anywhere unregistered', async (t) => {
    const AUTH_PARAMS = [
      'client_id',
      'redirect_uri',
      'response_type',
      'scope',
      'state',
      'code_challenge',
      'code_challenge_method',
      'prompt',
      'max_age',
      'login_hint',
      'request',
      'request_uri',
      'response_mode',
      'nonce',
      'resource',
      'claims',
      'ui_locales',
      'acr_values',
      'id_token_hint',
      'display',
      'iss',
      'client_id[]',
    ];
    const redirects = [
      REDIRECT,
      `${REDIRECT}/`,
      `${REDIRECT}?x=1`,
      `${REDIRECT}#f`,
      'https://client.example/callback/../evil',
      'https://client.example.evil/callback',
      'HTTPS://CLIENT.EXAMPLE/callback',
      'https://client.example:443/callback',
      'https://client.example/Callback',
      'https://evil.example/callback',
      '//evil.example',
      'javascript:alert(1)',
      'http://client.example/callback',
      'https://client.example@evil.example/callback',
      `${REDIRECT}%00`,
    ];
    const authValue = fc.oneof(
      { weight: 2, arbitrary: fc.constantFrom(...redirects) },
      {
        weight: 2,
        arbitrary: fc.constantFrom(
          'code',
          'token',
          'id_token',
          'code id_token',
          'none',
          'login',
          'consent',
          'select_account',
          'S256',
          'plain',
          'query',
          'fragment',
          'form_post',
          'jwt',
          'read:users',
          'admin:all',
          'openid',
        ),
      },
      { weight: 3, arbitrary: oddString },
    );
    const arb = fc.record({
      client: fc.constantFrom('web', 'service', 'rs', 'fuzz'),
      redirect: fc.option(fc.constantFrom(...redirects), { nil: undefined }),
      pairs: fc.array(
        fc.tuple(
          fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...AUTH_PARAMS) }, { weight: 1, arbitrary: oddString }),
          authValue,
        ),
        { maxLength: 8 },
      ),
      raw: fc.constantFrom(
        '',
        '&',
        '&&=&',
        '&%',
        '&%zz=1',
        '&client_id',
        '&scope=%E0%A4%A',
        '&state=%00',
        `&x=${'y'.repeat(8000)}`,
      ),
      signedIn: fc.boolean(),
      accept: fc.constantFrom('text/html', 'application/json', '*/*', ''),
    });
    await fuzz(
      t,
      FILE,
      'oauth: authorization endpoint',
      arb,
      async (c) => {
        const q: [string, string][] = [];
        if (c.client !== 'fuzz') q.push(['client_id', clients[c.client as 'web'].client_id]);
        if (c.redirect !== undefined) q.push(['redirect_uri', c.redirect]);
        q.push(['response_type', 'code'], ...c.pairs);
        const req: Request = {
          method: 'GET',
          path: `/oauth/authorize?${formEncode(q)}${c.raw}`,
          headers: { ...(c.accept ? { accept: c.accept } : {}), ...(c.signedIn ? { cookie: browserCookie } : {}) },
        };
        const res = await send(server.port, req);
        // response_mode=fragment (which oidc-provider honours) puts the parameters after '#'.
        checkAnswer(req, res, {
          format: 'page',
          mustFail: false,
          sent: q.flat(),
          origin: server.url,
          redirectPrefixes: [`${REDIRECT}?`, `${REDIRECT}#`],
        });
        if (res.status >= 300 && res.status < 400) {
          const to = new URL(res.headers['location']!, server.url);
          if (to.origin !== new URL(server.url).origin) {
            // The registered URI exactly (checked above: redirectPrefixes), with the issuer (RFC 9207).
            const params = new URLSearchParams(to.search || to.hash.slice(1));
            if (params.get('iss') !== server.config.ISSUER)
              throw new Error(`authorization response without iss: ${res.headers['location']}`);
            if (to.hash && params.has('access_token'))
              throw new Error(`a token in a redirect URL: ${res.headers['location']}`);
          }
        }
      },
      runs(1000),
    );
    await assertAlive(server.port);
  });

  it("the provider's other endpoints with any method, query and body", async (t) => {
    const paths = [
      '/oauth/jwks',
      '/.well-known/oauth-authorization-server',
      '/.well-known/openid-configuration',
      '/oauth/authorize/',
      '/oauth/token',
      '/oauth/introspect',
      '/oauth/revoke',
      '/oauth/me',
      '/oauth/reg',
      '/oauth/device/auth',
      '/oauth/session/end',
      '/oauth/request',
      '/oauth/par',
      '/oauth/backchannel',
    ];
    const arb = fc.record({
      path: fc.constantFrom(...paths),
      method,
      tail: oddString,
      body: fc.option(badBody, { nil: undefined }),
      type: contentType,
    });
    await fuzz(
      t,
      FILE,
      'oauth: provider endpoints, any method',
      arb,
      async (c) => {
        const headers: Record<string, string> = c.type === null ? {} : { 'content-type': c.type };
        const sendsBody = c.body !== undefined && c.method !== 'GET' && c.method !== 'HEAD';
        const req: Request = {
          method: c.method,
          path: `${c.path}${c.path.endsWith('/') ? pct(c.tail) : `?${pct(c.tail)}`}`,
          headers,
          ...(sendsBody ? { body: renderBody(c.body!) } : {}),
        };
        const res = await send(server.port, req);
        // /oauth/authorize/<uid> (resuming an interaction) is a page, or JSON for a method no browser
        // uses; the rest answer JSON.
        checkAnswer(req, res, {
          format: c.path === '/oauth/authorize/' ? 'page-or-json' : 'oauth',
          mustFail: false,
          sent: [c.tail],
          origin: server.url,
        });
      },
      runs(400),
    );
    await assertAlive(server.port);
  });
});
