/**
 * A DPoP client for the tests (RFC 9449), written out by hand so each test can bend one claim of a
 * proof: a key pair, proofs for a method and URL (with `ath` for an access token), and token
 * requests that answer the server's nonce challenge once, as a client does.
 */
import crypto from 'node:crypto';
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';

export interface ProofOptions {
  accessToken?: string;
  nonce?: string;
  jti?: string;
  /** Epoch seconds (default: now). */
  iat?: number;
  /** The `typ` header (default dpop+jwt). */
  typ?: string;
}

export class DpopKey {
  /** The last DPoP-Nonce the server sent this client. */
  nonce: string | undefined;

  private constructor(
    readonly alg: string,
    private readonly privateKey: CryptoKey,
    readonly jwk: JWK,
    /** RFC 7638 thumbprint: what a bound token's cnf.jkt says. */
    readonly thumbprint: string,
  ) {}

  /** A key for `alg` (ES256, EdDSA or Ed25519: what the server advertises). */
  static async create(alg = 'ES256'): Promise<DpopKey> {
    const { privateKey, publicKey } = await generateKeyPair(alg);
    const jwk = await exportJWK(publicKey);
    return new DpopKey(alg, privateKey, jwk, await calculateJwkThumbprint(jwk));
  }

  /** A proof for `method url`, signed with the key's algorithm. */
  async proof(method: string, url: string, o: ProofOptions = {}): Promise<string> {
    return new SignJWT({
      htm: method,
      htu: url,
      jti: o.jti ?? crypto.randomUUID(),
      ...(o.accessToken ? { ath: crypto.hash('sha256', o.accessToken, 'base64url') } : {}),
      ...(o.nonce ? { nonce: o.nonce } : {}),
    })
      .setProtectedHeader({ alg: this.alg, typ: o.typ ?? 'dpop+jwt', jwk: this.jwk })
      .setIssuedAt(o.iat ?? Math.floor(Date.now() / 1000))
      .sign(this.privateKey);
  }

  /**
   * POSTs a form to an authorization server endpoint with a proof of this key and the nonce it
   * last got; a `use_dpop_nonce` answer is retried once with the nonce it carries.
   */
  async post(url: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      const res = await fetch(url, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/x-www-form-urlencoded',
          DPoP: await this.proof('POST', url, this.nonce ? { nonce: this.nonce } : {}),
          ...headers,
        },
        body: new URLSearchParams(form),
      });
      this.nonce = res.headers.get('DPoP-Nonce') ?? this.nonce;
      if (attempt > 0 || res.status !== 400) return res;
      const body = (await res.clone().json()) as { error?: string };
      if (body.error !== 'use_dpop_nonce') return res;
    }
  }
}

/** `Authorization: DPoP <token>` and a proof for `method url` by `key`. */
export async function dpopHeaders(
  key: DpopKey,
  method: string,
  url: string,
  token: string,
  o: Omit<ProofOptions, 'accessToken'> = {},
): Promise<Record<string, string>> {
  return { Authorization: `DPoP ${token}`, DPoP: await key.proof(method, url, { ...o, accessToken: token }) };
}
