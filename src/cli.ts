import { UsageError } from './cli/usage.ts';

// The entry point imports nothing else up front: `latchkey --help` answers at once, and each command
// loads only its own modules (none of them the HTTP app).

const HELP = `latchkey: manage a Latchkey server's database (prints JSON on stdout)

Commands:
  latchkey users create --email E --password-stdin [--admin] [--name N]
  latchkey users disable|enable|reset-2fa EMAIL
  latchkey apps create --owner E --name N --redirect-uri U [--redirect-uri U2]
                       --scopes "s1 s2" [--type web|spa|native|service|resource_server]
  latchkey apis create --owner E --name N --identifier URL [--scope name:description ...]
                       [--token-format opaque|jwt] [--token-ttl SECONDS]
  latchkey apis list [--owner E]
  latchkey keys create --owner E --name N --scopes "s1 s2" [--expires-in 90d] [--allow-ip CIDR ...]
                       [--burst N --hourly M]
  latchkey keys rotate-signing
  latchkey registration-tokens create --admin E [--expires-in 7d] [--uses N]
  latchkey jwt sign --sub S --scopes "s1 s2" [--expires-in 1h] [--name NAME]   (needs JWT_SECRET)
  latchkey mail test --to ADDRESS
  latchkey audit export [--format jsonl|csv] [--since DATE] [--until DATE] [--type T] [--account E]
  latchkey migrate
  latchkey serve [--workers N]      (runs the server; N processes on one port with --workers)

Settings come from the environment, as for \`npm start\` (DATABASE_URL, ISSUER, ...).
\`latchkey <command> --help\` explains one command.`;

