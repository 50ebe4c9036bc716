import cluster from 'node:cluster';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './config.ts';
import type { BuiltApp } from './app.ts';
import { migrateToLatest, openDatabase } from './db/client.ts';
import { createLogger } from './logger.ts';
import { loadServerKeys, rotateSigningKeys } from './oidc/keys.ts';
import { createServerSecretsRepo } from './oidc/server-secrets.repo.ts';
import { AppError } from './http/errors.ts';
import { DomainError } from './domain/errors.ts';
import { parseWire } from './wire/parse.ts';
import { createApplicationSchema } from './wire/applications.ts';
import { createApiKeySchema } from './wire/api-keys.ts';
import { sessionPrincipal } from './domain/principal.ts';
import { createSharedJwtVerifier } from './auth/shared-jwt.ts';
import { createSecretBox, loadSecretsKey } from './shared/encryption.ts';

const HELP = `latchkey: manage a Latchkey server's database (prints JSON on stdout)

Commands:
  latchkey users create --email E --password-stdin [--admin] [--name N]
  latchkey apps create --owner E --name N --redirect-uri U [--redirect-uri U2]
                       --scopes "s1 s2" [--type web|spa|native|service|resource_server]
  latchkey keys create --owner E --name N --scopes "s1 s2" [--expires-in 90d] [--allow-ip CIDR ...] [--burst N --hourly M]
  latchkey keys rotate-signing
  latchkey jwt sign --sub S --scopes "s1 s2" [--expires-in 1h] [--name NAME]   (needs JWT_SECRET)
  latchkey migrate
  latchkey serve [--workers N]      (runs the server; N processes on one port with --workers)

Settings come from the environment, as for \`npm start\` (DATABASE_URL, ISSUER, ...).
\`latchkey <command> --help\` explains one command.`;

class UsageError extends Error {}

function positiveInt(text: string, flag: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new UsageError(`${flag} must be a whole number of at least 1`);
  return Number(text);
}

/** `90d`, `12h`, `30m`, `45s` or plain seconds, to seconds. */
function parseDuration(text: string): number {
  const m = /^(\d+)([dhms]?)$/.exec(text.trim());
  if (!m || Number(m[1]) === 0) throw new UsageError(`not a duration: ${text} (use e.g. 90d, 12h, 30m)`);
  return Number(m[1]) * ({ d: 86_400, h: 3600, m: 60, s: 1, '': 1 } as const)[m[2] as 'd' | 'h' | 'm' | 's' | ''];
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) throw new UsageError('--password-stdin expects the password on standard input');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

async function withApp<T>(fn: (built: BuiltApp) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const db = openDatabase(config);
  try {
    await migrateToLatest(db);
    const secretsKey = loadSecretsKey(config.SECRETS_KEY, config.secretsKeyFile).key;
    const keys = await loadServerKeys(createServerSecretsRepo(db, createSecretBox(secretsKey)), Date.now());
    // Loaded only for commands that need the whole app: `migrate` and usage errors stay fast.
    const { buildApp } = await import('./app.ts');
    const built = buildApp({ config, db, keys, secretsKey, logger: createLogger('silent') });
    try {
      return await fn(built);
    } finally {
      await built.stop();
    }
  } finally {
    await db.destroy();
  }
}

