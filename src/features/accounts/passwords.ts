import { randomBytes } from 'node:crypto';
import argon2 from 'argon2';

export interface PasswordParams {
  memoryCost: number;
  timeCost: number;
}

/** argon2's output length (the package's default), so the stand-in digest is checked like a real one. */
const HASH_BYTES = 32;

/**
 * argon2id with explicit parameters (the package defaults cost ~10x more and would cap logins at
 * ~5/s on these machines). Verification reads the parameters from the stored hash, so raising
 * them later keeps old hashes valid.
 */
export function createPasswordHasher(params: PasswordParams) {
  const options = {
    type: argon2.argon2id as 2,
    memoryCost: params.memoryCost,
    timeCost: params.timeCost,
    parallelism: 1,
  };
  // Verified against when the email is unknown, so both paths cost one argon2 verify.
  const unknownAccount = standInDigest(options);
  return {
    hash: (password: string) => argon2.hash(password, options),
    async verify(hash: string | undefined, password: string): Promise<boolean> {
      try {
        const ok = await argon2.verify(hash ?? unknownAccount, password);
        return hash !== undefined && ok;
      } catch {
        return false;
      }
    },
  };
}
export type PasswordHasher = ReturnType<typeof createPasswordHasher>;

/**
 * An argon2id digest at these parameters whose salt and hash are random bytes. Verifying a
 * password against it costs what verifying against a real digest costs (argon2 runs over the
 * password with that salt and cost, then compares), and no password matches it. It is written
 * out rather than hashed at start-up because hashing there maps argon2's whole memory cost
 * (19 MiB by default) through malloc, and freeing that block raises glibc's mmap and trim
 * thresholds for the life of the process: the arenas then keep ~17 MiB of freed memory resident.
 */
function standInDigest(options: PasswordParams & { parallelism: number }): string {
  const b64 = (bytes: Buffer) => bytes.toString('base64').replace(/=+$/, '');
  const cost = `m=${options.memoryCost},p=${options.parallelism},t=${options.timeCost}`;
  return `$argon2id$v=19$${cost}$${b64(randomBytes(16))}$${b64(randomBytes(HASH_BYTES))}`;
}
