import argon2 from 'argon2';

export interface PasswordParams {
  memoryCost: number;
  timeCost: number;
}

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
  const dummy = argon2.hash('latchkey-timing-equaliser', options);
  return {
    hash: (password: string) => argon2.hash(password, options),
    async verify(hash: string | undefined, password: string): Promise<boolean> {
      try {
        const ok = await argon2.verify(hash ?? (await dummy), password);
        return hash !== undefined && ok;
      } catch {
        return false;
      }
    },
  };
}
export type PasswordHasher = ReturnType<typeof createPasswordHasher>;
