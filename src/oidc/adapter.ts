import type { Adapter, AdapterPayload } from 'oidc-provider';
import { sha256 } from '../shared/secrets.ts';
import { storedKeyOf } from './time-ordered-ids.ts';
import type { PayloadsRepo, StoredPayload } from './payloads.repo.ts';
import type { TtlCache } from '../shared/ttl-cache.ts';
import type { SecretBox } from '../shared/encryption.ts';

export interface AdapterDeps {
  payloads: PayloadsRepo;
  /** Client metadata from Latchkey's applications table (oidc-provider's Client model). */
  findClient(clientId: string): Promise<AdapterPayload | undefined>;
  /** A rotated refresh token presented again within this many ms is not yet treated as reuse. */
  refreshTokenReuseGraceMs: number;
  now(): number;
  /** Told when a token or a grant is revoked, so caches of checked tokens drop what they hold. */
  onRevoked?(): void;
  /**
   * Rows of the models in CACHED_MODELS as last read (null: not found), by `model:idHash`. Writes
   * through this adapter evict at once; other instances' revocations apply within its time to live.
   */
  rowCache?: TtlCache<StoredPayload | null>;
  /**
   * Seals a device code's raw id into its row (and opens it again): the device code is found by its
   * user code when a person types it, and oidc-provider then saves it under its id, which the
   * table otherwise holds only as a hash. Without it, device codes cannot be stored.
   */
  box?: Pick<SecretBox, 'seal' | 'open'>;
  /**
   * The expiry (epoch seconds) of each grant read or written lately, by grant id: a refresh token
   * issued in the same request ends no later (see the RefreshToken TTL in provider.ts).
   */
  grantExpiries?: Pick<TtlCache<number>, 'set'>;
}

/**
 * Access tokens are read on every introspection and every /v2 request that presents one, and only
 * ever written when issued or revoked. A not-found is remembered too: oidc-provider looks a
 * client-credentials token up as an AccessToken first, and a token id cannot come into existence
 * later (ids are random and unknown until issued; issuing here evicts). Refresh tokens, codes,
 * sessions and grants are read fresh: they change as they are used.
 */
const CACHED_MODELS = new Set(['AccessToken', 'ClientCredentials']);

/**
 * A device code's row outlives the code by this long (ms): oidc-provider checks the code's own
 * `exp`, so a device still polling hears `expired_token` (RFC 8628 §3.5), and the /device page says
 * "expired", rather than both finding nothing. Housekeeping deletes the row afterwards.
 */
const DEVICE_CODE_ROW_GRACE_MS = 3_600_000;

/** The stored payload's field holding a device code's sealed raw id (see AdapterDeps.box). */
const SEALED_ID = 'latchkey_sealed_id';

/** Stands in for the raw id inside stored payloads (ids are base64url, so it cannot clash). */
const ID_PLACEHOLDER = '{{id}}';

/**
 * oidc-provider storage on Latchkey's database. Ids, grant ids, uids and user codes are stored as
 * SHA-256 (a time-ordered id with its time in front: time-ordered-ids.ts) and the raw `jti` is
 * stripped from payloads (restored from the presented id on read), so a dump of the table yields
 * nothing that can be presented back to the server.
 */
class KyselyAdapter implements Adapter {
  constructor(
    private readonly model: string,
    private readonly deps: AdapterDeps,
  ) {}

