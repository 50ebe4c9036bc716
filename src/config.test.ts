import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from './config.ts';
import { runNode } from '../test/support/process.ts';

describe('loadConfig', () => {
  it('works with no configuration at all (the documented defaults)', () => {
    const c = loadConfig({});
    assert.equal(c.PORT, 3000);
    assert.equal(c.ISSUER, 'http://localhost:3000');
    assert.equal(c.DATABASE_URL, 'sqlite:db/latchkey.sqlite');
    assert.deepEqual(c.database, { kind: 'sqlite', file: 'db/latchkey.sqlite' });
    assert.equal(c.SIGNUP, 'open');
    assert.equal(c.API_RESOURCE, 'http://localhost:3000/v2');
    assert.equal(c.secureCookies, false);
    assert.equal(c.ARGON2_MEMORY_KIB, 19_456);
    assert.equal(c.ARGON2_TIME_COST, 2);
  });

  it('names the port it listens on in the default ISSUER', () => {
    const c = loadConfig({ PORT: '8080' });
    assert.equal(c.ISSUER, 'http://localhost:8080');
    assert.equal(c.API_RESOURCE, 'http://localhost:8080/v2');
    assert.equal(loadConfig({ PORT: '8080', ISSUER: 'https://auth.example.com' }).ISSUER, 'https://auth.example.com');
  });

  it('treats empty values as unset', () => {
    assert.equal(loadConfig({ PORT: '', ISSUER: '' }).PORT, 3000);
  });

  it('derives API_RESOURCE from ISSUER and drops its trailing slash', () => {
    const c = loadConfig({ ISSUER: 'https://auth.example.com/', PORT: '8080', SIGNUP: 'closed' });
    assert.equal(c.ISSUER, 'https://auth.example.com');
    assert.equal(c.API_RESOURCE, 'https://auth.example.com/v2');
    assert.equal(c.PORT, 8080);
    assert.equal(c.SIGNUP, 'closed');
    assert.equal(c.secureCookies, true);
    assert.equal(loadConfig({ ISSUER: 'https://auth.example.com///' }).ISSUER, 'https://auth.example.com');
    assert.equal(loadConfig({ API_RESOURCE: 'https://api.example.com' }).API_RESOURCE, 'https://api.example.com');
  });

  it('returns a frozen object', () => {
    const c = loadConfig({});
    assert.ok(Object.isFrozen(c));
    assert.throws(() => {
      (c as { PORT: number }).PORT = 1;
    }, TypeError);
  });

  it('requires email verification by default exactly when mail can reach people (EMAIL_URL); explicit wins', () => {
    const smtp = { EMAIL_URL: 'smtp://user:pass@mail.example.com:587' };
    assert.equal(loadConfig({}).REQUIRE_EMAIL_VERIFICATION, false);
    assert.equal(loadConfig(smtp).REQUIRE_EMAIL_VERIFICATION, true);
    assert.equal(loadConfig({ ...smtp, REQUIRE_EMAIL_VERIFICATION: 'false' }).REQUIRE_EMAIL_VERIFICATION, false);
    assert.equal(loadConfig({ REQUIRE_EMAIL_VERIFICATION: 'true' }).REQUIRE_EMAIL_VERIFICATION, true);
    assert.deepEqual(loadConfig({}).RATE_LIMIT_PASSWORD_RESET, { hourly: 10, burst: 1 });
  });

  const bad: [string, Record<string, string>][] = [
    ['REQUIRE_EMAIL_VERIFICATION', { REQUIRE_EMAIL_VERIFICATION: 'yes' }],
    ['RATE_LIMIT_PASSWORD_RESET', { RATE_LIMIT_PASSWORD_RESET: '10' }],
    ['PORT', { PORT: 'notanumber' }],
    ['PORT', { PORT: '70000' }],
    ['PORT', { PORT: '3000.5' }],
    ['ISSUER', { ISSUER: 'not a url' }],
    ['ISSUER', { ISSUER: 'ftp://auth.example.com' }],
    ['SIGNUP', { SIGNUP: 'maybe' }],
    ['ARGON2_MEMORY_KIB', { ARGON2_MEMORY_KIB: '19455' }],
    ['ARGON2_TIME_COST', { ARGON2_TIME_COST: '1' }],
    ['DATABASE_URL', { DATABASE_URL: 'mysql://localhost/db' }],
    ['JWT_SECRET', { JWT_SECRET: 'too short' }],
  ];
  for (const [key, env] of bad) {
    it(`refuses ${key}=${Object.values(env)[0]} with a ConfigError naming ${key}`, () => {
      assert.throws(
        () => loadConfig(env),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError, `ConfigError, got ${String(err)}`);
          assert.match(err.message, new RegExp(`\\b${key}\\b`));
          assert.doesNotMatch(err.message, /\n/, 'one line');
          return true;
        },
      );
    });
  }
});

describe('npm start with bad configuration', () => {
  it('exits 1 with exactly one stderr line naming the setting', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-config-'));
    try {
      const result = await runNode(['--import', 'tsx', 'src/main.ts'], {
        env: { PORT: 'notanumber', DATABASE_URL: `sqlite:${path.join(dir, 'latchkey.sqlite')}` },
      });
      assert.equal(result.code, 1, `${result.timedOut ? '(timed out) ' : ''}${result.stderr}`);
      assert.equal(result.stderrLines.length, 1, `one line, got:\n${result.stderr}`);
      assert.match(result.stderrLines[0]!, /^latchkey: .*\bPORT\b/);
      assert.equal(result.stdout, '');
      assert.equal(
        fs.existsSync(path.join(dir, 'latchkey.sqlite')),
        false,
        'nothing is created before the config is valid',
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
