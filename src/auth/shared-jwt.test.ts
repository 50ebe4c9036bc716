import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { TestServer } from '../../test/support/server.ts';
import { runCli } from '../../test/support/process.ts';
import { cliDatabaseEnv } from '../../test/support/database.ts';
import { request, startWorld, TEST_JWT_SECRET, type World, type TestUser } from '../../test/support/world.ts';

// Shared-secret JWTs: the documented jsonwebtoken sign and verify calls as written,
// and everything that must be refused.

const JWT_SECRET = TEST_JWT_SECRET;
const DOCUMENTED_401 = { error: { code: 'UNAUTHORIZED', message: 'Invalid or missing authentication credentials' } };
const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const nowS = () => Math.floor(Date.now() / 1000);

describe('shared-secret JWTs (signed by services with jsonwebtoken)', () => {
  let server: TestServer;
  let make: World;
  let alice: TestUser;
  let bob: TestUser;

  const authTest = (token: string) => request(server, 'GET', '/v2/auth/test', { bearer: token });

  before(async () => {
    make = await startWorld();
    server = make.server;
    alice = await make.user({ tag: 'alice' });
    bob = await make.user({ tag: 'bob' });
  });
  after(() => server.dispose());

  it('accepts the documented jwt.sign call as written', async () => {
    const userId = 'user_123';
    const userName = 'John Doe';
    // --- the documented call, verbatim ---
    const token = jwt.sign(
      {
        sub: userId,
        name: userName,
        scopes: ['read:all', 'write:own'],
      },
      JWT_SECRET,
      {
        expiresIn: '1h',
        issuer: 'api.example.com',
      },
    );
    // ---
    const decoded = jwt.decode(token) as jwt.JwtPayload;
    const res = await authTest(token);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body, {
      valid: true,
      method: 'jwt',
      subject: 'user_123',
      scopes: ['read:all', 'write:own'],
      expires_at: new Date(decoded.exp! * 1000).toISOString(),
    });
    assert.equal(res.headers.get('x-api-version'), '2.0');
  });

  it('accepts the scope string form (RFC 8693 `scope`)', async () => {
    const token = jwt.sign({ sub: 'svc-reports', scope: 'read:users read:projects' }, JWT_SECRET, {
      expiresIn: '1h',
      issuer: 'api.example.com',
    });
    const res = await authTest(token);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body!['method'], 'jwt');
    assert.deepEqual(res.body!['scopes'], ['read:users', 'read:projects']);
  });

  it("accepts an iat up to a minute ahead of our clock (the signer's clock may run fast)", async () => {
    const token = jwt.sign({ sub: 'svc', scopes: [], iat: nowS() + 30, exp: nowS() + 3600 }, JWT_SECRET, {
      issuer: 'api.example.com',
    });
    assert.equal((await authTest(token)).status, 200);
  });

  it('accepts a lifetime of exactly 24 h', async () => {
    const token = jwt.sign({ sub: 'svc', scopes: [] }, JWT_SECRET, { expiresIn: '24h', issuer: 'api.example.com' });
    assert.equal((await authTest(token)).status, 200);
  });

  describe('refuses with 401 and the documented body', () => {
    const valid = () => ({
      sub: 'user_123',
      scopes: ['read:users'],
      iss: 'api.example.com',
      iat: nowS(),
      exp: nowS() + 3600,
    });
    const cases: [string, () => string][] = [
      [
        'alg none (crafted by hand, empty signature)',
        () => `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(valid())}.`,
      ],
      [
        'alg none with the HS256 signature kept',
        () => {
          const good = jwt.sign(valid(), JWT_SECRET, { algorithm: 'HS256' });
          const [, payload, sig] = good.split('.');
          return `${b64url({ alg: 'none', typ: 'JWT' })}.${payload}.${sig}`;
        },
      ],
      [
        'HS512 with the right secret',
        () =>
          jwt.sign({ sub: 'user_123', scopes: ['read:users'] }, JWT_SECRET, {
            algorithm: 'HS512',
            expiresIn: '1h',
            issuer: 'api.example.com',
          }),
      ],
      [
        'HS384 with the right secret',
        () =>
          jwt.sign({ sub: 'user_123', scopes: ['read:users'] }, JWT_SECRET, {
            algorithm: 'HS384',
            expiresIn: '1h',
            issuer: 'api.example.com',
          }),
      ],
      [
        'RS256 (a generated RSA key)',
        () => {
          const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
          return jwt.sign({ sub: 'user_123', scopes: ['read:users'] }, privateKey, {
            algorithm: 'RS256',
            expiresIn: '1h',
            issuer: 'api.example.com',
          });
        },
      ],
      ['wrong issuer', () => make.jwt({ sub: 'user_123', scopes: ['read:users'] }, { issuer: 'evil.example.com' })],
      ['no issuer', () => jwt.sign({ sub: 'user_123', scopes: ['read:users'] }, JWT_SECRET, { expiresIn: '1h' })],
      [
        'missing exp',
        () => jwt.sign({ sub: 'user_123', scopes: ['read:users'] }, JWT_SECRET, { issuer: 'api.example.com' }),
      ],
      [
        'missing sub',
        () => jwt.sign({ scopes: ['read:users'] }, JWT_SECRET, { expiresIn: '1h', issuer: 'api.example.com' }),
      ],
      [
        'empty sub',
        () => jwt.sign({ sub: '', scopes: ['read:users'] }, JWT_SECRET, { expiresIn: '1h', issuer: 'api.example.com' }),
      ],
      [
        'wrong secret',
        () =>
          make.jwt(
            { sub: 'user_123', scopes: ['read:users'] },
            { secret: 'another-secret-of-sufficient-length-0123456789' },
          ),
      ],
      ['lifetime over 24 h (25 h)', () => make.jwt({ sub: 'user_123', scopes: ['read:users'] }, { expiresIn: '25h' })],
      [
        'lifetime over 24 h without iat',
        () =>
          jwt.sign({ sub: 'user_123', scopes: ['read:users'], exp: nowS() + 25 * 3600 }, JWT_SECRET, {
            issuer: 'api.example.com',
            noTimestamp: true,
          }),
      ],
      // The cap is measured from now, not from an iat the signer chose.
      [
        'exp in 10 years with iat a minute before it',
        () =>
          jwt.sign(
            {
              sub: 'user_123',
              scopes: ['read:users'],
              iat: nowS() + 10 * 365 * 86_400 - 60,
              exp: nowS() + 10 * 365 * 86_400,
            },
            JWT_SECRET,
            { issuer: 'api.example.com' },
          ),
      ],
      [
        'iat an hour in the future',
        () =>
          jwt.sign({ sub: 'user_123', scopes: ['read:users'], iat: nowS() + 3600, exp: nowS() + 7200 }, JWT_SECRET, {
            issuer: 'api.example.com',
          }),
      ],
      [
        'iat two minutes in the future',
        () =>
          jwt.sign({ sub: 'user_123', scopes: ['read:users'], iat: nowS() + 120, exp: nowS() + 3600 }, JWT_SECRET, {
            issuer: 'api.example.com',
          }),
      ],
      [
        'expired (exp an hour ago)',
        () =>
          jwt.sign({ sub: 'user_123', scopes: ['read:users'], iat: nowS() - 7200, exp: nowS() - 3600 }, JWT_SECRET, {
            issuer: 'api.example.com',
          }),
      ],
      [
        'expired a minute ago',
        () =>
          jwt.sign({ sub: 'user_123', scopes: ['read:users'], iat: nowS() - 3600, exp: nowS() - 60 }, JWT_SECRET, {
            issuer: 'api.example.com',
          }),
      ],
      [
        'tampered payload (scopes widened after signing)',
        () => {
          const [h, , s] = make.jwt({ sub: 'user_123', scopes: ['read:users'] }).split('.');
          return `${h}.${b64url({ ...valid(), scopes: ['admin:all'] })}.${s}`;
        },
      ],
      [
        'scopes not an array of strings',
        () => jwt.sign({ sub: 'user_123', scopes: [1, 2] }, JWT_SECRET, { expiresIn: '1h', issuer: 'api.example.com' }),
      ],
    ];
    for (const [name, build] of cases) {
      it(name, async () => {
        const res = await authTest(build());
        assert.equal(res.status, 401, `${name}: ${JSON.stringify(res.body)}`);
        assert.deepEqual(res.body, DOCUMENTED_401);
        assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer error="invalid_token"/);
      });
    }
  });

  describe('a JWT acting on Latchkey resources (/v2/projects)', () => {
    it("a JWT whose sub is an existing user's id creates a project owned by that user", async () => {
      const token = make.jwt({ sub: alice.id, scopes: ['read:projects', 'write:projects'] });
      const res = await request(server, 'POST', '/v2/projects', { bearer: token, body: { name: 'From a service' } });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      assert.equal(res.body!['owner_id'], alice.id);
      assert.equal(res.body!['name'], 'From a service');
      const got = await request(server, 'GET', `/v2/projects/${res.body!['id']}`, { bearer: token });
      assert.equal(got.status, 200);
      assert.equal(got.body!['owner_id'], alice.id);

      // Bob's JWT may not read Alice's project (ownership): 403.
      const bobs = make.jwt({ sub: bob.id, scopes: ['read:projects', 'write:projects'] });
      const foreign = await request(server, 'GET', `/v2/projects/${res.body!['id']}`, { bearer: bobs });
      assert.equal(foreign.status, 403, JSON.stringify(foreign.body));
      assert.equal((foreign.body as { error: { code: string } }).error.code, 'FORBIDDEN');
    });

    it('a JWT whose sub is not a Latchkey account cannot create a project (403)', async () => {
      for (const sub of ['user_123', 'usr_doesNotExist000000', 'svc-reports']) {
        const res = await request(server, 'POST', '/v2/projects', {
          bearer: make.jwt({ sub, scopes: ['write:projects'] }),
          body: {
            name: 'orphan',
          },
        });
        assert.equal(res.status, 403, `${sub}: ${JSON.stringify(res.body)}`);
        assert.equal((res.body as { error: { code: string } }).error.code, 'FORBIDDEN');
      }
    });

    it('a JWT without the scope is 403 even for the owner', async () => {
      const res = await request(server, 'POST', '/v2/projects', {
        bearer: make.jwt({ sub: alice.id, scopes: ['read:projects'] }),
        body: {
          name: 'x',
        },
      });
      assert.equal(res.status, 403);
      assert.deepEqual(res.body, {
        error: { code: 'FORBIDDEN', message: 'Insufficient permissions for this operation' },
      });
      assert.match(res.headers.get('www-authenticate') ?? '', /error="insufficient_scope"/);
    });
  });

  describe('latchkey jwt sign (CLI)', () => {
    it('signs a token that the documented jwt.verify accepts, and the server too', async () => {
      const r = await runCli(
        ['jwt', 'sign', '--sub', 'svc-reports', '--scopes', 'read:users read:projects', '--name', 'Reports'],
        {
          env: { JWT_SECRET, ...cliDatabaseEnv(server.config) },
        },
      );
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.stderrLines, []);
      const out = JSON.parse(r.stdout) as { token: string; expires_in: number };
      const token = out.token;
      assert.equal(out.expires_in, 3600);

      // --- the documented jwt.verify call, verbatim ---
      // (console.log/console.error replaced by assertions)
      let decoded: jwt.JwtPayload | string | undefined;
      let invalid: string | undefined;
      try {
        decoded = jwt.verify(token, JWT_SECRET, {
          issuer: 'api.example.com',
        });
      } catch (error) {
        invalid = (error as Error).message;
      }
      // ---
      assert.equal(invalid, undefined, `Invalid token: ${invalid}`);
      assert.ok(decoded && typeof decoded === 'object', 'jwt.verify accepted the token');
      assert.equal(decoded.sub, 'svc-reports');
      assert.equal(decoded['name'], 'Reports');
      assert.deepEqual(decoded['scopes'], ['read:users', 'read:projects']);
      assert.equal(decoded.iss, 'api.example.com');
      assert.equal(decoded.exp! - decoded.iat!, 3600);
      assert.equal((jwt.decode(token, { complete: true }) as jwt.Jwt).header.alg, 'HS256');

      const res = await authTest(token);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body!['method'], 'jwt');
      assert.equal(res.body!['subject'], 'svc-reports');
      assert.deepEqual(res.body!['scopes'], ['read:users', 'read:projects']);
    });
  });
});
