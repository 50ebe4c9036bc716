import type { Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one instead.
// Per application: whether its authorization requests must be pushed first (RFC 9126 PAR: the
// authorization endpoint then takes only a `request_uri`), and whether its tokens must be bound to
// a DPoP key (RFC 9449: a token request without a proof is refused). Both off unless asked for.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('applications')
    .addColumn('require_pushed_authorization_requests', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .alterTable('applications')
    .addColumn('require_dpop', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('applications').dropColumn('require_dpop').execute();
  await db.schema.alterTable('applications').dropColumn('require_pushed_authorization_requests').execute();
}
