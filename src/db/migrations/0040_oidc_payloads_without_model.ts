import type { Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one instead.
// A server bundled with esbuild's syntax minifier lost the names of oidc-provider's model classes,
// and stored every token, code, grant and session it made under the model name '' and without an
// expiry. No build reads rows of that name, so they can never be presented again, and without an
// expiry the sweep of expired rows would keep them forever. Those tokens and sessions end here:
// their holders sign in again.

export async function up(db: Kysely<any>): Promise<void> {
  await db.deleteFrom('oidc_payloads').where('type', '=', '').execute();
}

export async function down(): Promise<void> {
  // Nothing to restore: the rows were unreachable.
}
