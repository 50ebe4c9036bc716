import type { Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one instead.
// Per application: whether it may use the device authorization grant (RFC 8628). 1 for native
// applications (the default for their type); any other type that signs people in only when its
// owner allows it.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('applications')
    .addColumn('device_flow', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.updateTable('applications').set({ device_flow: 1 }).where('type', '=', 'native').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('applications').dropColumn('device_flow').execute();
}
