import crypto from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { JWK } from 'oidc-provider';
import type { Logger } from 'pino';

/** The event a logout token carries (OpenID Connect Back-Channel Logout 1.0 §2.4). */
export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
/** A logout token is for now: an application should refuse one much older (§2.6). */
const LOGOUT_TOKEN_TTL = 120;

/** A sign-in (oidc-provider Session) that ended: whose, and the applications it signed in to. */
export interface EndedSignIn {
  accountId: string;
  /** By client id; `sid` is the session id that application's ID tokens named. */
  authorizations: Record<string, { sid?: string }>;
}

/** POSTs a form body to a URL through the SSRF guard (the webhook deliverer): ok, or why not. */
export type PostForm = (
  url: string,
  body: string,
  headers: Record<string, string>,
) => Promise<{ ok: boolean; error: string | null }>;

export interface BackchannelLogoutDeps {
  issuer: string;
  /** The private key that signs ID tokens: logout tokens are signed the same way. */
  signingKey: JWK;
  /** Where an application receives logout tokens, or undefined: none (or no such application). */
  logoutUriOf(clientId: string): Promise<string | undefined>;
  post: PostForm;
  logger: Logger;
  now(): number;
}

/**
 * Back-channel logout: when a sign-in ends (RP-initiated logout, the dashboard's Sign out,
 * "sign out all other sessions", a password change or reset, account deletion), every application
 * it signed in to that registered a `backchannel_logout_uri` receives a logout token. Sent at
 * once, in parallel, each with a short timeout: a logout token is only good for minutes, so a
 * durable retry queue would deliver stale tokens that applications must refuse. A failure is
 * logged and never fails the person's sign-out.
 */
export function createBackchannelLogout(deps: BackchannelLogoutDeps) {
  const { signingKey, logger } = deps;
  const key = crypto.createPrivateKey({ key: signingKey as crypto.JsonWebKey, format: 'jwk' });
  const alg = String(signingKey.alg) as jwt.Algorithm;

  /** A logout token for one application: `sub` and `sid` (when known), never a nonce. */
  function logoutToken(clientId: string, sub: string, sid: string | undefined): string {
    const iat = Math.floor(deps.now() / 1000);
    const claims = {
      iss: deps.issuer,
      aud: clientId,
      iat,
      exp: iat + LOGOUT_TOKEN_TTL,
      jti: crypto.randomUUID(),
      sub,
      ...(sid ? { sid } : {}),
      events: { [BACKCHANNEL_LOGOUT_EVENT]: {} },
    };
    // Signed as the shared-secret JWTs are (jsonwebtoken), with the ID tokens' key and algorithm.
    return jwt.sign(claims, key, { algorithm: alg, header: { alg, kid: signingKey.kid, typ: 'logout+jwt' } });
  }

  /** Sends one application its logout token; resolves whatever happens (a failure is logged). */
  async function send(target: { clientId: string; backchannelLogoutUri: string }, sub: string, sid?: string) {
    const body = new URLSearchParams({ logout_token: logoutToken(target.clientId, sub, sid) }).toString();
    try {
      const outcome = await deps.post(target.backchannelLogoutUri, body, {
        'content-type': 'application/x-www-form-urlencoded',
      });
      if (!outcome.ok) {
        logger.warn({ clientId: target.clientId, error: outcome.error }, 'back-channel logout not delivered');
      }
    } catch (err) {
      logger.warn({ clientId: target.clientId, err }, 'back-channel logout not delivered');
    }
  }

  /** Tells every application these sign-ins reached that they ended. */
  async function signInsEnded(signIns: EndedSignIn[]): Promise<void> {
    const sends = signIns.flatMap((signIn) =>
      Object.entries(signIn.authorizations).map(async ([clientId, { sid }]) => {
        const uri = await deps.logoutUriOf(clientId).catch(() => undefined);
        if (uri) await send({ clientId, backchannelLogoutUri: uri }, signIn.accountId, sid);
      }),
    );
    await Promise.allSettled(sends);
  }

  return { send, signInsEnded };
}
export type BackchannelLogout = ReturnType<typeof createBackchannelLogout>;

/** An oidc-provider Session as stored (or as the model holds it), as a sign-in that ended. */
export function endedSignInOf(session: unknown): EndedSignIn | null {
  const s = session as { accountId?: unknown; authorizations?: unknown } | null;
  if (!s || typeof s.accountId !== 'string') return null;
  const authorizations = s.authorizations && typeof s.authorizations === 'object' ? s.authorizations : {};
  return { accountId: s.accountId, authorizations: authorizations as EndedSignIn['authorizations'] };
}