  async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
    if (this.model === 'Client') return; // clients are managed through /oauth/applications
    // The user code is a bearer secret while its device code waits: stored only as its hash.
    const { jti: _raw, userCode: _userCode, ...rest } = payload;
    // An Interaction records its browser's OAuth session, including `session.cookie`: the raw
    // session id, i.e. the _session cookie's value, a bearer secret. oidc-provider never reads it
    // back (the session is found from the cookie), so it is not stored.
    const session = (rest as { session?: unknown }).session;
    if (session && typeof session === 'object' && 'cookie' in session) {
      const { cookie: _cookie, ...kept } = session as Record<string, unknown>;
      (rest as { session?: unknown }).session = kept;
    }
    if (this.model === 'DeviceCode') (rest as Record<string, unknown>)[SEALED_ID] = this.seal(id);
    // A device flow's sign-in names its device code (raw) until the person has decided.
    const deviceCode = (rest as { deviceCode?: unknown }).deviceCode;
    if (typeof deviceCode === 'string') (rest as { deviceCode?: unknown }).deviceCode = this.seal(deviceCode);
    if (this.model === 'Grant') this.rememberExpiry(id, payload);
    const idHash = storedKeyOf(id);
    await this.deps.payloads.upsert({
      type: this.model,
      idHash,
      // The raw id also appears inside some payloads (an Interaction's uid and returnTo URL, which
      // equal the _interaction cookie's value): every occurrence is replaced by a placeholder.
      payload: JSON.stringify(rest).replaceAll(id, ID_PLACEHOLDER),
      grantIdHash: payload.grantId ? sha256(payload.grantId) : null,
      clientId: typeof payload.clientId === 'string' ? payload.clientId : null,
      uidHash: payload.uid ? sha256(payload.uid) : null,
      userCodeHash: payload.userCode ? sha256(payload.userCode) : null,
      expiresAt: expiresIn
        ? this.deps.now() + expiresIn * 1000 + (this.model === 'DeviceCode' ? DEVICE_CODE_ROW_GRACE_MS : 0)
        : null,
      // Sessions are found by account when a password change ends them (other rows: no account,
      // so they stay out of that column's partial index).
      accountId: this.model === 'Session' && typeof payload.accountId === 'string' ? payload.accountId : null,
    });
    this.forget(idHash);
  }

  private seal(secret: string): string {
    if (!this.deps.box) throw new Error('device codes need the secret box to be stored');
    return this.deps.box.seal(secret);
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    if (this.model === 'Client') return this.deps.findClient(id);
    const idHash = storedKeyOf(id);
    const cache = CACHED_MODELS.has(this.model) ? this.deps.rowCache : undefined;
    const key = `${this.model}:${idHash}`;
    let row = cache?.get(key);
    if (row === undefined) {
      row = (await this.deps.payloads.findById(this.model, idHash)) ?? null;
      cache?.set(key, row);
    }
    if (!row) return undefined;
    const payload = this.revive(id, row);
    if (payload && this.model === 'Grant') this.rememberExpiry(id, payload);
    return payload;
  }

  private rememberExpiry(grantId: string, payload: AdapterPayload): void {
    if (typeof payload.exp === 'number') this.deps.grantExpiries?.set(grantId, payload.exp);
  }

  private forget(idHash: string): void {
    if (CACHED_MODELS.has(this.model)) this.deps.rowCache?.delete(`${this.model}:${idHash}`);
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    const row = await this.deps.payloads.findBy(this.model, 'uid_hash', sha256(uid));
    // The raw id is not stored, so a uid lookup cannot restore `jti`; oidc-provider only uses
    // findByUid for Sessions, whose id it then reads from the cookie.
    return row ? this.revive(undefined, row) : undefined;
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    const row = await this.deps.payloads.findBy(this.model, 'user_code_hash', sha256(userCode));
    const sealed = row && (JSON.parse(row.payload) as Record<string, unknown>)[SEALED_ID];
    if (!row || typeof sealed !== 'string' || !this.deps.box) return undefined;
    // The id comes back from its seal, so that saving the code updates this row; the user code
    // from what was presented (oidc-provider compares the two).
    const payload = this.revive(this.deps.box.open(sealed), row);
    return payload && { ...payload, userCode };
  }

  async consume(id: string): Promise<void> {
    const idHash = storedKeyOf(id);
    await this.deps.payloads.consume(this.model, idHash, this.deps.now());
    this.forget(idHash);
  }

  async destroy(id: string): Promise<void> {
    const idHash = storedKeyOf(id);
    await this.deps.payloads.destroy(this.model, idHash);
    this.forget(idHash);
    // Only a token or a grant going away concerns the caches; sessions and interactions end on
    // every sign-in and must not empty them.
    if (CACHED_MODELS.has(this.model) || this.model === 'Grant') this.deps.onRevoked?.();
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    await this.deps.payloads.destroyByGrant(this.model, sha256(grantId));
    this.deps.onRevoked?.(); // empties the row cache too (rows are not indexed by grant here)
  }

  private revive(
    id: string | undefined,
    row: { payload: string; expires_at: number | null; consumed_at: number | null },
  ): AdapterPayload | undefined {
    const now = this.deps.now();
    if (row.expires_at !== null && row.expires_at <= now) return undefined;
    const payload = JSON.parse(
      id === undefined ? row.payload : row.payload.replaceAll(ID_PLACEHOLDER, id),
    ) as AdapterPayload;
    if (id !== undefined) payload.jti = id;
    delete payload[SEALED_ID];
    if (typeof payload['deviceCode'] === 'string' && this.deps.box) {
      payload['deviceCode'] = this.deps.box.open(payload['deviceCode']);
    }
    if (row.consumed_at !== null && !this.withinReuseGrace(row.consumed_at, now)) {
      payload.consumed = Math.floor(row.consumed_at / 1000);
    }
    return payload;
  }

  /**
   * Two tabs refreshing at once both present the same refresh token; the second would look like
   * reuse and revoke the grant. For a few seconds after rotation the token is served as unconsumed,
   * so the second request rotates again instead. Past the window, reuse revokes the grant.
   */
  private withinReuseGrace(consumedAt: number, now: number): boolean {
    const grace = this.deps.refreshTokenReuseGraceMs;
    return this.model === 'RefreshToken' && grace > 0 && now - consumedAt < grace;
  }
}

/** oidc-provider's `adapter` option: a factory called once per model name. */
export function createAdapterFactory(deps: AdapterDeps): (model: string) => Adapter {
  return (model: string) => new KyselyAdapter(model, deps);
}