/** Each command's own help: `latchkey <command> --help`. */
const COMMAND_HELP: Record<string, string> = {
  'users create': `latchkey users create --email E --password-stdin [--admin] [--name N]
  Creates an account. The password is read from standard input (never an argument, so it stays
  out of shell history and process lists). Prints {id, email, is_admin}.`,
  'apps create': `latchkey apps create --owner E --name N --redirect-uri U [--redirect-uri U2] --scopes "s1 s2"
                     [--type web|spa|native|service|resource_server]
  Registers an OAuth application for the account E. Prints the application with its
  client_secret (shown once; none for spa and native apps).`,
  'keys create': `latchkey keys create --owner E --name N --scopes "s1 s2" [--expires-in 90d] [--allow-ip CIDR ...]
                     [--burst N --hourly M]
  Generates an API key for the account E (shown once), acting as that account: the key's scopes
  are within what E may hold. --burst/--hourly give the key its own rate limit, at most
  RATE_LIMIT_API_KEY unless E is an admin.`,
  'jwt sign': `latchkey jwt sign --sub S --scopes "s1 s2" [--expires-in 1h] [--name NAME]
  Signs a shared-secret HS256 JWT with JWT_SECRET and JWT_ISSUER, as a trusted service would.
  Prints {token, expires_in}.`,
  migrate: `latchkey migrate
  Applies pending database migrations (npm start also does). Prints {migrated: [...]}.`,
  'keys rotate-signing': `latchkey keys rotate-signing
  Generates new signing keys (RS256 and ES256) and puts them first in the stored JWKS, so they sign
  new tokens. The keys that signed until now stay published at /oauth/jwks, so tokens they signed
  keep verifying until they expire; keys retired longer ago than the longest token lifetime
  (max(ACCESS_TOKEN_TTL, 3600 s for ID tokens)) are dropped. Prints {kid, added, retired, dropped}.
  Running servers load keys when they start: restart them (every instance) to sign with the new key.`,
  serve: `latchkey serve [--workers N]
  Runs the server, as npm start does (PORT, ISSUER, DATABASE_URL, ... from the environment).
  --workers N: N processes (node:cluster) share the port; the primary prepares the database once,
  replaces a worker that dies, and on SIGTERM stops every worker gracefully. On SQLite the workers
  share the file in WAL mode, and their rate-limit counters and sign-in throttle through the
  primary, so a limit holds whatever N is. /metrics answers with every worker's metrics summed.`,
};

