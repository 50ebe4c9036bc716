import { sql, type Kysely } from 'kysely';
import { isPostgres } from '../../src/db/client.ts';

/**
 * Makes every INSERT into `table` fail from now on (a trigger, on SQLite or PostgreSQL), until the
 * answered function removes it: how a test shows that a change and what it writes beside it (audit
 * record, webhook event) commit together or not at all.
 */
// biome-ignore lint/suspicious/noExplicitAny: any schema; only the table name is used
export async function failInsertsInto(db: Kysely<any>, table: string): Promise<() => Promise<void>> {
  const trigger = sql.id(`test_fail_${table}`);
  const target = sql.id(table);
  if (isPostgres(db)) {
    const fn = sql.id(`test_fail_${table}_fn`);
    await sql`CREATE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'insert refused by the test'; END $$`.execute(db);
    await sql`CREATE TRIGGER ${trigger} BEFORE INSERT ON ${target} FOR EACH ROW EXECUTE FUNCTION ${fn}()`.execute(db);
    return async () => {
      await sql`DROP TRIGGER ${trigger} ON ${target}`.execute(db);
      await sql`DROP FUNCTION ${fn}()`.execute(db);
    };
  }
  await sql`CREATE TRIGGER ${trigger} BEFORE INSERT ON ${target}
    BEGIN SELECT RAISE(ABORT, 'insert refused by the test'); END`.execute(db);
  return async () => {
    await sql`DROP TRIGGER ${trigger}`.execute(db);
  };
}
