import type { ConsentsRepo } from './consents.repo.ts';

/**
 * Remembers which oidc-provider Grant holds a user's consent to an application, so that consent
 * survives the browser session: the provider keeps grants per session only.
 */
export function createConsentsService(deps: { repo: ConsentsRepo; now(): number }) {
  const { repo, now } = deps;
  return {
    async grantIdFor(userId: string, clientId: string): Promise<string | undefined> {
      return (await repo.find(userId, clientId))?.grant_id;
    },
    async remember(userId: string, clientId: string, grantId: string, scopes: string[]): Promise<void> {
      const existing = await repo.find(userId, clientId);
      const t = now();
      await repo.upsert({
        user_id: userId,
        client_id: clientId,
        grant_id: grantId,
        scopes: JSON.stringify(scopes),
        created_at: existing?.created_at ?? t,
        updated_at: t,
      });
    },
    /** A revoked grant (e.g. refresh-token reuse) is no longer consent. */
    async forgetGrant(grantId: string): Promise<void> {
      await repo.deleteByGrant(grantId);
    },
  };
}
export type ConsentsService = ReturnType<typeof createConsentsService>;
