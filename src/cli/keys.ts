import { parseArgs } from 'node:util';
import { sessionPrincipal } from '../domain/principal.ts';
import { parseWire } from '../wire/parse.ts';
import { createApiKeySchema } from '../wire/api-keys.ts';
import { loadConfig } from '../config.ts';
import { createLogger } from '../logger.ts';
import { loadSecrets, openMigrated } from '../boot/prepare.ts';
import { rotateSigningKeys } from '../oidc/keys.ts';
import { rotationRecord } from '../oidc/signing-keys.service.ts';
import { BY_CLI, createAudit } from '../features/audit/audit.ts';
import { createServerSecretsRepo } from '../oidc/server-secrets.repo.ts';
import { createSecretBox } from '../shared/encryption.ts';
import { parseDuration, positiveInt, scopeList, UsageError } from './usage.ts';
import { withServices } from './with-services.ts';

/** `latchkey keys create`: an API key for an account, acting as that account. */
export async function createKey(args: string[]): Promise<unknown> {
  const { values } = parseArgs({
    args,
    options: {
      owner: { type: 'string' },
      name: { type: 'string' },
      scopes: { type: 'string' },
      'expires-in': { type: 'string' },
      'allow-ip': { type: 'string', multiple: true },
      burst: { type: 'string' },
      hourly: { type: 'string' },
    },
  });
  const { burst, hourly } = values;
  if ((burst === undefined) !== (hourly === undefined))
    throw new UsageError('keys create: give --burst and --hourly together');
  const rateLimit =
    burst !== undefined && hourly !== undefined
      ? { burst: positiveInt(burst, '--burst'), hourly: positiveInt(hourly, '--hourly') }
      : null;
  const ownerEmail = values.owner;
  if (!ownerEmail) throw new UsageError('keys create needs --owner (an account email)');
  const expiresIn = values['expires-in'] ? parseDuration(values['expires-in']) : null;
  return withServices(async ({ accounts, apiKeys }) => {
    const owner = await accounts.findByEmail(ownerEmail);
    if (!owner) throw new UsageError(`no account with email ${ownerEmail}`);
    const input = parseWire(createApiKeySchema, {
      name: values.name,
      scopes: scopeList(values.scopes),
      ...(expiresIn ? { expires_at: new Date(Date.now() + expiresIn * 1000).toISOString() } : {}),
      ...(values['allow-ip'] ? { allowed_ips: values['allow-ip'] } : {}),
      ...(rateLimit ? { rate_limit: rateLimit } : {}),
    });
    return apiKeys.create(sessionPrincipal(owner), input, BY_CLI);
  });
}

/** `latchkey keys rotate-signing`: new signing keys first in the stored JWKS. */
export async function rotateSigning(args: string[]): Promise<unknown> {
  parseArgs({ args, options: {} });
  const config = loadConfig();
  const { db } = await openMigrated(config);
  try {
    const { ID_TOKEN_TTL } = await import('../oidc/provider.ts');
    const keepMs = Math.max(config.ACCESS_TOKEN_TTL, ID_TOKEN_TTL) * 1000;
    const secretsKey = loadSecrets(config, createLogger('silent'));
    // Recorded in the audit trail with the rotation, the operator at the command line acting.
    const audit = createAudit({ now: Date.now });
    const rotation = await rotateSigningKeys(
      createServerSecretsRepo(db, createSecretBox(secretsKey)),
      Date.now(),
      keepMs,
      rotationRecord(audit, BY_CLI),
    );
    return { kid: rotation.kid, added: rotation.added, retired: rotation.retired, dropped: rotation.dropped };
  } finally {
    await db.destroy();
  }
}