async function run(argv: string[]): Promise<unknown> {
  const [group, action, ...rest] = argv;
  if (!group || group === '--help' || group === '-h' || group === 'help') {
    process.stdout.write(`${HELP}\n`);
    return undefined;
  }
  const command = group === 'migrate' || group === 'serve' ? group : `${group} ${action ?? ''}`;
  if (argv.includes('--help') || argv.includes('-h')) {
    // `latchkey keys --help` asks about a group: every command in it.
    const inGroup = Object.keys(COMMAND_HELP).filter((name) => name === group || name.startsWith(`${group} `));
    const help =
      COMMAND_HELP[command] ?? (inGroup.length ? inGroup.map((name) => COMMAND_HELP[name]).join('\n\n') : undefined);
    if (!help) throw new UsageError(`unknown command: ${command.trim()} (see latchkey --help)`);
    process.stdout.write(`${help}\n`);
    return undefined;
  }

  if (group === 'migrate') {
    const config = loadConfig();
    const db = openDatabase(config);
    try {
      const results = await migrateToLatest(db);
      return { migrated: (results ?? []).map((r) => r.migrationName) };
    } finally {
      await db.destroy();
    }
  }

  if (group === 'serve') {
    const { values } = parseArgs({ args: argv.slice(1), options: { workers: { type: 'string' } } });
    const config = loadConfig();
    const { serveCluster, serveProcess } = await import('./serve.ts');
    if (values.workers !== undefined && cluster.isPrimary)
      await serveCluster(config, positiveInt(values.workers, '--workers'));
    else await serveProcess(config);
    return undefined;
  }

  if (group === 'keys' && action === 'rotate-signing') {
    parseArgs({ args: rest, options: {} });
    const config = loadConfig();
    const db = openDatabase(config);
    try {
      await migrateToLatest(db);
      const { ID_TOKEN_TTL } = await import('./oidc/provider.ts');
      const keepMs = Math.max(config.ACCESS_TOKEN_TTL, ID_TOKEN_TTL) * 1000;
      const rotation = await rotateSigningKeys(
        createServerSecretsRepo(db, createSecretBox(loadSecretsKey(config.SECRETS_KEY, config.secretsKeyFile).key)),
        Date.now(),
        keepMs,
      );
      return { kid: rotation.kid, added: rotation.added, retired: rotation.retired, dropped: rotation.dropped };
    } finally {
      await db.destroy();
    }
  }

  if (group === 'users' && action === 'create') {
    const { values } = parseArgs({
      args: rest,
      options: {
        email: { type: 'string' },
        'password-stdin': { type: 'boolean' },
        admin: { type: 'boolean' },
        name: { type: 'string' },
      },
    });
    if (!values.email) throw new UsageError('users create needs --email');
    if (!values['password-stdin'])
      throw new UsageError('users create needs --password-stdin (the password is never an argument)');
    const password = await readStdin();
    return withApp(async ({ services }) => {
      const account = await services.accounts.signUp({
        email: values.email!,
        password,
        name: values.name,
        isAdmin: values.admin ?? false,
      });
      return { id: account.id, email: account.email, is_admin: account.isAdmin };
    });
  }

  if (group === 'apps' && action === 'create') {
    const { values } = parseArgs({
      args: rest,
      options: {
        owner: { type: 'string' },
        name: { type: 'string' },
        'redirect-uri': { type: 'string', multiple: true },
        scopes: { type: 'string' },
        type: { type: 'string' },
      },
    });
    if (!values.owner) throw new UsageError('apps create needs --owner (an account email)');
    return withApp(async ({ services }) => {
      const owner = await services.accounts.findByEmail(values.owner!);
      if (!owner) throw new UsageError(`no account with email ${values.owner}`);
      // The operator acts as the owner would: the application holds at most the owner's rights.
      const input = parseWire(createApplicationSchema, {
        name: values.name,
        redirect_uris: values['redirect-uri'] ?? [],
        scopes: (values.scopes ?? '').split(/[\s,]+/).filter(Boolean),
        ...(values.type ? { type: values.type } : {}),
      });
      const app = await services.applications.register(sessionPrincipal(owner), input);
      return app;
    });
  }

  if (group === 'keys' && action === 'create') {
    const { values } = parseArgs({
      args: rest,
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
    if ((values.burst === undefined) !== (values.hourly === undefined))
      throw new UsageError('keys create: give --burst and --hourly together');
    const rateLimit =
      values.burst !== undefined
        ? { burst: positiveInt(values.burst, '--burst'), hourly: positiveInt(values.hourly!, '--hourly') }
        : null;
    if (!values.owner) throw new UsageError('keys create needs --owner (an account email)');
    const expiresIn = values['expires-in'] ? parseDuration(values['expires-in']) : null;
    return withApp(async ({ services }) => {
      const owner = await services.accounts.findByEmail(values.owner!);
      if (!owner) throw new UsageError(`no account with email ${values.owner}`);
      const input = parseWire(createApiKeySchema, {
        name: values.name,
        scopes: (values.scopes ?? '').split(/[\s,]+/).filter(Boolean),
        ...(expiresIn ? { expires_at: new Date(Date.now() + expiresIn * 1000).toISOString() } : {}),
        ...(values['allow-ip'] ? { allowed_ips: values['allow-ip'] } : {}),
        ...(rateLimit ? { rate_limit: rateLimit } : {}),
      });
      const created = await services.apiKeys.create(sessionPrincipal(owner), input);
      return created;
    });
  }

  if (group === 'jwt' && action === 'sign') {
    const { values } = parseArgs({
      args: rest,
      options: {
        sub: { type: 'string' },
        scopes: { type: 'string' },
        'expires-in': { type: 'string' },
        name: { type: 'string' },
      },
    });
    if (!values.sub) throw new UsageError('jwt sign needs --sub');
    const config = loadConfig();
    if (!config.JWT_SECRET) throw new UsageError('jwt sign needs the JWT_SECRET setting');
    const lifetime = parseDuration(values['expires-in'] ?? '1h');
    if (lifetime > config.JWT_MAX_LIFETIME)
      throw new UsageError(`--expires-in may be at most ${config.JWT_MAX_LIFETIME}s (JWT_MAX_LIFETIME)`);
    const verifier = createSharedJwtVerifier({
      secret: config.JWT_SECRET,
      issuer: config.JWT_ISSUER,
      maxLifetime: config.JWT_MAX_LIFETIME,
      now: Date.now,
    });
    const scopes = (values.scopes ?? '').split(/[\s,]+/).filter(Boolean);
    const token = verifier.sign({ sub: values.sub, scopes, ...(values.name ? { name: values.name } : {}) }, lifetime);
    return { token, expires_in: lifetime };
  }

  throw new UsageError(`unknown command: ${argv.join(' ')} (see latchkey --help)`);
}

run(process.argv.slice(2)).then(
  (result) => {
    if (result !== undefined) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  },
  (err: Error) => {
    const message =
      err instanceof AppError || err instanceof DomainError || err instanceof UsageError || err instanceof ConfigError
        ? err.message
        : (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
          ? err.message
          : `unexpected error: ${err.message}`;
    process.stderr.write(`latchkey: ${message}\n`);
    process.exitCode = 1;
  },
);
