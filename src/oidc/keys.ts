import crypto from 'node:crypto';
import type { JWK } from 'oidc-provider';
import type { ServerSecretsRepo } from './server-secrets.repo.ts';
import type { TransactionalEvent } from '../features/webhooks/outbox.repo.ts';

export interface ServerKeys {
  /** Private signing JWKs (RS256 first: the most widely supported; ES256 beside it). */
  jwks: { keys: JWK[] };
  /** Keys that sign cookies; the first signs, all verify (room for rotation). */
  cookieKeys: string[];
  /**
   * Keys the pairwise subject identifiers (oidc/pairwise.ts): without it, nobody can tell which
   * account a pairwise `sub` names, nor compute another application's `sub` for the same person.
   */
  pairwiseKey: string;
  /**
   * 32 bytes that DPoP server nonces are derived from (oidc-provider's `features.dPoP.nonceSecret`):
   * one stored secret, so a nonce one instance hands out is accepted by every other.
   */
  dpopNonceKey: Buffer;
}

function signingKey(kind: 'rsa' | 'ec', alg: string): JWK {
  const { privateKey } =
    kind === 'rsa'
      ? crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
      : crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = privateKey.export({ format: 'jwk' }) as JWK;
  return { ...jwk, kid: crypto.randomUUID(), alg, use: 'sig' };
}

/**
 * Loads the signing and cookie keys, generating and persisting them on the very first start so
 * that tokens and cookies stay valid across restarts and across processes sharing the database.
 */
export async function loadServerKeys(repo: ServerSecretsRepo, now: number): Promise<ServerKeys> {
  const jwks = await repo.putIfAbsent(
    'jwks',
    (await repo.get('jwks')) ?? JSON.stringify({ keys: [signingKey('rsa', 'RS256'), signingKey('ec', 'ES256')] }),
    now,
  );
  const cookieKeys = await repo.putIfAbsent(
    'cookie_keys',
    (await repo.get('cookie_keys')) ?? JSON.stringify([crypto.randomBytes(32).toString('base64url')]),
    now,
  );
  const pairwiseKey = await repo.putIfAbsent(
    'pairwise_key',
    (await repo.get('pairwise_key')) ?? crypto.randomBytes(32).toString('base64url'),
    now,
  );
  const dpopNonceKey = await repo.putIfAbsent(
    'dpop_nonce_key',
    (await repo.get('dpop_nonce_key')) ?? crypto.randomBytes(32).toString('base64url'),
    now,
  );
  return {
    jwks: { keys: parseStoredJwks(jwks).keys },
    cookieKeys: JSON.parse(cookieKeys) as string[],
    pairwiseKey,
    dpopNonceKey: Buffer.from(dpopNonceKey, 'base64url'),
  };
}

/**
 * The signing keys as stored under `jwks`: every key published at /oauth/jwks, newest first (the
 * first key of an algorithm signs), and when each former signing key was retired (epoch ms).
 */
export interface StoredJwks {
  keys: JWK[];
  retired?: Record<string, number>;
  /** When each key was made by a rotation (epoch ms); the keys of the first start are not listed. */
  created?: Record<string, number>;
}

export function parseStoredJwks(text: string): StoredJwks {
  const parsed = JSON.parse(text) as StoredJwks;
  if (!Array.isArray(parsed.keys)) throw new Error('stored jwks has no keys');
  return parsed;
}

export interface Rotation {
  stored: StoredJwks;
  /** The new RS256 key: it signs access tokens (ACCESS_TOKEN_FORMAT=jwt) and ID tokens. */
  kid: string;
  /** Every new key (RS256 and ES256). */
  added: Array<{ kid: string; alg: string }>;
  /** Former signing keys still published, so tokens they signed keep verifying until they expire. */
  retired: Array<{ kid: string; alg: string; retired_at: string }>;
  /** Keys retired longer ago than the longest token lifetime: no longer published. */
  dropped: string[];
}

/**
 * A rotation, as a pure function of the stored keys and the time: new RS256 and ES256 keys go
 * first; the keys that signed until now are marked retired and stay published; keys retired more
 * than `keepRetiredMs` ago (the longest lifetime of a token they could have signed) are dropped.
 */
export function rotateJwks(current: StoredJwks, now: number, keepRetiredMs: number): Rotation {
  const retiredAt: Record<string, number> = { ...current.retired };
  for (const key of current.keys) if (key.kid && retiredAt[key.kid] === undefined) retiredAt[key.kid] = now;
  const fresh = [signingKey('rsa', 'RS256'), signingKey('ec', 'ES256')];
  const kept = current.keys.filter((k) => now - (retiredAt[k.kid!] ?? now) <= keepRetiredMs);
  const dropped = current.keys.filter((k) => !kept.includes(k)).map((k) => k.kid!);
  const createdAt: Record<string, number> = { ...current.created };
  for (const kid of dropped) {
    delete retiredAt[kid];
    delete createdAt[kid];
  }
  for (const key of fresh) createdAt[key.kid!] = now;
  return {
    stored: { keys: [...fresh, ...kept], retired: retiredAt, created: createdAt },
    kid: fresh[0]!.kid!,
    added: fresh.map((k) => ({ kid: k.kid!, alg: k.alg! })),
    retired: kept.map((k) => ({
      kid: k.kid!,
      alg: String(k.alg),
      retired_at: new Date(retiredAt[k.kid!]!).toISOString(),
    })),
    dropped,
  };
}

/**
 * `latchkey keys rotate-signing`: rotates the stored signing keys (see rotateJwks). A concurrent
 * rotation is detected (compare-and-set) and this one redone on top of it. Running servers load
 * keys at start: restart them to sign with the new key. `recordOf` names what is written with the
 * new keys, in their transaction (the audit record of the rotation).
 */
export async function rotateSigningKeys(
  repo: ServerSecretsRepo,
  now: number,
  keepRetiredMs: number,
  recordOf: (rotation: Rotation) => TransactionalEvent[] = () => [],
): Promise<Rotation> {
  for (let tries = 0; tries < 5; tries++) {
    if ((await repo.get('jwks')) === undefined) await loadServerKeys(repo, now); // a database no server has started on
    const text = (await repo.get('jwks'))!;
    const rotation = rotateJwks(parseStoredJwks(text), now, keepRetiredMs);
    if (await repo.compareAndSet('jwks', text, JSON.stringify(rotation.stored), recordOf(rotation))) return rotation;
  }
  throw new Error('the signing keys kept changing under this rotation; try again');
}
