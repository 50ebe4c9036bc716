import type { Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one instead.
// What the consent page shows of an application besides its name: its logo, homepage, privacy policy
// and terms (each an https URL, http only on loopback; null: not registered). And how a dashboard
// session was authenticated (its `amr` values, space-separated: `pwd`, `pwd otp`...), so an OAuth
// sign-in completed from that session reports the methods really used, never more; null for
// sessions from before this migration, which then claim none.

const APP_LINKS = ['logo_uri', 'client_uri', 'policy_uri', 'tos_uri'] as const;

export async function up(db: Kysely<any>): Promise<void> {
  for (const column of APP_LINKS) await db.schema.alterTable('applications').addColumn(column, 'text').execute();
  await db.schema.alterTable('browser_sessions').addColumn('amr', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('browser_sessions').dropColumn('amr').execute();
  for (const column of [...APP_LINKS].reverse()) {
    await db.schema.alterTable('applications').dropColumn(column).execute();
  }
}
