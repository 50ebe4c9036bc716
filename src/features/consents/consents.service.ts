import type { ConsentView } from '../../wire/consents.ts';
import type { Principal } from '../../domain/principal.ts';
import { buildEvent } from '../webhooks/events.ts';
import type { ConsentsRepo } from './consents.repo.ts';
import type { ConsentRow } from '../../db/schema.ts';
import type { Audit } from '../audit/audit.ts';
import type { AuditActor, Provenance } from '../../domain/audit.ts';
import { sha256 } from '../../shared/secrets.ts';

/** A grant the provider revoked because a single-use token of it was presented again. */
export interface TokenReuse {
  clientId: string;
  /** The grant's account, as the token named it (the remembered consent's wins). */
  accountId: string | null;
  /** The token endpoint's grant type that was replayed (refresh_token, authorization_code…). */
  grantType: string;
  /** The token request the replay came in on: its address, User-Agent and request id are recorded. */
  by: Provenance;
}

/**
 * Remembers which oidc-provider Grant holds a user's consent to an application, so that consent
 * survives the browser session (the provider keeps grants per session only), and lets the user
 * take it back.
 */
export function createConsentsService(deps: {
  repo: ConsentsRepo;
  now(): number;
  /** Told when consent is taken back: the grant's tokens died with it (caches drop them). */
  onRevoked?(): void;
  /** Records each change in the audit trail, written with the change. */
  audit: Audit;
}) {
  const { repo, now } = deps;

  /**
   * The client is the actor: the replay came in on its token endpoint request (with its credentials,
   * or its client_id for a public client), and the address and User-Agent recorded are that
   * request's: who presented the stolen or replayed token. The server's part (revoking the grant)
   * follows from it; `system` would hide that a request caused it.
   */
  function tokenReuseRecord(grantId: string, reuse: TokenReuse, accountId: string | null) {
    return deps.audit.event(
      'token.reuse_detected',
      {
        account: accountId,
        target: { type: 'application', id: reuse.clientId },
        data: { client_id: reuse.clientId, grant_id_hash: sha256(grantId), grant_type: reuse.grantType },
        actor: { type: 'client', id: reuse.clientId, accountId, label: null },
      },
      reuse.by,
    );
  }

  /** Takes back these consents of the account, each with its grant and the grant's tokens. */
  async function revokeEach(userId: string, rows: ConsentRow[], by: Provenance, actor?: AuditActor): Promise<void> {
    const t = now();
    for (const row of rows) {
      await repo.revokeWithGrant(userId, row.client_id, row.grant_id, [
        buildEvent('consent.revoked', userId, { client_id: row.client_id, user_id: userId }, t),
        deps.audit.event(
          'consent.revoked',
          {
            account: userId,
            target: { type: 'application', id: row.client_id },
            data: { client_id: row.client_id, scopes: JSON.parse(row.scopes) as string[] },
            ...(actor && { actor }),
          },
          by,
        ),
      ]);
    }
    if (rows.length) deps.onRevoked?.();
  }

  return {
    async grantIdFor(userId: string, clientId: string): Promise<string | undefined> {
      return (await repo.find(userId, clientId))?.grant_id;
    },

    /**
     * Keeps the consent `userId` just gave. The person deciding acts (the browser's dashboard
     * session, if any, may be someone else's); `label` names them readably (their email).
     */
    async remember(
      userId: string,
      clientId: string,
      grantId: string,
      scopes: string[],
      label: string | null,
      by: Provenance,
    ): Promise<void> {
      const existing = await repo.find(userId, clientId);
      const t = now();
      await repo.upsert(
        {
          user_id: userId,
          client_id: clientId,
          grant_id: grantId,
          scopes: JSON.stringify(scopes),
          created_at: existing?.created_at ?? t,
          updated_at: t,
        },
        [
          buildEvent('consent.granted', userId, { client_id: clientId, user_id: userId, scopes }, t),
          deps.audit.event(
            'consent.granted',
            {
              account: userId,
              target: { type: 'application', id: clientId },
              data: { client_id: clientId, scopes },
              actor: { type: 'user', id: userId, accountId: userId, label },
            },
            by,
          ),
        ],
      );
    },

    /**
     * A grant revoked by the provider (refresh-token reuse, code replay, revocation) is no longer
     * consent. When `reuse` says a single-use token was presented again, the trail records it with
     * the forgetting: the client whose token it was acts (see tokenReuseRecord).
     */
    async forgetGrant(grantId: string, reuse: TokenReuse | null = null): Promise<void> {
      const row = await repo.findByGrant(grantId);
      const t = now();
      const events = [
        ...(row
          ? [buildEvent('grant.revoked', row.user_id, { client_id: row.client_id, user_id: row.user_id }, t)]
          : []),
        ...(reuse ? [tokenReuseRecord(grantId, reuse, row?.user_id ?? reuse.accountId)] : []),
      ];
      if (events.length) await repo.deleteByGrant(grantId, events);
    },

    async list(caller: Principal): Promise<ConsentView[]> {
      return (await repo.listByUser(caller.requireAccount())).map((r) => ({
        client_id: r.client_id,
        application: r.app_name,
        scopes: JSON.parse(r.scopes) as string[],
        granted_at: new Date(r.created_at).toISOString(),
        updated_at: new Date(r.updated_at).toISOString(),
      }));
    },

    /**
     * Every application's access at once (after a password change or reset): grants and their
     * tokens. `actor` names who acts when the request has no credential of its own (a reset link).
     */
    async revokeAll(userId: string, by: Provenance, actor?: AuditActor): Promise<void> {
      await revokeEach(userId, await repo.listByUser(userId), by, actor);
    },

    async revoke(caller: Principal, clientId: string, by: Provenance): Promise<void> {
      const userId = caller.requireAccount();
      // Addressed within the caller's own account: one it has not given is refused like another's.
      const row = caller.ownedOrAdmin(await repo.find(userId, clientId), (consent) => consent.user_id, 'Consent');
      await revokeEach(userId, [row], by);
    },

    /**
     * Takes back every consent of the account whose grant carries `scope`, with its tokens (an
     * admin's admin:all grants, on demotion: their refresh tokens must not mint more).
     */
    async revokeCarrying(userId: string, scope: string, by: Provenance): Promise<void> {
      const rows = await repo.listByUser(userId);
      await revokeEach(
        userId,
        rows.filter((r) => (JSON.parse(r.scopes) as string[]).includes(scope)),
        by,
      );
    },
  };
}
export type ConsentsService = ReturnType<typeof createConsentsService>;
