import crypto from 'node:crypto';
import type { JWK } from 'oidc-provider';
import type { ServerSecretsRepo } from './server-secrets.repo.ts';

export interface ServerKeys {
  /** Private signing JWKs (RS256 first: the most widely supported; ES256 beside it). */
  jwks: { keys: JWK[] };
  /** Keys that sign cookies; the first signs, all verify (room for rotation). */
  cookieKeys: string[];
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
  return { jwks: JSON.parse(jwks) as ServerKeys['jwks'], cookieKeys: JSON.parse(cookieKeys) as string[] };
}
