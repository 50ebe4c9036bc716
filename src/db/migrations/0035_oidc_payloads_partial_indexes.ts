import { sql, type Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one instead.
// oidc-provider's rows are looked up by grant, uid and user code only with a value in hand
// (`column = ?`), and most rows have none of them: a client-credentials token has no grant, only
// sessions and interactions have a uid, only device codes a user code. Indexed whole, every token
// issued still wrote a NULL entry into each of the three (a page per index per transaction);
// partial indexes hold only the rows that have a value, which every such lookup still uses.

const PARTIAL = [
  ['oidc_payloads_grant', 'grant_id_hash'],
  ['oidc_payloads_uid', 'uid_hash'],
  ['oidc_payloads_user_code', 'user_code_hash'],
] as const;

export async function up(db: Kysely<any>): Promise<void> {
  for (const [name, column] of PARTIAL) {
    await db.schema.dropIndex(name).execute();
    await db.schema
      .createIndex(name)
      .on('oidc_payloads')
      .column(column)
      .where(sql.ref(column), 'is not', null)
      .execute();
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const [name, column] of PARTIAL) {
    await db.schema.dropIndex(name).execute();
    await db.schema.createIndex(name).on('oidc_payloads').column(column).execute();
  }
}
