import { loadConfig } from '../config.ts';
import { openMigrated } from '../boot/prepare.ts';

/** `latchkey migrate`: pending migrations only (no keys are made). */
export async function migrate(): Promise<unknown> {
  const { db, migrated } = await openMigrated(loadConfig());
  await db.destroy();
  return { migrated };
}
