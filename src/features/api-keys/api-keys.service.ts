import type { Logger } from 'pino';
import type { Credential } from '../../domain/credential.ts';
import { Conflict, Forbidden, Unauthenticated, ValidationError } from '../../domain/errors.ts';
import { ipAllowed, parseCidr, type Cidr } from '../../domain/ip-ranges.ts';
import type { Principal } from '../../domain/principal.ts';
import type { ActivityQuery, ApiKeyView, CreateApiKeyInput, RotateApiKeyInput } from '../../wire/api-keys.ts';
import { readActivityPage, type ActivityPage } from './activity-page.ts';
import { safeEqual, sha256 } from '../../shared/secrets.ts';
import type { ApiKeyActivityRow, ApiKeyRow } from '../../db/schema.ts';
import type { ApiKeysRepo, ApiKeyAuthRow } from './api-keys.repo.ts';
import { MUST_WAIT } from '../../db/prepared.ts';
import { apiKeyIdOf, displayPrefix, hasApiKeyChecksum, mintApiKey, parseApiKey } from './key-format.ts';
import { createUsageRecorder, type UsageEntry } from './usage-recorder.ts';
import { buildEvent } from '../webhooks/events.ts';
import type { Audit } from '../audit/audit.ts';
import type { Provenance } from '../../domain/audit.ts';
import { createDoorkeeper } from '../../shared/doorkeeper.ts';
import { createTtlCache } from '../../shared/ttl-cache.ts';
import type { CredentialEvents } from '../../shared/credential-events.ts';
import type { Notify } from '../accounts/security-notices.ts';

/** A live key used from outside its allowlist: 403, but the key is known (activity, rate limit). */
export class AddressRefused extends Forbidden {
  constructor(readonly credential: Credential) {
    super('This API key may not be used from your IP address');
  }
}

