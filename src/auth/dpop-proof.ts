import crypto from 'node:crypto';
import { EmbeddedJWK, calculateJwkThumbprint, jwtVerify, type JWK } from 'jose';

import { DPOP_SIGNING_ALGS } from '../domain/dpop.ts';

export { DPOP_SIGNING_ALGS };

/**
 * How far a proof's `iat` may be from the server's clock, seconds, either way (RFC 9449 §11.1):
 * without a server nonce this is how long a captured proof could be replayed, were it not for
 * the `jti` record, which is kept at least this long past `iat`.
 */
export const DPOP_PROOF_WINDOW_S = 300;

/** Why a proof was refused (RFC 9449 §7.1: `invalid_dpop_proof`). */
export class DpopProofRefused extends Error {}

export interface DpopProofDeps {
  /**
   * Records that a proof id was seen, until `expiresAt` (epoch ms); false when it already was: a
   * replay. Shared by every instance (the database), so a proof cannot be replayed on another.
   */
  recordProofId(idHash: string, expiresAt: number): Promise<boolean>;
  now(): number;
}

/** The request a proof must be for: its method, its URL (from ISSUER, never Host) and the token it carries. */
export interface DpopRequest {
  proof: string;
  method: string;
  url: string;
  accessToken: string;
}

/** `htu` and the request's URL, compared without query and fragment (RFC 9449 §4.3 check 9). */
function sameTarget(htu: unknown, url: string): boolean {
  if (typeof htu !== 'string' || !URL.canParse(htu)) return false;
  const claimed = new URL(htu);
  const actual = new URL(url);
  for (const u of [claimed, actual]) {
    u.search = '';
    u.hash = '';
  }
  return claimed.href === actual.href;
}

/**
 * Checks a DPoP proof presented to a resource server with an access token (RFC 9449 §4.3 and §7)
 * and answers the JWK thumbprint of its key, which the token's `cnf.jkt` must equal. jose checks
 * the signature with the proof's own embedded key, that the key is public and the header's `typ`;
 * the claims are checked here: `htm`, `htu`, `iat` within the window, `ath` (the token's hash),
 * and `jti` recorded once.
 */
export function createDpopProofVerifier(deps: DpopProofDeps) {
  return async function verify(req: DpopRequest): Promise<string> {
    let payload: Record<string, unknown>;
    let jwk: JWK;
    try {
      const verified = await jwtVerify(req.proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: [...DPOP_SIGNING_ALGS] });
      payload = verified.payload;
      jwk = verified.protectedHeader.jwk!;
    } catch {
      throw new DpopProofRefused('DPoP proof is not a valid dpop+jwt signed with its embedded public key');
    }
    if (payload['htm'] !== req.method) throw new DpopProofRefused('DPoP proof htm does not match the request method');
    if (!sameTarget(payload['htu'], req.url))
      throw new DpopProofRefused('DPoP proof htu does not match the request URL');
    const iat = payload['iat'];
    const nowS = Math.floor(deps.now() / 1000);
    if (typeof iat !== 'number' || Math.abs(nowS - iat) > DPOP_PROOF_WINDOW_S) {
      throw new DpopProofRefused('DPoP proof iat is not recent');
    }
    const ath = crypto.hash('sha256', req.accessToken, 'base64url');
    if (payload['ath'] !== ath) throw new DpopProofRefused('DPoP proof ath does not match the access token');
    const jti = payload['jti'];
    if (typeof jti !== 'string' || jti.length === 0 || jti.length > 256) {
      throw new DpopProofRefused('DPoP proof has no jti');
    }
    const thumbprint = await calculateJwkThumbprint(jwk);
    // Kept until the proof's iat leaves the window whichever way the clocks differ.
    const keepUntil = (Math.max(nowS, iat) + DPOP_PROOF_WINDOW_S) * 1000;
    const idHash = crypto.hash('sha256', `${thumbprint}.${jti}`, 'hex');
    if (!(await deps.recordProofId(idHash, keepUntil))) throw new DpopProofRefused('DPoP proof was already used');
    return thumbprint;
  };
}
export type DpopProofVerifier = ReturnType<typeof createDpopProofVerifier>;
