/**
 * Seeds a fresh benchmark database through Latchkey's own services (what `latchkey users create`,
 * `apps create`, `keys create` and `jwt sign` do, in one process instead of five): an admin
 * account, a `service` app (client_credentials), a `resource_server` app (introspection), a `web`
 * app (code flow, refresh tokens), one API key with its own high rate limit, and a shared-secret
 * JWT for the admin. Settings come from the environment (DATABASE_URL, SECRETS_KEY, JWT_SECRET...).
 * Prints the credentials as one JSON document on stdout.
 */
import { loadConfig } from '../src/config.ts';
import { migrateToLatest, openDatabase } from '../src/db/client.ts';
import { createLogger } from '../src/logger.ts';
import { loadServerKeys } from '../src/oidc/keys.ts';
import { createServerSecretsRepo } from '../src/oidc/server-secrets.repo.ts';
import { loadSecretsKey } from '../src/shared/encryption.ts';
import { buildApp } from '../src/app.ts';
import { heldScopes } from '../src/auth/authenticate.ts';

export const BENCH_EMAIL = 'bench-admin@example.com';
export const BENCH_PASSWORD = 'bench passphrase 0123';
export const REDIRECT_URI = 'https://bench.example.com/callback';

const config = loadConfig();
const db = openDatabase(config);
await migrateToLatest(db);
const keys = await loadServerKeys(createServerSecretsRepo(db), Date.now());
const secretsKey = loadSecretsKey(config.SECRETS_KEY, config.secretsKeyFile).key;
const built = buildApp({ config, db, keys, secretsKey, logger: createLogger('silent') });
const { accounts, applications, apiKeys, sharedJwt } = built.services;

const admin = await accounts.signUp({ email: BENCH_EMAIL, password: BENCH_PASSWORD, isAdmin: true });
const service = await applications.register(admin, { name: 'Bench service', type: 'service', redirect_uris: [], scopes: ['read:users'] });
const resourceServer = await applications.register(admin, { name: 'Bench resource server', type: 'resource_server', redirect_uris: [], scopes: ['read:users'] });
const web = await applications.register(admin, { name: 'Bench web app', redirect_uris: [REDIRECT_URI], scopes: ['read:users'] });
const hotKey = await apiKeys.create(
  { userId: admin.id, heldScopes: heldScopes(admin) },
  { name: 'bench hot key', scopes: ['read:users'], rate_limit: { hourly: 100_000_000, burst: 1_000_000 } },
);
if (!sharedJwt) throw new Error('JWT_SECRET is not set');
const jwt = sharedJwt.sign({ sub: admin.id, scopes: ['read:users'] }, 3600);

await built.stop();
await db.destroy();

const pick = (a: { client_id: string; client_secret?: string }) => ({ client_id: a.client_id, client_secret: a.client_secret! });
process.stdout.write(
  `${JSON.stringify({
    userId: admin.id,
    email: BENCH_EMAIL,
    password: BENCH_PASSWORD,
    redirectUri: REDIRECT_URI,
    service: pick(service),
    resourceServer: pick(resourceServer),
    web: pick(web),
    apiKey: hotKey.key,
    jwt,
  })}\n`,
);
