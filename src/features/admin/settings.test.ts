// The console's settings page: every setting of the schema is classified (shown, secret, url) next
// to the schema, so a new secret setting cannot be shown by default; secrets and URL passwords are masked.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig, SETTING_DISPLAY, SETTING_NAMES } from '../../config.ts';
import { effectiveSettings, maskUrl } from './settings.ts';

describe('settings as the console shows them', () => {
  it('every setting of the schema is listed as shown, secret or url, and the secrets are', () => {
    const names = Object.keys(SETTING_DISPLAY).sort();
    assert.deepEqual([...SETTING_NAMES].sort(), names, 'a setting missing from SETTING_DISPLAY (or one too many)');
    // Anything named as a secret, a key, a password or a token is never shown as it is.
    const secretLooking = SETTING_NAMES.filter((n) => /(SECRET|SECRETS_KEY|PASSWORD|_TOKEN)$/.test(n));
    for (const name of secretLooking) assert.notEqual(SETTING_DISPLAY[name], 'shown', `${name} must not be shown`);
    for (const name of ['JWT_SECRET', 'SECRETS_KEY', 'METRICS_TOKEN'] as const)
      assert.equal(SETTING_DISPLAY[name], 'secret');
    for (const name of ['DATABASE_URL', 'EMAIL_URL'] as const) assert.equal(SETTING_DISPLAY[name], 'url');
  });

  it('masks secrets and the passwords in URLs, and says where each value came from', () => {
    const config = loadConfig({
      DATABASE_URL: 'postgres://latchkey:db-password@127.0.0.1:5432/latchkey',
      EMAIL_URL: 'smtps://mailer:mail-password@mail.example:465',
      JWT_SECRET: 'j'.repeat(40),
      METRICS_TOKEN: 'm'.repeat(20),
      SECRETS_KEY: Buffer.alloc(32, 7).toString('base64'),
    });
    const shown = new Map(effectiveSettings(config).map((s) => [s.name, s]));
    const all = JSON.stringify([...shown.values()]);
    for (const leak of ['db-password', 'mail-password', 'j'.repeat(40), 'm'.repeat(20)]) {
      assert.ok(!all.includes(leak), `${leak} is shown`);
    }
    assert.equal(shown.get('DATABASE_URL')?.value, 'postgres://latchkey:*****@127.0.0.1:5432/latchkey');
    assert.equal(shown.get('JWT_SECRET')?.value, 'set');
    assert.equal(shown.get('SECRETS_KEY')?.value, 'set');
    assert.equal(shown.get('JWT_SECRET')?.source, 'environment');
    assert.deepEqual(shown.get('SIGNUP'), { name: 'SIGNUP', value: 'open', source: 'default' });
    assert.equal(maskUrl('sqlite:db/latchkey.sqlite'), 'sqlite:db/latchkey.sqlite');
  });
});
