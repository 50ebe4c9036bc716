import type { Account } from '../domain/account.ts';

/**
 * The claims each OpenID scope releases (OpenID Connect Core §5.4), limited to what Latchkey
 * holds about a person: no address, phone, picture or locale is invented. The ID token and
 * /oauth/userinfo both answer from this one table.
 */
export const SCOPE_CLAIMS = {
  openid: ['sub'],
  profile: ['name', 'updated_at'],
  email: ['email', 'email_verified'],
} as const satisfies Record<string, readonly string[]>;

/** Claims about the sign-in itself: in every ID token, never at userinfo (they describe a session). */
export const SIGN_IN_CLAIMS = ['auth_time', 'acr', 'amr'] as const;

/** Every claim about the person an application may be given (by scope or by the `claims` parameter). */
export const PERSON_CLAIMS: ReadonlySet<string> = new Set(Object.values(SCOPE_CLAIMS).flat());

/** The standard claims of an account, by claim name; a claim with no value is left out. */
export function accountClaims(account: Account): { sub: string; [claim: string]: unknown } {
  return {
    sub: account.id,
    ...(account.name ? { name: account.name } : {}),
    updated_at: Math.floor(account.updatedAt / 1000),
    email: account.email,
    email_verified: account.emailVerified,
  };
}

/**
 * What /oauth/userinfo answers: `sub` always, plus the claims of the OpenID scopes and the single
 * claims (the `claims` request parameter) the person granted the application.
 */
export function releasedClaims(
  account: Account,
  grant: { scopes: readonly string[]; claims: readonly string[] },
): Record<string, unknown> {
  const allowed = new Set<string>(['sub']);
  for (const scope of grant.scopes) {
    if (Object.hasOwn(SCOPE_CLAIMS, scope))
      for (const c of SCOPE_CLAIMS[scope as keyof typeof SCOPE_CLAIMS]) allowed.add(c);
  }
  for (const claim of grant.claims) if (PERSON_CLAIMS.has(claim)) allowed.add(claim);
  return Object.fromEntries(Object.entries(accountClaims(account)).filter(([name]) => allowed.has(name)));
}

/**
 * How a person signed in, as RFC 8176 authentication method references: `pwd` a password, `otp`
 * a one-time code (TOTP or a recovery code), `hwk` a hardware-bound key (a passkey). A sign-in
 * step records the methods it checked; adding a method is adding it here and in that step.
 */
export type SignInMethod = 'pwd' | 'otp' | 'hwk';

/**
 * Which kinds of factor each method proves (something known, held, or that one is). A passkey is
 * accepted only with user verification (the device's PIN or biometric): it proves two kinds.
 */
const FACTORS: Record<SignInMethod, ReadonlyArray<'knowledge' | 'possession' | 'inherence'>> = {
  pwd: ['knowledge'],
  otp: ['possession'],
  hwk: ['possession', 'inherence'],
};

const isSignInMethod = (m: string): m is SignInMethod => Object.hasOwn(FACTORS, m);

/**
 * The `acr` of a sign-in: "1" for one kind of factor, "2" for two or more (a password and a code),
 * the levels Keycloak and most relying parties' step-up checks use.
 */
export function acrOf(amr: readonly SignInMethod[]): string {
  return new Set(amr.flatMap((m) => FACTORS[m])).size >= 2 ? '2' : '1';
}

/** The login result an interaction hands oidc-provider: who signed in, how, and at what level. */
export function signedIn(accountId: string, amr: SignInMethod[]): { accountId: string; amr: string[]; acr: string } {
  return { accountId, amr, acr: acrOf(amr) };
}

/** The methods a stored record names (a dashboard session's `amr`), known ones only. */
export function signInMethods(recorded: readonly string[]): SignInMethod[] {
  return recorded.filter(isSignInMethod);
}