/** Each command's own help: `latchkey <command> --help`. */
const COMMAND_HELP: Record<string, string> = {
  'users create': `latchkey users create --email E --password-stdin [--admin] [--name N]
  Creates an account. The password is read from standard input (never an argument, so it stays
  out of shell history and process lists). Prints {id, email, is_admin}.`,
  'users disable': `latchkey users disable EMAIL
  Disables the account: its sessions end, its grants are revoked and every credential of it (API keys,
  OAuth tokens, its applications' client-credentials tokens) is refused; running servers hear of it
  within about a second. Prints the account.`,
  'users enable': `latchkey users enable EMAIL
  Enables a disabled account: its API keys work again (sessions and grants do not come back).
  Prints the account.`,
  'users reset-2fa': `latchkey users reset-2fa EMAIL
  Turns off the account's authenticator-app second factor and deletes its recovery codes (passkeys
  stay); the owner is told by email. Prints the account.`,
  'apps create': `latchkey apps create --owner E --name N --redirect-uri U [--redirect-uri U2] --scopes "s1 s2"
                     [--type web|spa|native|service|resource_server]
  Registers an OAuth application for the account E. Prints the application with its
  client_secret (shown once; none for spa and native apps).`,
  'apis create': `latchkey apis create --owner E --name N --identifier URL [--scope name:description ...]
                     [--token-format opaque|jwt] [--token-ttl SECONDS]
  Registers an API (resource server) for the account E: its identifier (an https URL, the
  \`resource\` clients send and the audience of its tokens) and its scopes, e.g.
  --scope "read:orders:Read your orders". Prints the API.`,
  'apis list': `latchkey apis list [--owner E]
  Lists the registered APIs (every account's, or E's). Prints {data: [...]}.`,
  'keys create': `latchkey keys create --owner E --name N --scopes "s1 s2" [--expires-in 90d] [--allow-ip CIDR ...]
                     [--burst N --hourly M]
  Generates an API key for the account E (shown once), acting as that account: the key's scopes
  are within what E may hold. --burst/--hourly give the key its own rate limit, at most
  RATE_LIMIT_API_KEY unless E is an admin.`,
  'registration-tokens create': `latchkey registration-tokens create --admin E [--expires-in 7d] [--uses N]
  Issues an initial access token for dynamic client registration (DYNAMIC_REGISTRATION=token) as
  the admin account E, who then owns the clients registered with it. --expires-in: how long it
  works (none: until deleted); --uses: how many clients may register with it. Prints the token
  (shown once: only its hash is stored) with {id, created_by, created_at, expires_at, max_uses, uses}.`,
  'jwt sign': `latchkey jwt sign --sub S --scopes "s1 s2" [--expires-in 1h] [--name NAME]
  Signs a shared-secret HS256 JWT with JWT_SECRET and JWT_ISSUER, as a trusted service would.
  Prints {token, expires_in}.`,
  'mail test': `latchkey mail test --to ADDRESS
  Queues the test message ("Latchkey can send mail") for ADDRESS and sends it at once, through
  EMAIL_URL (or, without it, into an .eml file in the data folder). Prints {id, to, destination,
  status, attempts, error?}: "sent", or "pending" when the mail server refused it for now (the
  running servers retry it), or "failed" when it refused it for good.`,
  'audit export': `latchkey audit export [--format jsonl|csv] [--since DATE] [--until DATE] [--type T] [--account E]
  Writes the audit trail to standard output, newest first: JSON lines (default; one event per line,
  the API's JSON shape) or CSV (a header row; cells that a spreadsheet would run as a formula are
  prefixed with '). --since / --until: ISO dates (both days included, UTC) or instants; --type: one
  event type (e.g. sign_in.failed); --account E: the events of the account E. The export itself is
  recorded in the trail (audit.exported, actor cli).`,
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

/** Each command's module, loaded when it runs; it gets the arguments after the command's name. */
const COMMANDS: Record<string, () => Promise<(args: string[]) => Promise<unknown>>> = {
  'users create': async () => (await import('./cli/users.ts')).createUser,
  'users disable': async () => (await import('./cli/users.ts')).adminAction('disable'),
  'users enable': async () => (await import('./cli/users.ts')).adminAction('enable'),
  'users reset-2fa': async () => (await import('./cli/users.ts')).adminAction('reset-2fa'),
  'apps create': async () => (await import('./cli/apps.ts')).createApp,
  'apis create': async () => (await import('./cli/apis.ts')).createApi,
  'apis list': async () => (await import('./cli/apis.ts')).listApis,
  'keys create': async () => (await import('./cli/keys.ts')).createKey,
  'keys rotate-signing': async () => (await import('./cli/keys.ts')).rotateSigning,
  'jwt sign': async () => (await import('./cli/jwt.ts')).signJwt,
  'registration-tokens create': async () => (await import('./cli/registration-tokens.ts')).createRegistrationToken,
  'mail test': async () => (await import('./cli/mail.ts')).mailTest,
  'audit export': async () => (await import('./cli/audit.ts')).exportAudit,
  migrate: async () => (await import('./cli/migrate.ts')).migrate,
  serve: async () => (await import('./cli/serve.ts')).serve,
};

async function run(argv: string[]): Promise<unknown> {
  const [group, action] = argv;
  if (!group || group === '--help' || group === '-h' || group === 'help') {
    process.stdout.write(`${HELP}\n`);
    return undefined;
  }
  const oneWord = group === 'migrate' || group === 'serve';
  const command = oneWord || !action || action.startsWith('-') ? group : `${group} ${action}`;
  if (argv.includes('--help') || argv.includes('-h')) {
    // `latchkey keys --help` asks about a group: every command in it.
    const inGroup = Object.keys(COMMAND_HELP).filter((name) => name === group || name.startsWith(`${group} `));
    const help =
      COMMAND_HELP[command] ?? (inGroup.length ? inGroup.map((name) => COMMAND_HELP[name]).join('\n\n') : undefined);
    if (!help) throw new UsageError(`unknown command: ${command} (see latchkey --help)`);
    process.stdout.write(`${help}\n`);
    return undefined;
  }
  const load = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!load) throw new UsageError(`unknown command: ${argv.join(' ')} (see latchkey --help)`);
  return (await load())(argv.slice(oneWord ? 1 : 2));
}

/** One line for what the operator can fix; anything else is unexpected (and says so). */
async function describe(err: Error): Promise<string> {
  if (err instanceof UsageError) return err.message;
  if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) return err.message;
  // Loaded only now: they are loaded already whenever a command could have thrown them.
  const [{ AppError }, { DomainError }, { ConfigError }] = await Promise.all([
    import('./http/errors.ts'),
    import('./domain/errors.ts'),
    import('./config.ts'),
  ]);
  if (err instanceof AppError || err instanceof DomainError || err instanceof ConfigError) return err.message;
  return `unexpected error: ${err.message}`;
}

run(process.argv.slice(2)).then(
  (result) => {
    if (result !== undefined) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  },
  async (err: Error) => {
    process.stderr.write(`latchkey: ${await describe(err)}\n`);
    process.exitCode = 1;
  },
);
