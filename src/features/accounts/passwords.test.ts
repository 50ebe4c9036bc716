import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import argon2 from 'argon2';
import { createPasswordHasher } from './passwords.ts';

// The password hasher on the real argon2 package, with its calls counted (argon2's own exports
// wrapped, nothing of ours replaced). Low cost parameters keep the hashes quick.
const params = { memoryCost: 1024, timeCost: 2 };

type Argon2 = { hash: typeof argon2.hash; verify: typeof argon2.verify };
const lib = argon2 as unknown as Argon2;
const original = { hash: lib.hash, verify: lib.verify };
afterEach(() => Object.assign(lib, original));

/** Counts argon2 hashes and records the digests verified against, from now on. */
function watchArgon2() {
  const seen = { hashes: 0, digests: [] as string[] };
  lib.hash = ((...args: Parameters<typeof argon2.hash>) => {
    seen.hashes++;
    return original.hash(...args);
  }) as typeof argon2.hash;
  lib.verify = (digest, password, options) => {
    seen.digests.push(digest);
    return original.verify(digest, password, options);
  };
  return seen;
}

describe('password hasher', () => {
  it('runs no argon2 hash when it is created', () => {
    const seen = watchArgon2();
    createPasswordHasher(params);
    assert.equal(seen.hashes, 0);
  });

  it('checks an unknown account with one argon2 verify at the configured cost, and refuses', async () => {
    const passwords = createPasswordHasher(params);
    const seen = watchArgon2();
    assert.equal(await passwords.verify(undefined, 'any password'), false);
    assert.equal(await passwords.verify(undefined, ''), false);
    assert.equal(seen.digests.length, 2);
    const digest = seen.digests[0]!;
    assert.match(digest, /^\$argon2id\$v=19\$/);
    // The same memory, time and parallelism as a stored password's digest: the same work.
    const options = { ...params, parallelism: 1 };
    assert.equal(argon2.needsRehash(digest, options), false);
    assert.equal(argon2.needsRehash(await passwords.hash('a password'), options), false);
  });

  it('accepts the right password and refuses a wrong one', async () => {
    const passwords = createPasswordHasher(params);
    const stored = await passwords.hash('correct horse battery staple');
    assert.equal(await passwords.verify(stored, 'correct horse battery staple'), true);
    assert.equal(await passwords.verify(stored, 'correct horse battery stapler'), false);
    assert.equal(await passwords.verify('!', 'correct horse battery staple'), false);
  });
});
