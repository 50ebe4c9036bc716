import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseDuration, UsageError } from './usage.ts';

describe('CLI durations (--expires-in)', () => {
  it('reads 90d, 12h, 30m and 45s as seconds', () => {
    assert.equal(parseDuration('90d'), 90 * 86_400);
    assert.equal(parseDuration('12h'), 12 * 3600);
    assert.equal(parseDuration('30m'), 30 * 60);
    assert.equal(parseDuration('45s'), 45);
  });

  it('refuses a bare number, saying a unit is needed and which ones', () => {
    assert.throws(
      () => parseDuration('90'),
      (err: unknown) =>
        err instanceof UsageError && /--expires-in 90 needs a unit/.test(err.message) && /90d/.test(err.message),
    );
  });

  it('refuses zero, an unknown unit and words', () => {
    for (const text of ['0d', '5w', '1.5h', 'soon', '', 'd']) {
      assert.throws(() => parseDuration(text), UsageError, text);
    }
  });
});
