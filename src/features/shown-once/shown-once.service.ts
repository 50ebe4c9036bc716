import { Forbidden } from '../../domain/errors.ts';
import type { Principal } from '../../domain/principal.ts';
import type { SecretBox } from '../../shared/encryption.ts';
import type { ShownOnceRepo } from './shown-once.repo.ts';

/** What a shown-once secret is: a new or rotated API key, client secret or webhook signing secret. */
export type ShownOncePurpose = 'api-key' | 'client-secret' | 'webhook-secret';

/**
 * How long a secret waits for its page. The browser follows the redirect at once; a secret whose
 * page was never opened (a closed tab, a lost connection) is not kept for later.
 */
export const SHOWN_ONCE_TTL_MS = 10 * 60 * 1000;

/**
 * Post/Redirect/Get for secrets shown once. The form post that makes a secret holds it here and
 * redirects; the page it redirects to takes it, and only the first view finds it, so reloading
 * the page (or going back to it) never shows the secret again, and never makes another one.
 * A held secret is sealed with SECRETS_KEY, bound to the browser session that made it (another
 * session, even of the same account, finds nothing) and deleted with that session.
 */
export function createShownOnceService(deps: { repo: ShownOnceRepo; box: SecretBox; now(): number }) {
  const { repo, box, now } = deps;

  /** The browser session's id hash: only a dashboard session holds secrets to show. */
  const sessionOf = (me: Principal): string => {
    if (me.kind !== 'session' || !me.credentialId) throw new Forbidden('Only a browser session is shown secrets');
    return me.credentialId;
  };

  return {
    async hold<T extends { secret: string }>(
      me: Principal,
      purpose: ShownOncePurpose,
      subjectId: string,
      shown: T,
    ): Promise<void> {
      await repo.put({
        session_id_hash: sessionOf(me),
        purpose,
        subject_id: subjectId,
        sealed: box.seal(JSON.stringify(shown)),
        expires_at: now() + SHOWN_ONCE_TTL_MS,
      });
    },

    /** The held secret, this once; null when it was already shown, expired, or is another session's. */
    async take<T extends { secret: string }>(
      me: Principal,
      purpose: ShownOncePurpose,
      subjectId: string,
    ): Promise<T | null> {
      const sealed = await repo.take(sessionOf(me), purpose, subjectId, now());
      return sealed === null ? null : (JSON.parse(box.open(sealed)) as T);
    },

    async deleteExpired(): Promise<void> {
      await repo.deleteExpired(now());
    },
  };
}
export type ShownOnceService = ReturnType<typeof createShownOnceService>;
