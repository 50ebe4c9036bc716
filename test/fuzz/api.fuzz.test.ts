/**
 * Bad input to every JSON API route (/v2 and /oauth/applications, enumerated from the routers):
 * malformed and deeply nested JSON, wrong types for every field, huge bodies and headers, odd
 * Unicode, wrong content types and methods, truncated, oversized and forged credentials. Every
 * answer is below 500, errors are `{"error":{"code","message"}}` with a documented code, no
 * internals leak, and the server stays up.
 */
import { after, before, describe, it } from 'node:test';
import crypto from 'node:crypto';
import jwt from 'jsonwebtoken';
import fc from 'fast-check';
import { startTestServer, type TestServer } from '../support/server.ts';
import { registerApp } from '../support/http.ts';
import { mintApiKey } from '../../src/features/api-keys/key-format.ts';
import { sessionPrincipal } from '../../src/domain/principal.ts';
import {
  anyJson,
  assertAlive,
  badBody,
  bodyCertainlyBad,
  checkAnswer,
  contentType,
  fuzz,
  headerSafe,
  method,
  oddString,
  pct,
  renderBody,
  runs,
  send,
  stringsIn,
  summary,
  wrongTypeValue,
  type BodySpec,
  type Request,
} from './kit.ts';
import { allowedTypes, apiRoutes, fillPath, plausible, type Route } from './routes.ts';
import { worldOn, credentialServerEnv, TEST_JWT_SECRET, type TestUser } from '../support/world.ts';
import { BY_SYSTEM } from '../../src/features/audit/audit.ts';

const FILE = 'test/fuzz/api.fuzz.test.ts';

type Valid = 'admin-key' | 'member-key' | 'jwt' | 'oauth' | 'session';
type TokenName = 'admin-key' | 'jwt' | 'oauth';
type BadAuth =
  | { t: 'random'; s: string }
  | { t: 'bearer-random'; s: string }
  | { t: 'truncated'; which: TokenName; keep: number }
  | { t: 'extended'; which: TokenName; extra: string; n: number }
  | { t: 'flipped'; which: TokenName; at: number }
  | { t: 'huge'; n: number }
  | { t: 'scheme'; scheme: string; which: TokenName }
  | {
      t: 'forged';
      variant:
        | 'none'
        | 'wrong-secret'
        | 'at+jwt-hs256'
        | 'jwks-as-hmac'
        | 'expired'
        | 'wrong-issuer'
        | 'scopes-object'
        | 'no-sub'
        | 'too-long'
        | 'bad-json'
        | 'api-key-unknown'
        | 'api-key-checksum'
        | 'revoked-key';
    };
type Persona = { kind: 'none' } | { kind: 'valid'; who: Valid } | { kind: 'bad'; auth: BadAuth };
type Param = { kind: 'real' } | { kind: 'fuzz'; s: string } | { kind: 'raw'; raw: string };

