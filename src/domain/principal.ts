import { Forbidden, NotFound, NotYours } from './errors.ts';
import type { Credential } from './credential.ts';
import { ADMIN_SCOPE, ALL_API_SCOPES, hasScopes } from './scopes.ts';

/**
 * How the caller authenticated: an API key, a user's OAuth access token, a shared-secret JWT, the
 * dashboard session (cookie or signed-in page), or an application acting for its owner
 * (client_credentials).
 */
export type PrincipalKind = 'api_key' | 'oauth' | 'jwt' | 'session' | 'client';

/** What an account may hold now (null: the account no longer exists). */
export interface AccountRights {
  isAdmin: boolean;
}

/**
 * The one caller every route, page and service asks: who (account, client), with which scopes
 * *now*, and whether it may act on someone's resource. Built only by `principalFrom` (bearer
 * credentials, through the authenticate step) and `sessionPrincipal` (browser pages and the
 * dashboard cookie).
 */
export interface Principal {
  readonly kind: PrincipalKind;
  /** The API's name for the method (/v2/auth/test, introspection): a client's token is an OAuth token. */
  readonly method: 'api_key' | 'oauth' | 'jwt' | 'session';
  /** Who the credential names: a user id, a client id (client_credentials) or a JWT `sub`. */
  readonly subject: string;
  /** The Latchkey account whose resources it acts on; null for a JWT naming no account. */
  readonly accountId: string | null;
  /** The OAuth client the token was issued to. */
  readonly clientId: string | null;
  /** The credential's own id: API key id, token id or hash, JWT id, session id hash. */
  readonly credentialId: string;
  /** Scopes as granted when the credential was issued (never used to decide anything). */
  readonly granted: readonly string[];
  /** Effective scopes: granted ∩ what the account may hold now. Every decision uses these. */
  readonly scopes: readonly string[];
  /** Epoch ms, or null for a credential that does not expire. */
  readonly expiresAt: number | null;
  /** An API key's own rate limit, when it carries one. */
  readonly rateLimit: { hourly: number; burst: number } | null;
  /** admin:all, effective now. */
  readonly isAdmin: boolean;
  /** Holds every one of these scopes (admin:all holds all). */
  can(...scopes: readonly string[]): boolean;
  /** The scopes of `wanted` it does not hold (empty when it holds them all). */
  lacking(wanted: readonly string[]): string[];
  /**
   * `resource` when the caller may act on it: it is the caller's own, or the caller holds
   * admin:all. Anyone else gets the same 403 (the documented body) whether the resource is someone
   * else's or does not exist (`undefined`), so the answer never says which ids exist; admin:all
   * gets 404 NOT_FOUND ("<what> not found") for one that does not exist.
   */
  ownedOrAdmin<T>(resource: T | undefined, ownerOf: (resource: T) => string, what: string): T;
  /** The account it acts for, or 403 for a credential bound to none. */
  requireAccount(): string;
}

/** The API scopes an account may hold: everything but admin:all, or admin:all (which implies the rest). */
export function heldScopes(rights: AccountRights): string[] {
  return rights.isAdmin ? [ADMIN_SCOPE] : ALL_API_SCOPES.filter((s) => s !== ADMIN_SCOPE);
}

/**
 * granted ∩ what the account may hold now: admin:all only while it is an admin, nothing once it is
 * gone. Scopes that are not API scopes (a JWT's own vocabulary) grant nothing here and pass through.
 */
export function effectiveScopes(granted: readonly string[], rights: AccountRights | null): string[] {
  if (!rights) return [];
  return rights.isAdmin ? [...granted] : granted.filter((s) => s !== ADMIN_SCOPE);
}

type PrincipalFields = Omit<Principal, 'can' | 'lacking' | 'ownedOrAdmin' | 'requireAccount' | 'isAdmin' | 'method'>;

/**
 * A class rather than an object of closures: one is built per authenticated request, and methods
 * on the prototype cost nothing to build. Frozen, as every Principal is.
 */
class FrozenPrincipal implements Principal {
  readonly kind: PrincipalKind;
  readonly method: Principal['method'];
  readonly subject: string;
  readonly accountId: string | null;
  readonly clientId: string | null;
  readonly credentialId: string;
  readonly granted: readonly string[];
  readonly scopes: readonly string[];
  readonly expiresAt: number | null;
  readonly rateLimit: { hourly: number; burst: number } | null;
  readonly isAdmin: boolean;

  constructor(p: PrincipalFields) {
    this.kind = p.kind;
    this.method = p.kind === 'client' ? 'oauth' : p.kind;
    this.subject = p.subject;
    this.accountId = p.accountId;
    this.clientId = p.clientId;
    this.credentialId = p.credentialId;
    this.granted = p.granted;
    this.scopes = p.scopes;
    this.expiresAt = p.expiresAt;
    this.rateLimit = p.rateLimit;
    this.isAdmin = p.scopes.includes(ADMIN_SCOPE);
    Object.freeze(this);
  }

  can(...wanted: readonly string[]): boolean {
    return hasScopes(this.scopes, wanted);
  }

  lacking(wanted: readonly string[]): string[] {
    return this.isAdmin ? [] : wanted.filter((s) => !this.scopes.includes(s));
  }

  ownedOrAdmin<T>(resource: T | undefined, ownerOf: (resource: T) => string, what: string): T {
    if (resource === undefined) throw this.isAdmin ? new NotFound(what) : new NotYours();
    if (!this.isAdmin && (this.accountId === null || ownerOf(resource) !== this.accountId)) throw new NotYours();
    return resource;
  }

  requireAccount(): string {
    if (!this.accountId) throw new Forbidden('This credential is not bound to a Latchkey account');
    return this.accountId;
  }
}

const makePrincipal = (p: PrincipalFields): Principal => new FrozenPrincipal(p);

/**
 * A bearer credential's principal. `rights` are the rights of the account it names, read now:
 * `undefined` when it names none (a JWT for a service that is not a Latchkey account: the trusted
 * signer's own scopes apply), `null` when that account is gone (it then holds nothing).
 */
export function principalFrom(credential: Credential, rights: AccountRights | null | undefined): Principal {
  const bound = rights !== undefined && credential.userId !== null;
  return makePrincipal({
    kind:
      credential.method === 'oauth' && credential.clientId && credential.subject === credential.clientId
        ? 'client'
        : credential.method,
    subject: credential.subject,
    accountId: bound && rights ? credential.userId : null,
    clientId: credential.clientId ?? null,
    credentialId: credential.id,
    granted: credential.scopes,
    scopes: rights === undefined ? [...credential.scopes] : effectiveScopes(credential.scopes, rights),
    expiresAt: credential.expiresAt,
    rateLimit: credential.rateLimit ?? null,
  });
}

/** A signed-in browser's principal (pages and the dashboard cookie): the account's rights, as they are now. */
export function sessionPrincipal(account: { id: string; isAdmin: boolean }, sessionIdHash = ''): Principal {
  const scopes = heldScopes(account);
  return makePrincipal({
    kind: 'session',
    subject: account.id,
    accountId: account.id,
    clientId: null,
    credentialId: sessionIdHash,
    granted: scopes,
    scopes,
    expiresAt: null,
    rateLimit: null,
  });
}
