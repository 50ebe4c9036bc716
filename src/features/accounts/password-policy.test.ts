import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ValidationError } from '../../domain/errors.ts';
import { createPasswordPolicy } from './password-policy.ts';

// The password rule without a server: length in characters, zxcvbn's score, the person's own words.

const owner = { email: 'alice.smith@example.com', name: 'Alice Smith' };

/** The ValidationError a check throws (fails when it accepts). */
async function refusal(check: Promise<string>): Promise<ValidationError> {
  try {
    await check;
  } catch (err) {
    assert.ok(err instanceof ValidationError, String(err));
    return err;
  }
  assert.fail('the password was accepted');
}

describe('password policy', () => {
  const policy = createPasswordPolicy();

  it('counts characters as a person does: 9 emoji are too short, 10 are long enough to be scored', async () => {
    const nine = '🔑🌵🎲🚲🧭🪁🎻🦉🍋';
    assert.equal(nine.length, 18, 'UTF-16 units, more than the minimum');
    const short = await refusal(policy.check(nine, owner));
    assert.equal(short.field, 'password');
    assert.equal(short.message, 'Password must be at least 10 characters');
    const ten = await policy.check(`${nine}🐙`, owner).catch((err: Error) => err);
    assert.ok(!(ten instanceof Error) || !/at least 10/.test(ten.message), 'ten characters pass the length rule');
  });

  it('refuses more than 256 characters', async () => {
    const long = await refusal(policy.check('q'.repeat(257), owner));
    assert.equal(long.message, 'Password must be at most 256 characters');
  });

  it('refuses what zxcvbn scores below 3 and accepts a passphrase of uncommon words', async () => {
    for (const weak of ['password123', 'qwertyuiop', 'iloveyou2024', 'hunter2hunter2', 'aaaaaaaaaaaa']) {
      assert.match((await refusal(policy.check(weak, owner))).message, /^Choose a stronger password: /, weak);
    }
    assert.equal(await policy.check('quartz lantern orbit mosaic', owner), 'quartz lantern orbit mosaic');
  });

  it("refuses the person's email, its parts and their name, and says so", async () => {
    for (const own of ['alice.smith@example.com', 'alice.smith2024', 'Alice Smith 1990', 'example.com!!']) {
      const err = await refusal(policy.check(own, owner));
      assert.match(err.message, /^Choose a stronger password: it contains your email address or name\. /, own);
    }
  });

  it('names the field it was given: the change form says "new password"', async () => {
    const err = await refusal(policy.check('qwertyuiop', owner, 'new_password'));
    assert.equal(err.field, 'new_password');
    assert.match(err.message, /^Choose a stronger new password: it is one of the most common passwords\. /);
    const short = await refusal(policy.check('short', owner, 'new_password'));
    assert.equal(short.message, 'New password must be at least 10 characters');
  });
});
