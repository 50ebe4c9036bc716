import type { JWK } from 'oidc-provider';
import { Forbidden } from '../domain/errors.ts';
import type { Principal } from '../domain/principal.ts';
import type { Audit } from '../features/audit/audit.ts';
import type { SigningKeyRotation } from '../wire/admin-resources.ts';
import { parseStoredJwks, rotateSigningKeys, type Rotation, type StoredJwks } from './keys.ts';
import type { AuditRecord, Provenance } from '../domain/audit.ts';
import type { ServerSecretsRepo } from './server-secrets.repo.ts';

/** `signing_keys.rotated`, for the transaction that stores the rotation (the console's and the CLI's). */
export const rotationRecord =
  (audit: Pick<Audit, 'event'>, by: Provenance) =>
  (r: Rotation): AuditRecord[] => [
    audit.event(
      'signing_keys.rotated',
      {
        account: null,
        target: { type: 'signing_key', id: r.kid },
        data: { kid: r.kid, added: r.added.map((k) => k.kid), dropped: r.dropped },
      },
      by,
    ),
  ];

const iso = (t: number | undefined) => (t === undefined ? null : new Date(t).toISOString());

/** One stored signing key as the console shows it (public facts only: never the private parts). */
export interface SigningKeyView {
  kid: string;
  alg: string;
  /** When a rotation made it (null: made at the first start, before rotations recorded it). */
  createdAt: string | null;
  /** This instance signs with it now (the first key of its algorithm it loaded at start). */
  signsNow: boolean;
  /** It is the newest key of its algorithm but this instance loaded an older one: it signs after a restart. */
  signsAfterRestart: boolean;
  /** This instance publishes it at /oauth/jwks (it loaded it at start). */
  published: boolean;
  /** When it stopped being the newest (null: it is the newest of its algorithm). */
  retiredAt: string | null;
  /** Until when it is kept for verifying the tokens it signed (null: not retired). */
  keptUntil: string | null;
}

/** The first key of each algorithm in a key list: the one that signs (keys.ts keeps the newest first). */
const firstOfEach = (keys: JWK[]) => {
  const first = new Map<string, string>();
  for (const k of keys) if (k.alg && k.kid && !first.has(k.alg)) first.set(k.alg, k.kid);
  return new Set(first.values());
};

/**
 * The signing keys for operators: what is stored, which key this instance signs with, and a
 * rotation from the browser. oidc-provider takes its keystore when it is built, so a running
 * instance keeps signing (and publishing) with the keys it loaded at start: the new key signs
 * after every instance restarts, and the page says so rather than pretending otherwise.
 */
export function createSigningKeysConsole(deps: {
  secrets: ServerSecretsRepo;
  /** The keys this instance loaded at start (what its provider signs and publishes with). */
  loaded: { keys: JWK[] };
  /** How long a retired key stays published: the longest lifetime of a token it could have signed. */
  keepRetiredMs: number;
  audit: Audit;
  now(): number;
}) {
  const loadedKids = new Set(deps.loaded.keys.map((k) => k.kid));
  const signingNow = firstOfEach(deps.loaded.keys);

  async function stored(): Promise<StoredJwks> {
    const text = await deps.secrets.get('jwks');
    return text === undefined ? { keys: deps.loaded.keys } : parseStoredJwks(text);
  }

  return {
    async list(): Promise<SigningKeyView[]> {
      const jwks = await stored();
      const newest = firstOfEach(jwks.keys);
      return jwks.keys.map((k) => {
        const kid = k.kid!;
        const retiredAt = jwks.retired?.[kid];
        return {
          kid,
          alg: String(k.alg),
          createdAt: iso(jwks.created?.[kid]),
          signsNow: signingNow.has(kid),
          signsAfterRestart: newest.has(kid) && !signingNow.has(kid),
          published: loadedKids.has(kid),
          retiredAt: iso(retiredAt),
          keptUntil: retiredAt === undefined ? null : iso(retiredAt + deps.keepRetiredMs),
        };
      });
    },

    /** New keys first in the stored JWKS (rotateSigningKeys), recorded in the audit trail with them. */
    async rotate(caller: Principal, by: Provenance): Promise<SigningKeyRotation> {
      if (!caller.isAdmin) throw new Forbidden('Only an administrator rotates the signing keys');
      const rotation = await rotateSigningKeys(
        deps.secrets,
        deps.now(),
        deps.keepRetiredMs,
        rotationRecord(deps.audit, by),
      );
      return {
        kid: rotation.kid,
        added: rotation.added,
        retired: rotation.retired,
        dropped: rotation.dropped,
        signs_after: 'restart',
      };
    },
  };
}
export type SigningKeysConsole = ReturnType<typeof createSigningKeysConsole>;