/** An `expires_at` as epoch ms (null: never), refused unless it is in the future. */
function futureExpiry(expiresAt: string | null | undefined, t: number): number | null {
  const ms = expiresAt ? Date.parse(expiresAt) : null;
  if (ms !== null && ms <= t) throw new ValidationError('expires_at: must be in the future', 'expires_at');
  return ms;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** A rate limit: requests per hour, and per second. */
export interface KeyRateLimit {
  hourly: number;
  burst: number;
}

const rateLimitOf = (row: Pick<ApiKeyRow, 'rate_limit_hourly' | 'rate_limit_burst'>): KeyRateLimit | null =>
  row.rate_limit_hourly !== null && row.rate_limit_burst !== null
    ? { hourly: row.rate_limit_hourly, burst: row.rate_limit_burst }
    : null;

/**
 * What a process keeps of a key it looked up: the row's fields authentication reads, its JSON
 * already parsed and its rate limit made once (the limiter keeps a policy's windows per object),
 * and nothing else: 10,000 of these stay in the heap.
 */
interface CachedKey {
  /**
   * What a valid presentation of the key authenticates as, made once with the entry: every request
   * with the key answers the same object (frozen), so nothing is built per request and the
   * authenticate step can keep the principal it made from it (see createAuthenticator).
   */
  credential: Readonly<Credential>;
  secretHash: string;
  revokedAt: number | null;
  graceUntil: number | null;
  allowedIps: string[] | null;
  ranges: Cidr[] | null;
}
/**
 * One frozen value per distinct text, for what many keys share (their scopes, their rate limit):
 * a key read on a cache miss takes the shared value instead of a new one. The rate limiter keeps a
 * policy's windows per policy object, so a new object per miss built its windows again and added
 * a weak entry for the garbage collector; 10,000 cached keys held 10,000 copies of each. Bounded:
 * past `max` distinct texts a value is made afresh and not kept.
 */
function createSharedValues<T extends object>(max: number) {
  const shared = new Map<string, T>();
  return (text: string, make: () => T): T => {
    let value = shared.get(text);
    if (value === undefined) {
      value = Object.freeze(make());
      if (shared.size < max) shared.set(text, value);
    }
    return value;
  };
}

/** How many distinct scope lists and rate limits are shared (a deployment has a handful of each). */
const SHARED_MAX = 1000;

/** The remembered entry of a key's row, its scopes and rate limit shared with other keys'. */
function toCachedKeyWith(): (row: ApiKeyAuthRow) => CachedKey {
  const sharedScopes = createSharedValues<string[]>(SHARED_MAX);
  const sharedLimit = createSharedValues<KeyRateLimit>(SHARED_MAX);
  return (row) => {
    const allowedIps = row.allowed_ips ? (JSON.parse(row.allowed_ips) as string[]) : null;
    const hourly = row.rate_limit_hourly;
    const burst = row.rate_limit_burst;
    // The scopes as granted: the authenticate step intersects them with the owner's rights now.
    const credential: Credential = {
      method: 'api_key',
      subject: row.user_id,
      userId: row.user_id,
      scopes: sharedScopes(row.scopes, () => JSON.parse(row.scopes) as string[]),
      expiresAt: row.expires_at,
      id: row.id,
      rateLimit:
        hourly !== null && burst !== null ? sharedLimit(`${hourly}/${burst}`, () => ({ hourly, burst })) : null,
    };
    return {
      credential: Object.freeze(credential),
      secretHash: row.secret_hash,
      revokedAt: row.revoked_at,
      graceUntil: row.grace_until,
      allowedIps,
      ranges: allowedIps ? allowedIps.map(parseCidr).filter((r): r is Cidr => r !== null) : null,
    };
  };
}

/** How many keys a process remembers, and in how many bytes (CREDENTIAL_CACHE_TTL says for how long). */
const CACHE_MAX = 10_000;
const CACHE_MAX_BYTES = 8 * 1024 * 1024;
/** How many keys read once the doorkeeper tells apart before it forgets them all (3 caches' worth). */
const DOORKEEPER_CAPACITY = 3 * CACHE_MAX;

export function createApiKeysService(deps: {
  repo: ApiKeysRepo;
  now(): number;
  rotationGraceMs: number;
  activityRetentionMs: number;
  /** Lookups are trusted this long; revocations and rotations anywhere evict at once (see events). */
  cacheTtlMs: number;
  /** Told of every key or account change, here or on another instance; told of ours in turn. */
  events: CredentialEvents;
  /** Hears of activity that could not be written (and what was dropped). */
  logger: Pick<Logger, 'warn'>;
  /** Activity entries that may wait in memory for the database (API_KEY_ACTIVITY_BACKLOG). */
  activityBacklog: number;
  /** The policy for keys (RATE_LIMIT_API_KEY): only admin:all may give a key more. */
  keyPolicy: KeyRateLimit;
  /** Tells the owner by email that a key was created for the account. */
  notify?: Notify;
  /** Records each change in the audit trail, written with the change. */
  audit: Audit;
}) {
  const { repo, now, events } = deps;
  const toCachedKey = toCachedKeyWith();
  const cache = createTtlCache<CachedKey>({
    ttlMs: deps.cacheTtlMs,
    max: CACHE_MAX,
    maxBytes: CACHE_MAX_BYTES,
    now,
  });
  // A key is remembered from its second read on: one read once is not worth an entry (doorkeeper.ts).
  const doorkeeper = createDoorkeeper(DOORKEEPER_CAPACITY);
  events.subscribe((event) => {
    if (event.kind === 'api_key') cache.delete(event.id);
    else if (event.kind === 'account') cache.deleteWhere((entry) => entry.credential.userId === event.id);
  });
  const usage = createUsageRecorder({
    write: (entries) => repo.recordUsage(entries),
    logger: deps.logger,
    maxBacklog: deps.activityBacklog,
  });

  function status(row: ApiKeyRow, t: number): ApiKeyView['status'] {
    if (row.revoked_at !== null) return 'revoked';
    if (row.expires_at !== null && row.expires_at <= t) return 'expired';
    if (row.grace_until !== null) return row.grace_until <= t ? 'rotated' : 'active';
    return 'active';
  }

  function toView(row: ApiKeyRow): ApiKeyView {
    return {
      id: row.id,
      name: row.name,
      prefix: displayPrefix(row.id),
      scopes: JSON.parse(row.scopes) as string[],
      allowed_ips: row.allowed_ips ? (JSON.parse(row.allowed_ips) as string[]) : null,
      status: status(row, now()),
      expires_at: iso(row.expires_at),
      created_at: iso(row.created_at)!,
      last_used_at: iso(row.last_used_at),
      last_used_ip: row.last_used_ip,
      revoked_at: iso(row.revoked_at),
      replaced_by: row.replaced_by,
      grace_until: iso(row.grace_until),
      rate_limit: rateLimitOf(row),
    };
  }

  /** The caller's own key, or anyone's with admin:all (see Principal.ownedOrAdmin). */
  async function owned(principal: Principal, id: string): Promise<ApiKeyRow> {
    return principal.ownedOrAdmin(await repo.findById(id), (row) => row.user_id, 'API key');
  }

  /** A key's own limit may be lower than the policy; only admin:all may set it higher. */
  function assertRateLimitAllowed(principal: Principal, limit: KeyRateLimit | null): void {
    if (!limit || principal.isAdmin) return;
    const policy = deps.keyPolicy;
    if (limit.hourly > policy.hourly || limit.burst > policy.burst) {
      throw new Forbidden(
        `Only admin:all may set a key's rate limit above the policy (${policy.hourly}/hour, ${policy.burst}/second)`,
      );
    }
  }

  /** A checked key: its cached entry itself, read as what the callers take from it. */
  type Verified = Pick<CachedKey, 'credential' | 'allowedIps' | 'ranges'>;

  /** The key's entry, kept in the cache if the key was read before. */
  function remember(row: ApiKeyAuthRow): CachedKey {
    const entry = toCachedKey(row);
    if (doorkeeper.seenBefore(row.id)) cache.set(row.id, entry);
    return entry;
  }

  /** The key's entry if it is remembered or can be read without waiting (undefined: no such key). */
  function lookupNow(id: string): CachedKey | undefined | typeof MUST_WAIT {
    const hit = cache.get(id);
    if (hit) return hit;
    const row = repo.findForAuthNow(id);
    return row === MUST_WAIT || row === undefined ? row : remember(row);
  }

  async function lookup(id: string): Promise<CachedKey | undefined> {
    const now = lookupNow(id);
    if (now !== MUST_WAIT) return now;
    const row = await repo.findForAuth(id);
    return row && remember(row);
  }

  async function verify(key: string): Promise<Verified> {
    const id = parseApiKey(key);
    if (!id) throw new Unauthenticated();
    return check(key, await lookup(id));
  }

  /** The verified key's credential if `ip` is on its allowlist (null: no address to check). */
  function fromAllowedAddress({ credential, ranges }: Verified, ip: string | null): Credential {
    if (ip !== null && ranges && !ipAllowed(ip, ranges)) throw new AddressRefused(credential);
    return credential;
  }

  /**
   * `verify` without waiting, for a key whose row is remembered or can be read at once (SQLite);
   * undefined when the row has to be read and waited for. A remembered key is refused or accepted
   * by its secret's hash, which only the key as it was minted matches (its checksum included): the
   * checksum is left for keys still to be read, where it spares the database a typo or a foreign
   * string.
   */
  function verifyAtOnce(key: string): Verified | undefined {
    const id = apiKeyIdOf(key);
    if (!id) throw new Unauthenticated();
    const hit = cache.get(id);
    if (hit) return check(key, hit);
    if (!hasApiKeyChecksum(key)) throw new Unauthenticated();
    const entry = lookupNow(id);
    return entry === MUST_WAIT ? undefined : check(key, entry);
  }

  /** The key checked against its remembered entry (its secret, revocation, expiry, grace period). */
  function check(key: string, entry: CachedKey | undefined): Verified {
    if (!entry || !safeEqual(sha256(key), entry.secretHash)) throw new Unauthenticated();
    const t = now();
    const expiresAt = entry.credential.expiresAt;
    if (entry.revokedAt !== null) throw new Unauthenticated();
    if (expiresAt !== null && expiresAt <= t) throw new Unauthenticated();
    if (entry.graceUntil !== null && entry.graceUntil <= t) throw new Unauthenticated();
    return entry;
  }

  return {
    async create(creator: Principal, data: CreateApiKeyInput, by: Provenance): Promise<ApiKeyView & { key: string }> {
      const userId = creator.requireAccount();
      const excess = creator.lacking(data.scopes);
      if (excess.length)
        throw new Forbidden(`A key cannot carry scopes its creator does not hold: ${excess.join(', ')}`);
      assertRateLimitAllowed(creator, data.rate_limit ?? null);
      const t = now();
      const expiresAt = futureExpiry(data.expires_at, t);
      const { id, key } = mintApiKey();
      const row: ApiKeyRow = {
        id,
        user_id: userId,
        name: data.name,
        secret_hash: sha256(key),
        scopes: JSON.stringify(data.scopes),
        allowed_ips: data.allowed_ips?.length ? JSON.stringify(data.allowed_ips) : null,
        expires_at: expiresAt,
        created_at: t,
        revoked_at: null,
        last_used_at: null,
        last_used_ip: null,
        replaced_by: null,
        grace_until: null,
        rate_limit_hourly: data.rate_limit?.hourly ?? null,
        rate_limit_burst: data.rate_limit?.burst ?? null,
      };
      const view = toView(row);
      await repo.insert(row, [
        buildEvent(
          'api_key.created',
          userId,
          { id, name: row.name, prefix: view.prefix, scopes: view.scopes, expires_at: view.expires_at },
          t,
        ),
        deps.audit.event(
          'api_key.created',
          {
            account: userId,
            target: { type: 'api_key', id },
            data: { name: row.name, prefix: view.prefix, scopes: view.scopes },
          },
          by,
        ),
      ]);
      await deps.notify?.(userId, { kind: 'api_key_created', name: row.name, prefix: view.prefix });
      return { ...view, key };
    },

    async list(principal: Principal): Promise<ApiKeyView[]> {
      await usage.flush(); // "last used" includes the requests still waiting to be written
      return (await repo.listOwned(principal.requireAccount())).map(toView);
    },

    async get(principal: Principal, id: string): Promise<ApiKeyView> {
      return toView(await owned(principal, id));
    },

    async revoke(principal: Principal, id: string, by: Provenance): Promise<ApiKeyView> {
      const row = await owned(principal, id);
      const t = now();
      await repo.revoke(id, t, [
        buildEvent('api_key.revoked', row.user_id, { id, name: row.name }, t),
        deps.audit.event(
          'api_key.revoked',
          {
            account: row.user_id,
            target: { type: 'api_key', id },
            data: { name: row.name },
          },
          by,
        ),
      ]);
      events.publish({ kind: 'api_key', id });
      return toView(await owned(principal, id));
    },

    /** Revokes every live key of the account that carries `scope` (an admin's keys, on demotion). */
    async revokeCarrying(userId: string, scope: string, by: Provenance): Promise<void> {
      const t = now();
      const carrying = (await repo.listOwned(userId)).filter(
        (row) => row.revoked_at === null && (JSON.parse(row.scopes) as string[]).includes(scope),
      );
      for (const row of carrying) {
        await repo.revoke(row.id, t, [
          buildEvent('api_key.revoked', userId, { id: row.id, name: row.name }, t),
          // Whoever demoted the account acts; the reason says why a key its owner kept went.
          deps.audit.event(
            'api_key.revoked',
            {
              account: userId,
              target: { type: 'api_key', id: row.id },
              data: { name: row.name, reason: `carried ${scope}` },
            },
            by,
          ),
        ]);
        events.publish({ kind: 'api_key', id: row.id });
      }
    },

    /**
     * A new key with the same settings; the old one works until the grace period ends (never past
     * its expiry). The new key keeps the old key's expiry unless `expires_at` gives it one (null:
     * none), so a key near its end can be rotated into a fresh term.
     */
    async rotate(
      principal: Principal,
      id: string,
      data: RotateApiKeyInput,
      by: Provenance,
    ): Promise<ApiKeyView & { key: string }> {
      const old = await owned(principal, id);
      const userId = old.user_id;
      // The new key is a new grant of the same settings: the same rules as creating one.
      const excess = principal.lacking(JSON.parse(old.scopes) as string[]);
      if (excess.length)
        throw new Forbidden(`A key cannot carry scopes its creator does not hold: ${excess.join(', ')}`);
      assertRateLimitAllowed(principal, rateLimitOf(old));
      const t = now();
      const state = status(old, t);
      if (state !== 'active' || old.replaced_by) {
        throw new Conflict(`This key is ${old.replaced_by ? 'already rotated' : state} and cannot be rotated`);
      }
      const expiresAt = data?.expires_at === undefined ? old.expires_at : futureExpiry(data.expires_at, t);
      const { id: newId, key } = mintApiKey();
      const replacement: ApiKeyRow = {
        ...old,
        id: newId,
        expires_at: expiresAt,
        secret_hash: sha256(key),
        created_at: t,
        last_used_at: null,
        last_used_ip: null,
        replaced_by: null,
        grace_until: null,
      };
      const graceUntil = Math.min(t + deps.rotationGraceMs, old.expires_at ?? Number.MAX_SAFE_INTEGER);
      await repo.rotate(id, replacement, graceUntil, [
        buildEvent('api_key.rotated', userId, { id, replaced_by: newId, grace_until: iso(graceUntil) }, t),
        deps.audit.event(
          'api_key.rotated',
          {
            account: userId,
            target: { type: 'api_key', id },
            data: { name: old.name, replaced_by: newId, grace_until: iso(graceUntil) },
          },
          by,
        ),
      ]);
      events.publish({ kind: 'api_key', id });
      return { ...toView(replacement), key };
    },

    /** A page of the key's activity, filtered, by cursor (see readActivityPage). */
    async activityPage(principal: Principal, id: string, query: ActivityQuery): Promise<ActivityPage> {
      await owned(principal, id);
      await usage.flush();
      return readActivityPage(repo, id, query);
    },

    async activity(
      principal: Principal,
      id: string,
      opts: { limit: number; before?: number },
    ): Promise<ApiKeyActivityRow[]> {
      await owned(principal, id);
      await usage.flush();
      return repo.activity(id, opts.limit, opts.before);
    },

    /**
     * The credential for a presented key, or an error: 401 for anything that is not a live key,
     * 403 for a live key used from an address outside its allowlist. `ip` null skips the
     * allowlist (introspection: the resource server checks the address it sees).
     */
    async authenticate(key: string, ip: string | null): Promise<Credential> {
      return fromAllowedAddress(await verify(key), ip);
    },

    /**
     * `authenticate` without waiting, for a key whose row is remembered or can be read at once
     * (SQLite): the same answer (or the same refusal); undefined when the row has to be read and
     * waited for (then `authenticate`).
     */
    authenticateAtOnce(key: string, ip: string | null): Credential | undefined {
      const verified = verifyAtOnce(key);
      return verified && fromAllowedAddress(verified, ip);
    },

    /** For introspection: the credential and its allowlist, without an address check. */
    async inspect(key: string): Promise<{ credential: Credential; allowedIps: string[] | null }> {
      const { credential, allowedIps } = await verify(key);
      return { credential, allowedIps };
    },

    /**
     * `inspect` without waiting, as `authenticateAtOnce` is `authenticate` without waiting (the
     * key's remembered entry itself, read as what `inspect` answers); undefined when the row has
     * to be read and waited for (then `inspect`).
     */
    inspectAtOnce(key: string): { readonly credential: Credential; readonly allowedIps: string[] | null } | undefined {
      return verifyAtOnce(key);
    },

    /** Queues an activity entry; written in batches off the request path. */
    recordUse(entry: UsageEntry): void {
      usage.add(entry);
    },

    async pruneActivity(): Promise<void> {
      await repo.pruneActivity(now() - deps.activityRetentionMs);
    },

    /** Writes the waiting activity (within a few seconds: what is left is dropped and logged). */
    async stop(): Promise<void> {
      await usage.stop();
    },
  };
}
export type ApiKeysService = ReturnType<typeof createApiKeysService>;
