import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { migrateToLatest, openDatabase, type DB } from '../db/client.ts';
import { loadServerKeys, type ServerKeys } from '../oidc/keys.ts';
import { createServerSecretsRepo } from '../oidc/server-secrets.repo.ts';
import { createSecretBox, loadSecretsKey } from '../shared/encryption.ts';

/** What every entry point (server, cluster primary, CLI) stands on before it builds anything. */
export interface Infra {
  config: Config;
  logger: Logger;
  /** Open and migrated to the latest schema. The caller closes it (`db.destroy()`). */
  db: DB;
  /** Encrypts secrets that must be used again (webhook signing secrets, two-factor seeds, server keys). */
  secretsKey: Buffer;
  /** Signing keys (JWKS) and cookie keys, made on first boot and kept sealed in the database. */
  keys: ServerKeys;
  /** The migrations this boot applied (empty when the schema was already current). */
  migrated: string[];
}

/** Opens the database and applies pending migrations; closes it again if they fail. */
export async function openMigrated(config: Config): Promise<{ db: DB; migrated: string[] }> {
  const db = openDatabase(config);
  try {
    const results = await migrateToLatest(db);
    return { db, migrated: (results ?? []).map((r) => r.migrationName) };
  } catch (err) {
    await db.destroy();
    throw err;
  }
}

/** SECRETS_KEY, or the key file beside the database (made on first boot, with a warning). */
export function loadSecrets(config: Config, logger: Logger): Buffer {
  const secrets = loadSecretsKey(config.SECRETS_KEY, config.secretsKeyFile);
  if (secrets.generated)
    logger.warn({ file: config.secretsKeyFile }, 'generated a secrets key file; set SECRETS_KEY to manage it yourself');
  return secrets.key;
}

/**
 * Boot, written once: open the database -> migrate -> load (or make) the secrets key -> load (or
 * make) the server keys. On failure nothing stays open.
 */
export async function prepare(config: Config, logger: Logger): Promise<Infra> {
  const { db, migrated } = await openMigrated(config);
  try {
    const secretsKey = loadSecrets(config, logger);
    const keys = await loadServerKeys(createServerSecretsRepo(db, createSecretBox(secretsKey)), Date.now());
    return { config, logger, db, secretsKey, keys, migrated };
  } catch (err) {
    await db.destroy();
    throw err;
  }
}