describe('fuzz: JSON APIs (/v2, /oauth/applications)', { timeout: 30 * 60_000 }, () => {
  let server: TestServer;
  let routes: Route[];
  let admin: TestUser;
  const tokens = {} as Record<TokenName | 'member-key' | 'revoked-key', string>;
  const forged = new Map<string, string>();
  const realIds: Record<string, string> = {};
  let sessionCookie = '';

  before(async () => {
    server = await startTestServer({ env: { ...credentialServerEnv, WEBHOOK_ALLOW_PRIVATE: '1' } });
    const f = worldOn(server);
    admin = await f.user({ admin: true, tag: 'fuzz-admin' });
    const member = await f.user({ tag: 'fuzz-member' });
    const victim = await f.user({ tag: 'fuzz-victim' });
    tokens['admin-key'] = (await f.apiKey(admin, ['admin:all'])).key;
    tokens['member-key'] = (await f.apiKey(member, ['read:projects', 'write:projects'])).key;
    tokens.jwt = f.jwt({ sub: admin.id, scopes: ['read:users', 'read:projects', 'write:projects'] });
    tokens.oauth = (await f.oauthToken(member, ['read:users', 'read:projects', 'write:projects'])).access_token;
    const revoked = await f.apiKey(admin, ['read:users'], { name: 'revoked' });
    await server.built.services.apiKeys.revoke(sessionPrincipal(admin), revoked.id, BY_SYSTEM);
    tokens['revoked-key'] = revoked.key;
    sessionCookie = admin.browser.jar.header();

    // Resources the fuzzer may name by their real ids (none of them a credential it uses).
    const victimKey = await f.apiKey(admin, ['read:users'], { name: 'victim' });
    const app = await registerApp(admin.browser, {
      name: 'Fuzz target',
      redirect_uris: ['https://client.example/callback'],
      scopes: ['read:users'],
    });
    const post = async (path: string, body: unknown) => {
      const res = await send(server.port, {
        method: 'POST',
        path,
        headers: { authorization: `Bearer ${tokens['admin-key']}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (res.status !== 201) throw new Error(`setup ${path}: ${res.status} ${res.text}`);
      return JSON.parse(res.text) as { id: string };
    };
    realIds['id:/v2/projects'] = (await post('/v2/projects', { name: 'fuzz target' })).id;
    realIds['id:/v2/webhooks'] = (await post('/v2/webhooks', { url: 'http://127.0.0.1:9/hook', events: ['*'] })).id;
    realIds['id:/v2/api-keys'] = victimKey.id;
    realIds['id:/v2/users'] = victim.id;
    realIds['clientId:/v2/consents'] = app.client_id;
    realIds['clientId:/oauth/applications'] = app.client_id;

    // Tokens a forger could make.
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: admin.id, scopes: ['admin:all'], iss: 'api.example.com', iat: now, exp: now + 600 };
    const jwks = await (await fetch(`${server.url}/oauth/jwks`)).text();
    forged.set('none', `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`);
    forged.set('wrong-secret', jwt.sign(claims, 'not-the-secret-0123456789abcdef-0123456789'));
    forged.set(
      'at+jwt-hs256',
      jwt.sign(
        { ...claims, iss: server.config.ISSUER, aud: server.config.API_RESOURCE, scope: 'admin:all' },
        TEST_JWT_SECRET,
        { header: { alg: 'HS256', typ: 'at+jwt' } },
      ),
    );
    forged.set(
      'jwks-as-hmac',
      jwt.sign({ ...claims, iss: server.config.ISSUER, scope: 'admin:all' }, jwks, {
        header: { alg: 'HS256', typ: 'at+jwt' },
      }),
    );
    forged.set('expired', jwt.sign({ ...claims, iat: now - 7200, exp: now - 3600 }, TEST_JWT_SECRET));
    forged.set('wrong-issuer', jwt.sign({ ...claims, iss: 'evil.example' }, TEST_JWT_SECRET));
    forged.set('scopes-object', jwt.sign({ ...claims, scopes: { admin: true } }, TEST_JWT_SECRET));
    forged.set(
      'no-sub',
      jwt.sign({ scopes: ['admin:all'], iss: 'api.example.com', iat: now, exp: now + 600 }, TEST_JWT_SECRET),
    );
    forged.set('too-long', jwt.sign({ ...claims, exp: now + 365 * 86_400 }, TEST_JWT_SECRET));
    forged.set(
      'bad-json',
      [Buffer.from('{"alg":"HS256"'), Buffer.from('{sub:'), crypto.randomBytes(32)]
        .map((part) => part.toString('base64url'))
        .join('.'),
    );
    forged.set('api-key-unknown', mintApiKey().key);
    const real = tokens['admin-key'];
    forged.set('api-key-checksum', real.slice(0, -1) + (real.endsWith('A') ? 'B' : 'A'));
    forged.set('revoked-key', tokens['revoked-key']);

    routes = apiRoutes(server);
  });

  after(async () => {
    console.log(summary('api'));
    await server?.dispose();
  });

  // -- building requests --------------------------------------------------------------------

  const persona: fc.Arbitrary<Persona> = fc.oneof(
    { weight: 2, arbitrary: fc.constant<Persona>({ kind: 'none' }) },
    {
      weight: 5,
      arbitrary: fc
        .constantFrom<Valid>('admin-key', 'member-key', 'jwt', 'oauth', 'session')
        .map((who): Persona => ({ kind: 'valid', who })),
    },
    {
      weight: 4,
      arbitrary: fc
        .oneof(
          oddString.map((s): BadAuth => ({ t: 'random', s })),
          oddString.map((s): BadAuth => ({ t: 'bearer-random', s })),
          fc.record({
            t: fc.constant('truncated' as const),
            which: fc.constantFrom<TokenName>('admin-key', 'jwt', 'oauth'),
            keep: fc.double({ min: 0, max: 0.98, noNaN: true }),
          }),
          fc.record({
            t: fc.constant('extended' as const),
            which: fc.constantFrom<TokenName>('admin-key', 'jwt', 'oauth'),
            extra: fc.constantFrom('A', 'x', '.', '.x', '_', '-', '~', 'AAAA'),
            n: fc.integer({ min: 1, max: 4000 }),
          }),
          fc.record({
            t: fc.constant('flipped' as const),
            which: fc.constantFrom<TokenName>('admin-key', 'jwt', 'oauth'),
            at: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
          }),
          fc.record({ t: fc.constant('huge' as const), n: fc.constantFrom(1_024, 8_000, 15_000, 16_500, 40_000) }),
          fc.record({
            t: fc.constant('scheme' as const),
            scheme: fc.constantFrom(
              'Basic',
              'Token',
              'Digest',
              'Bearer:',
              'Bearer\t',
              'BearerX',
              '',
              'MAC',
              'Bearer Bearer',
            ),
            which: fc.constantFrom<TokenName>('admin-key', 'jwt', 'oauth'),
          }),
          fc
            .constantFrom(
              ...([
                'none',
                'wrong-secret',
                'at+jwt-hs256',
                'jwks-as-hmac',
                'expired',
                'wrong-issuer',
                'scopes-object',
                'no-sub',
                'too-long',
                'bad-json',
                'api-key-unknown',
                'api-key-checksum',
                'revoked-key',
              ] as const),
            )
            .map((variant): BadAuth => ({ t: 'forged', variant })),
        )
        .map((auth): Persona => ({ kind: 'bad', auth })),
    },
  );

  function authHeaders(p: Persona, m: string): Record<string, string> {
    if (p.kind === 'none') return {};
    if (p.kind === 'valid') {
      if (p.who === 'session') return { cookie: sessionCookie, ...(m !== 'GET' ? { origin: server.url } : {}) };
      return { authorization: `Bearer ${tokens[p.who]}` };
    }
    const a = p.auth;
    const tok = (w: TokenName) => tokens[w];
    switch (a.t) {
      case 'random':
        return { authorization: headerSafe(a.s) || 'x' };
      case 'bearer-random':
        return { authorization: `Bearer ${headerSafe(a.s)}` };
      case 'truncated':
        return { authorization: `Bearer ${tok(a.which).slice(0, Math.floor(tok(a.which).length * a.keep))}` };
      case 'extended':
        return { authorization: `Bearer ${tok(a.which)}${a.extra.repeat(a.n)}` };
      case 'flipped': {
        const t = tok(a.which);
        // Not the last characters: base64url's final character carries unused bits.
        const i = Math.floor((t.length - 3) * a.at);
        const c = t[i] === 'A' ? 'B' : 'A';
        return { authorization: `Bearer ${t.slice(0, i)}${c}${t.slice(i + 1)}` };
      }
      case 'huge':
        return { authorization: `Bearer ${'A'.repeat(a.n)}` };
      case 'scheme':
        return { authorization: `${a.scheme} ${tok(a.which)}` };
      case 'forged':
        return { authorization: `Bearer ${forged.get(a.variant)!}` };
    }
  }

  const paramArb: fc.Arbitrary<Param> = fc.oneof(
    { weight: 2, arbitrary: fc.constant<Param>({ kind: 'real' }) },
    { weight: 5, arbitrary: oddString.filter((s) => s !== 'me' && s !== '').map((s): Param => ({ kind: 'fuzz', s })) },
    {
      weight: 2,
      arbitrary: fc
        .constantFrom(
          '%',
          '%zz',
          '%00',
          '%2e%2e',
          '..',
          '.',
          '%2F',
          '%2Fv2%2Fusers',
          '%E0%A4%A',
          '%ED%A0%80',
          '%C0%AE',
          '*',
          'prj_',
          'usr_0',
          'app_x',
          'whk_1',
          'lk_x',
        )
        .map((raw): Param => ({ kind: 'raw', raw })),
    },
  );

  function paramValue(route: Route, name: string, p: Param): string {
    if (p.kind === 'raw') return p.raw;
    if (p.kind === 'fuzz') return pct(p.s);
    const key = `${name}:${route.path.split('/').slice(0, 3).join('/')}`;
    return pct(realIds[key] ?? `unknown-${name}`);
  }

  /** Whether this request certainly cannot succeed, and why (for the answer check). */
  function certainlyBad(route: Route, p: Persona, params: Param[], req: Request): boolean {
    if (p.kind !== 'valid') return true; // no credential, or one that is not valid
    if (route.body) {
      const type = req.headers?.['content-type'];
      const body = req.body === undefined ? undefined : Buffer.from(req.body);
      // Only POST/PATCH bodies are read; an unreadable one on a create (required fields) always fails.
      if (bodyCertainlyBad(body, typeof type === 'string' ? type : null, Object.keys(route.body.properties ?? {})))
        return true;
      if (route.method === 'POST' && (route.body.required ?? []).length > 0 && !(body && body.length > 0)) return true;
    }
    // An id that names nothing (only create routes and lists have no id).
    if (params.some((x) => x.kind !== 'real')) return true;
    return false;
  }

  async function exchange(req: Request, mustFail: boolean, sent: string[]): Promise<void> {
    const res = await send(server.port, req);
    checkAnswer(req, res, { format: 'api', mustFail, sent, origin: server.url });
  }

  // -- properties ----------------------------------------------------------------------------

  it('every route: bad bodies, content types, odd ids and query strings, any credential', async (t) => {
    const arb = fc.record({
      route: fc.constantFrom(...routes),
      persona,
      params: fc.array(paramArb, { minLength: 2, maxLength: 2 }),
      body: fc.oneof({ weight: 1, arbitrary: fc.constant(null) }, { weight: 4, arbitrary: badBody }),
      contentType,
      query: fc.array(
        fc.tuple(
          fc.oneof(
            fc.constantFrom('limit', 'offset', 'after', 'before', 'limit[]', '__proto__[x]', 'a[b][c]'),
            oddString,
          ),
          oddString,
        ),
        { maxLength: 4 },
      ),
      rawQuery: fc.constantFrom(
        '',
        '?',
        '?&&&',
        '?=',
        '?%',
        '?limit=1&limit=2',
        '?limit=-1',
        '?limit=1e3',
        '?offset=99999999999',
        '?limit=%00',
      ),
    });
    await fuzz(
      t,
      FILE,
      'api: bad bodies on every route',
      arb,
      async (c) => {
        const values: Record<string, string> = {};
        for (const [i, name] of c.route.params.entries()) values[name] = paramValue(c.route, name, c.params[i]!);
        const query = c.query.length ? `?${c.query.map(([k, v]) => `${pct(k)}=${pct(v)}`).join('&')}` : c.rawQuery;
        const headers: Record<string, string> = { ...authHeaders(c.persona, c.route.method) };
        if (c.contentType !== null) headers['content-type'] = c.contentType;
        else if (c.body) headers['content-type'] = 'application/json';
        const req: Request = {
          method: c.route.method,
          path: fillPath(c.route, values) + query,
          headers,
          ...(c.body ? { body: renderBody(c.body) } : {}),
        };
        const sent = [
          ...c.query.flat(),
          ...c.params.flatMap((p) => (p.kind === 'fuzz' ? [p.s] : [])),
          ...(c.body?.kind === 'text' ? [c.body.text] : []),
        ];
        await exchange(req, certainlyBad(c.route, c.persona, c.params.slice(0, c.route.params.length), req), sent);
      },
      runs(1500),
    );
    await assertAlive(server.port);
  });

  it('every field of every body: wrong types, odd strings, unknown fields', async (t) => {
    const withBody = routes.filter((r) => r.body?.properties);
    const arb = fc.constantFrom(...withBody).chain((route) => {
      const props = Object.entries(route.body!.properties!);
      const _base = Object.fromEntries(props.map(([k, s]) => [k, plausible(k, s)]));
      const mutation = fc.oneof(
        // One field of a type the schema does not allow: certainly refused.
        {
          weight: 4,
          arbitrary: fc
            .constantFrom(...props)
            .chain(([k, s]) =>
              wrongTypeValue(allowedTypes(s)).map((v) => ({ bad: true, field: k, value: v as unknown })),
            ),
        },
        // A field the schema does not have: refused (additionalProperties: false).
        {
          weight: 1,
          arbitrary: oddString
            .filter((k) => !(k in route.body!.properties!))
            .map((k) => ({ bad: true, field: k, value: 1 as unknown })),
        },
        // An odd string (or any JSON) where the field takes one: may be accepted, never a 5xx.
        {
          weight: 3,
          arbitrary: fc
            .constantFrom(...props)
            .chain(([k]) => fc.oneof(oddString, anyJson).map((v) => ({ bad: false, field: k, value: v as unknown }))),
        },
        // The whole body replaced by some JSON value.
        { weight: 1, arbitrary: anyJson.map((v) => ({ bad: false, field: '', value: v as unknown })) },
      );
      return fc.record({
        route: fc.constant(route),
        mutation,
        who: fc.constantFrom<Valid>('admin-key', 'session', 'member-key'),
        drop: fc.boolean(),
      });
    });
    await fuzz(
      t,
      FILE,
      'api: wrong types for every field',
      arb,
      async (c) => {
        const props = c.route.body!.properties!;
        let body: unknown;
        if (c.mutation.field === '') body = c.mutation.value;
        else {
          const base: Record<string, unknown> = Object.fromEntries(
            Object.entries(props).map(([k, s]) => [k, plausible(k, s)]),
          );
          // Sometimes only the mutated field (PATCH semantics), sometimes the full plausible body.
          const obj: Record<string, unknown> = c.drop ? {} : base;
          Object.defineProperty(obj, c.mutation.field, {
            value: c.mutation.value,
            enumerable: true,
            configurable: true,
            writable: true,
          });
          body = obj;
        }
        const values = Object.fromEntries(c.route.params.map((n) => [n, paramValue(c.route, n, { kind: 'real' })]));
        const headers: Record<string, string> = {
          'content-type': 'application/json',
          ...authHeaders({ kind: 'valid', who: c.who }, c.route.method),
        };
        const req: Request = {
          method: c.route.method,
          path: fillPath(c.route, values),
          headers,
          body: JSON.stringify(body) ?? 'null',
        };
        await exchange(req, c.mutation.bad, stringsIn(body));
      },
      runs(1200),
    );
    await assertAlive(server.port);
  });

  it('every route with every method, huge headers and huge bodies', async (t) => {
    const served = new Set(
      routes.flatMap((r) => [`${r.method} ${r.path}`, ...(r.method === 'GET' ? [`HEAD ${r.path}`] : [])]),
    );
    const arb = fc.record({
      route: fc.constantFrom(...routes),
      method,
      persona,
      headerBytes: fc.constantFrom(0, 0, 1_000, 8_000, 15_000, 16_200, 20_000, 70_000),
      headerCount: fc.constantFrom(1, 1, 50, 500),
      body: fc.constantFrom<BodySpec | null>(
        null,
        { kind: 'huge', bytes: 1_048_576, fill: 'json-string' },
        { kind: 'huge', bytes: 1_048_576, fill: 'binary' },
        { kind: 'deep', open: '[', close: ']', depth: 10_000, closed: true },
      ),
      unicodeHeader: oddString,
    });
    await fuzz(
      t,
      FILE,
      'api: methods, huge headers and bodies',
      arb,
      async (c) => {
        const headers: Record<string, string> = {
          ...authHeaders(c.persona, c.method),
          'x-client-version': headerSafe(c.unicodeHeader),
          'x-request-id': headerSafe(c.unicodeHeader) || 'id',
        };
        if (c.headerBytes) {
          const per = Math.max(1, Math.floor(c.headerBytes / c.headerCount));
          for (let i = 0; i < c.headerCount; i++) headers[`x-fuzz-${i}`] = 'h'.repeat(per);
        }
        if (c.body) headers['content-type'] = 'application/json';
        const values = Object.fromEntries(
          c.route.params.map((n) => [n, paramValue(c.route, n, { kind: 'fuzz', s: 'nothing-here' })]),
        );
        const req: Request = {
          method: c.method,
          path: fillPath(c.route, values),
          headers,
          ...(c.body && c.method !== 'GET' && c.method !== 'HEAD' ? { body: renderBody(c.body) } : {}),
        };
        const mustFail =
          c.persona.kind !== 'valid' ||
          c.route.params.length > 0 ||
          !served.has(`${c.method} ${c.route.path}`) ||
          (c.body !== null && !!c.route.body && c.method === c.route.method);
        await exchange(req, mustFail && c.method !== 'OPTIONS', [c.unicodeHeader]);
      },
      runs(500),
    );
    await assertAlive(server.port);
  });

  it('the admin account still works after the fuzzing (no state was corrupted)', async () => {
    const res = await send(server.port, {
      method: 'GET',
      path: '/v2/users/me',
      headers: { authorization: `Bearer ${tokens['member-key']}` },
    });
    // member-key has no read:users: a clean 403 (not a 500) shows the key and its account are intact.
    checkAnswer({ method: 'GET', path: '/v2/users/me' }, res, { format: 'api', mustFail: true, origin: server.url });
    const projects = await send(server.port, {
      method: 'GET',
      path: '/v2/projects',
      headers: { authorization: `Bearer ${tokens['member-key']}` },
    });
    if (projects.status !== 200)
      throw new Error(`listing projects after the fuzzing: ${projects.status} ${projects.text}`);
    void admin;
  });
});
