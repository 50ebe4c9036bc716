import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Forbidden, ValidationError } from '../../domain/errors.ts';
import { formMessage } from './shared.ts';
import {
  describeScope,
  displayIp,
  expiresAtFrom,
  fieldList,
  fieldText,
  formatDate,
  formatDateTime,
  keyFlags,
  lines,
  noticeFor,
  relativeTime,
  scopeOptions,
} from './view-models.ts';

const DAY = 86_400_000;
const NOW = Date.parse('2026-11-27T12:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

describe('dashboard view models', () => {
  it('formats dates in UTC, the same for every reader', () => {
    assert.equal(formatDate('2026-01-05T23:59:00.000Z'), '5 Jan 2026');
    assert.equal(formatDateTime(Date.parse('2026-11-27T09:05:00.000Z')), '27 Nov 2026, 09:05 UTC');
  });

  it('says how long ago (or until) in words', () => {
    assert.equal(relativeTime(NOW - 10_000, NOW), 'just now');
    assert.equal(relativeTime(NOW - 60_000, NOW), '1 minute ago');
    assert.equal(relativeTime(NOW - 5 * 3_600_000, NOW), '5 hours ago');
    assert.equal(relativeTime(NOW - 3 * DAY, NOW), '3 days ago');
    assert.equal(relativeTime(NOW + 2 * DAY, NOW), 'in 2 days');
    assert.equal(relativeTime(NOW - 400 * DAY, NOW), '13 months ago');
  });

  describe('key flags', () => {
    const key = (o: Partial<Parameters<typeof keyFlags>[0]> = {}) => ({
      status: 'active' as const,
      created_at: iso(NOW - DAY),
      expires_at: null,
      replaced_by: null,
      grace_until: null,
      ...o,
    });

    it('a fresh key without expiry is Active with no flags', () => {
      const { badge, flags } = keyFlags(key(), NOW);
      assert.equal(badge.label, 'Active');
      assert.deepEqual(flags, []);
    });

    it('flags a key that expires within 14 days, not one that expires later', () => {
      assert.deepEqual(
        keyFlags(key({ expires_at: iso(NOW + 5 * DAY) }), NOW).flags.map((f) => f.label),
        ['Expires in 5 days'],
      );
      assert.deepEqual(
        keyFlags(key({ expires_at: iso(NOW + 14 * DAY) }), NOW).flags.map((f) => f.label),
        ['Expires in 14 days'],
      );
      assert.deepEqual(
        keyFlags(key({ expires_at: iso(NOW + 3_600_000) }), NOW).flags.map((f) => f.label),
        ['Expires within a day'],
      );
      assert.deepEqual(keyFlags(key({ expires_at: iso(NOW + 15 * DAY) }), NOW).flags, []);
    });

    it('flags a key older than 90 days: keys are to be rotated every 90 days', () => {
      const { flags } = keyFlags(key({ created_at: iso(NOW - 91 * DAY) }), NOW);
      assert.deepEqual(
        flags.map((f) => f.label),
        ['Rotate: older than 90 days'],
      );
      assert.match(flags[0]!.detail, /91 days ago/);
      assert.deepEqual(keyFlags(key({ created_at: iso(NOW - 89 * DAY) }), NOW).flags, []);
    });

    it('does not flag keys that no longer work, or one already being replaced', () => {
      const old = iso(NOW - 200 * DAY);
      assert.equal(keyFlags(key({ status: 'revoked', created_at: old }), NOW).badge.label, 'Revoked');
      assert.deepEqual(keyFlags(key({ status: 'revoked', created_at: old }), NOW).flags, []);
      assert.equal(keyFlags(key({ status: 'expired' }), NOW).badge.label, 'Expired');
      const rotating = keyFlags(key({ created_at: old, replaced_by: 'abc', grace_until: iso(NOW + DAY) }), NOW);
      assert.equal(rotating.badge.label, 'Rotating');
      assert.deepEqual(rotating.flags, []);
    });
  });

  describe('expiration choice', () => {
    it('never, 30, 60 and 90 days', () => {
      assert.deepEqual(expiresAtFrom('never', '', NOW), { expires_at: null });
      assert.deepEqual(expiresAtFrom('30', '', NOW), { expires_at: iso(NOW + 30 * DAY) });
      assert.deepEqual(expiresAtFrom('60', '', NOW), { expires_at: iso(NOW + 60 * DAY) });
      assert.deepEqual(expiresAtFrom('90', '', NOW), { expires_at: iso(NOW + 90 * DAY) });
    });

    it('a date means the end of that day (UTC); past, missing or malformed dates are refused', () => {
      assert.deepEqual(expiresAtFrom('date', '2027-03-01', NOW), { expires_at: '2027-03-01T23:59:59.000Z' });
      assert.ok('error' in expiresAtFrom('date', '', NOW));
      assert.ok('error' in expiresAtFrom('date', '2026-02-30x', NOW));
      assert.ok('error' in expiresAtFrom('date', '2020-01-01', NOW));
      assert.ok('error' in expiresAtFrom('45', '', NOW));
    });
  });

  it('reads form fields sent once or many times', () => {
    assert.deepEqual(fieldList('read:users'), ['read:users']);
    assert.deepEqual(fieldList(['a', 'b', 3]), ['a', 'b']);
    assert.deepEqual(fieldList(undefined), []);
    assert.equal(fieldText(['x', 'y']), 'y');
    assert.equal(fieldText(42), '');
  });

  it('splits a textarea into entries: one per line, commas too, blanks dropped', () => {
    assert.deepEqual(lines(' 10.0.0.0/8 \r\n\n192.168.1.1, 2001:db8::/32\n'), [
      '10.0.0.0/8',
      '192.168.1.1',
      '2001:db8::/32',
    ]);
    assert.deepEqual(lines('   '), []);
  });

  it('offers every scope with its documented description; admin:all only to admins', () => {
    const options = scopeOptions(false, ['read:users']);
    assert.equal(options.find((o) => o.name === 'read:users')!.description, 'Read user information');
    assert.equal(options.find((o) => o.name === 'read:users')!.checked, true);
    assert.equal(options.find((o) => o.name === 'write:projects')!.description, 'Create/update projects');
    assert.equal(options.find((o) => o.name === 'admin:all')!.disabled, true);
    assert.equal(scopeOptions(true).find((o) => o.name === 'admin:all')!.disabled, false);
    assert.equal(describeScope('delete:users'), 'Delete users');
    assert.equal(describeScope('something:else'), 'something:else');
  });

  it('shows IPv4-mapped addresses as IPv4', () => {
    assert.equal(displayIp('::ffff:127.0.0.1'), '127.0.0.1');
    assert.equal(displayIp('2001:db8::1'), '2001:db8::1');
    assert.equal(displayIp('10.1.2.3'), '10.1.2.3');
  });

  it('notices are fixed texts: unknown codes show nothing (no reflected input)', () => {
    assert.match(noticeFor('key-revoked')!, /revoked/);
    assert.equal(noticeFor('<script>'), null);
    assert.equal(noticeFor('constructor'), null);
  });

  it('phrases service errors with the field names people see', () => {
    assert.equal(
      formMessage(
        new ValidationError('allowed_ips.1: each entry must be an IPv4/IPv6 address or CIDR', 'allowed_ips.1'),
      ),
      'IP allowlist, line 2: each entry must be an IPv4/IPv6 address or CIDR',
    );
    assert.equal(formMessage(new ValidationError('url: must use https', 'url')), 'Endpoint URL: must use https');
    assert.equal(formMessage(new Forbidden('Only admin accounts may ...')), 'Only admin accounts may ...');
  });

  it('takes the field from the refusal, never from the words of its message', () => {
    // A message that merely looks like "field: ..." names no field: it is shown as it is.
    assert.equal(formMessage(new ValidationError('name: looks like a field')), 'name: looks like a field');
    // A field the form has no label for keeps the message as it is.
    assert.equal(formMessage(new ValidationError('code: not right', 'code')), 'code: not right');
  });
});
