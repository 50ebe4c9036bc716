import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AppContext } from '../../http/context.ts';
import { MAX_RETURN_TO, safeReturnTo } from './accounts.pages.ts';
import { CONFIRM_PATH, confirmUrl, isFresh } from './fresh-auth.ts';

// Where a browser may be sent back to after sign-in, and when a sign-in counts as fresh: pure rules,
// on a clock the test sets.
describe('return_to after sign-in (pure)', () => {
  it('keeps same-site paths, query and fragment included', () => {
    for (const path of ['/dashboard', '/oauth/authorize?client_id=a&scope=b', '/settings/security#2fa', '/'])
      assert.equal(safeReturnTo(path), path);
  });

  it('sends anything that could leave the site to the dashboard', () => {
    for (const bad of [
      'https://evil.example/',
      '//evil.example/x',
      '/\\evil.example',
      'javascript:alert(1)',
      'dashboard',
      '',
      ' /dashboard',
      undefined,
      null,
      ['/a', '/b'],
      42,
    ])
      assert.equal(safeReturnTo(bad), '/dashboard', JSON.stringify(bad));
  });

  it(`drops paths over ${MAX_RETURN_TO} characters (a Location header must stay small)`, () => {
    const longest = `/${'a'.repeat(MAX_RETURN_TO - 1)}`;
    assert.equal(safeReturnTo(longest), longest);
    assert.equal(safeReturnTo(`${longest}a`), '/dashboard');
  });

  it('builds the re-confirmation URL with the return path encoded', () => {
    assert.equal(confirmUrl('/settings?x=1&y=2'), `${CONFIRM_PATH}?return_to=%2Fsettings%3Fx%3D1%26y%3D2`);
  });
});

describe('fresh authentication (pure, fake clock)', () => {
  const T0 = Date.UTC(2026, 10, 27, 12, 0, 0);
  const browser = (authenticatedAt?: number) =>
    ({ state: authenticatedAt === undefined ? {} : { authenticatedAt } }) as unknown as AppContext;

  it('is fresh up to maxAge after the sign-in, inclusive, and stale a millisecond later', () => {
    const maxAge = 10 * 60_000;
    let t = T0;
    const signedIn = browser(T0);
    assert.equal(isFresh(signedIn, maxAge, t), true);
    t += maxAge;
    assert.equal(isFresh(signedIn, maxAge, t), true);
    t += 1;
    assert.equal(isFresh(signedIn, maxAge, t), false);
  });

  it('never counts a session without a sign-in time as fresh', () => {
    assert.equal(isFresh(browser(), 10 * 60_000, T0), false);
  });
});
