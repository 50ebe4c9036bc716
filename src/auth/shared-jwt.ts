import crypto from 'node:crypto';
import jwt from 'jsonwebtoken';
import { sha256 } from '../shared/secrets.ts';
import type { Credential } from '../domain/credential.ts';

export interface SharedJwtOptions {
  secret: string;
  issuer: string;
  /** Seconds; tokens whose exp - iat, or exp - now, is longer are refused. */
  maxLifetime: number;
  now(): number;
}

/** How far a JWT's iat may be ahead of our clock (the signer's clock may run a little fast). Seconds. */
const IAT_LEEWAY_S = 60;

/** Scopes from a `scopes` array (the documented shape) or an RFC 8693 `scope` string. */
function scopesOf(payload: jwt.JwtPayload): string[] | null {
  if (Array.isArray(payload['scopes'])) {
    return payload['scopes'].every((s) => typeof s === 'string') ? (payload['scopes'] as string[]) : null;
  }
  if (typeof payload['scope'] === 'string') return payload['scope'].split(' ').filter(Boolean);
  if (payload['scopes'] === undefined && payload['scope'] === undefined) return [];
  return null;
}

/**
 * Shared-secret JWTs, as services sign them with jsonwebtoken: HS256 only (never
 * `none`, never an asymmetric algorithm a forger could pick), `iss` equal to JWT_ISSUER, `exp` and
 * `sub` required, lifetime capped. The secret is a KeyObject made once: jsonwebtoken re-imports a
 * Buffer key on every call, which costs ~50x more.
 */
export function createSharedJwtVerifier(opts: SharedJwtOptions) {
  const key = crypto.createSecretKey(Buffer.from(opts.secret, 'utf8'));
  return {
    /** The credential, or null when the token is not one we accept (the caller answers 401). */
    verify(token: string): Credential | null {
      let payload: jwt.JwtPayload;
      try {
        const decoded = jwt.verify(token, key, {
          algorithms: ['HS256'],
          issuer: opts.issuer,
          clockTimestamp: Math.floor(opts.now() / 1000),
          clockTolerance: 5,
        });
        if (typeof decoded === 'string') return null;
        payload = decoded;
      } catch {
        return null;
      }
      const nowS = Math.floor(opts.now() / 1000);
      if (typeof payload.exp !== 'number' || typeof payload.sub !== 'string' || !payload.sub) return null;
      // The signer chooses iat: a token "issued" later than now could claim any lifetime. So iat may
      // run ahead of our clock only by the skew we tolerate, and the cap is measured from now too.
      if (typeof payload.iat === 'number' && payload.iat > nowS + IAT_LEEWAY_S) return null;
      if (payload.exp - nowS > opts.maxLifetime) return null;
      if (payload.exp - (typeof payload.iat === 'number' ? payload.iat : nowS) > opts.maxLifetime) return null;
      const scopes = scopesOf(payload);
      if (!scopes) return null;
      return {
        method: 'jwt',
        subject: payload.sub,
        scopes,
        expiresAt: payload.exp * 1000,
        id: typeof payload.jti === 'string' ? payload.jti : sha256(token),
        // A `sub` in Latchkey's id format claims that account: the JWT then holds at most its rights.
        userId: payload.sub.startsWith('usr_') ? payload.sub : null,
      };
    },
    /** Signs a token as a trusted service would (the CLI's `jwt sign`). */
    sign(claims: { sub: string; scopes: string[]; name?: string }, expiresInSeconds: number): string {
      return jwt.sign(claims, key, { algorithm: 'HS256', expiresIn: expiresInSeconds, issuer: opts.issuer });
    },
  };
}
export type SharedJwtVerifier = ReturnType<typeof createSharedJwtVerifier>;
