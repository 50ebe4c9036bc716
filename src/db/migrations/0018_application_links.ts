import type { Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one instead.
// What the consent page shows of an application besides its name: its logo, homepage, privacy policy
// and terms (each an https URL, http only on loopback; null: not registered). (How a dashboard
// session was authenticated, browser_sessions.amr, came with 0016.)

const APP_LINKS = ['logo_uri', 'client_uri', 'policy_uri', 'tos_uri'] as const;

export async function up(db: Kysely<any>): Promise<void> {
  for (const column of APP_LINKS) await db.schema.alterTable('applications').addColumn(column, 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const column of [...APP_LINKS].reverse()) {
    await db.schema.alterTable('applications').dropColumn(column).execute();
  }
}
