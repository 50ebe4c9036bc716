import path from 'node:path';
import { z } from 'zod';
import { REGISTRATION_MODES } from './domain/registration.ts';

/**
 * Every setting Latchkey reads from the environment, declared once with its default and the reason
 * it exists. `loadConfig` validates them all at start; a bad value stops the process with one line
 * that names the setting (see `ConfigError`).
 */
/** A rate-limit policy written `hourly,burst`, e.g. `10000,100`. */
const policy = (fallback: string) =>
  z
    .string()
    .regex(/^\d+,\d+$/, 'must be "hourly,burst", e.g. 10000,100')
    .default(fallback)
    .transform((v) => {
      const [hourly, burst] = v.split(',').map(Number) as [number, number];
      return { hourly, burst };
    })
    .refine((p) => p.hourly >= 1 && p.burst >= 1, 'both limits must be at least 1');

const schema = z.object({
  /** TCP port the HTTP server listens on. */
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),

  /**
   * Public base URL of this server, without a trailing slash. It is the `iss` of every token and the
   * base of every endpoint in the discovery documents, so it must be what clients actually call.
   * Passkeys are bound to its hostname (the WebAuthn relying-party id) and origin. Defaults to
   * `http://localhost:<PORT>`: with only PORT set, the pages, redirects and discovery documents
   * name the port the server listens on.
   */
  ISSUER: z
    .url({ protocol: /^https?$/ })
    .transform((u) => u.replace(/\/+$/, ''))
    .optional(),

  /** `sqlite:<path>` (relative to the working directory) or `postgres://...`. */
  DATABASE_URL: z
    .string()
    .regex(/^(sqlite:.+|postgres(ql)?:\/\/.+)$/, 'must be sqlite:<path> or postgres://...')
    .default('sqlite:db/latchkey.sqlite'),

  /** `open`: anyone may create an account at /signup. `closed`: only `latchkey users create`. */
  SIGNUP: z.enum(['open', 'closed']).default('open'),

  /**
   * Dynamic client registration at /oauth/register (RFC 7591, managed per RFC 7592). `off` (the
   * default): no endpoint, none advertised. `open`: anyone may register a public client (PKCE, no
   * secret), limited per address by RATE_LIMIT_REGISTRATION; it works at once but shows as
   * unreviewed until an admin approves it. `token`: registration needs an initial access token an
   * admin issued (`latchkey registration-tokens create`), and confidential clients may register too.
   */
  DYNAMIC_REGISTRATION: z.enum(REGISTRATION_MODES).default('off'),

  /**
   * Identifier of the /v2 API as an OAuth resource (RFC 8707). Access tokens are issued for it by
   * default and carry it as their audience. Defaults to `${ISSUER}/v2`.
   */
  API_RESOURCE: z.url().optional(),

  /** Lifetime of OAuth access tokens, in seconds (one hour, as the documented examples show). */
  ACCESS_TOKEN_TTL: z.coerce.number().int().min(60).max(86_400).default(3600),

  /**
   * Device authorization grant (RFC 8628): how long a device code and its user code stay usable,
   * in seconds (the person has this long to enter the code at /device), and the interval in
   * seconds a device must leave between two polls of the token endpoint (faster: `slow_down`).
   */
  DEVICE_CODE_TTL: z.coerce.number().int().min(1).max(1800).default(600),
  DEVICE_POLL_INTERVAL: z.coerce.number().int().min(1).max(60).default(5),

  /** Lifetime of refresh tokens, in seconds; each rotation issues a token with a fresh lifetime. */
  REFRESH_TOKEN_TTL: z.coerce
    .number()
    .int()
    .min(300)
    .default(30 * 86_400),

  /**
   * However often it is rotated, a refresh token chain ends this long after the person authorized
   * the application (the grant's lifetime; a remembered consent lasts as long): then they sign in
   * and authorize again. Seconds, default 90 days; a stolen refresh token cannot live for ever.
   */
  REFRESH_TOKEN_ABSOLUTE_TTL: z.coerce
    .number()
    .int()
    .min(300)
    .default(90 * 86_400),

  /**
   * How long a just-rotated refresh token may still be presented (two tabs refreshing at once)
   * before a presentation counts as reuse and revokes the whole grant. Seconds; 0 turns it off.
   */
  REFRESH_TOKEN_REUSE_GRACE: z.coerce.number().int().min(0).max(60).default(5),

  /**
   * Shared secret for HS256 JWTs that services sign themselves (see the API guide's "Shared-secret JWTs").
   * Unset: such JWTs are refused. At least 32 characters (RFC 7518 §3.2: a key as long as the hash).
   */
  JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),

  /** The `iss` every shared-secret JWT must carry (the documented examples sign with `issuer: 'api.example.com'`). */
  JWT_ISSUER: z.string().min(1).default('api.example.com'),

  /** Longest accepted lifetime of a shared-secret JWT (exp - iat, and exp - now), in seconds. */
  JWT_MAX_LIFETIME: z.coerce.number().int().min(60).default(86_400),

  /**
   * `opaque` (default): OAuth access tokens are random strings, checked by introspection.
   * `jwt`: RFC 9068 JWTs signed with the provider's key, verifiable offline with /oauth/jwks.
   */
  ACCESS_TOKEN_FORMAT: z.enum(['opaque', 'jwt']).default('opaque'),

  /**
   * How ID tokens are signed: `RS256` (default; every OpenID relying party must accept it) or
   * `ES256` (shorter tokens, P-256). Both keys are always published at /oauth/jwks, so switching
   * needs no key rotation; the setting applies to every application.
   */
  ID_TOKEN_SIGNING_ALG: z.enum(['RS256', 'ES256']).default('RS256'),

  /**
   * How long a process trusts what it looked up about a credential: an API key, an application and
   * its client secret, an OAuth access token, a JWT's account. Seconds; 0 turns the caches off.
   * Revocations, rotations and deletions made through this instance apply at once; other instances
   * sharing the database hear of them within about a second (CREDENTIAL_EVENTS_*), and at worst
   * (the database unreachable meanwhile) within this time. Without it every request would read the
   * database for what it learnt a moment ago (the hot paths in `npm run bench`). An API key is kept
   * from its second read on: keys presented once each pass through without evicting any.
   */
  CREDENTIAL_CACHE_TTL: z.coerce.number().int().min(0).max(300).default(10),

  /**
   * How often each instance reads the credential changes (revocations, deletions) that instances
   * sharing its database recorded, to forget them from its caches. Milliseconds. On PostgreSQL a
   * notification usually says so sooner; this poll is what converges when one is missed, and all
   * there is on SQLite (`latchkey serve --workers N`, several processes on one file).
   */
  CREDENTIAL_EVENTS_POLL_MS: z.coerce.number().int().min(50).max(60_000).default(500),

  /**
   * PostgreSQL: LISTEN for credential changes on a dedicated connection, so the other instances
   * hear a revocation within milliseconds. `0` where LISTEN cannot work (a pooler such as PgBouncer
   * in transaction mode): CREDENTIAL_EVENTS_POLL_MS alone then carries them.
   */
  CREDENTIAL_EVENTS_LISTEN: z
    .enum(['0', '1', 'true', 'false', ''])
    .default('1')
    .transform((v) => v === '1' || v === 'true'),

  /** After an API key is rotated, the old key keeps working this long (never past its expiry). Seconds. */
  API_KEY_ROTATION_GRACE: z.coerce.number().int().min(0).default(86_400),

  /** API key activity entries older than this many days are deleted. */
  API_KEY_ACTIVITY_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(90),

  /**
   * Audit events older than this many days are deleted. A year by default: long enough to answer
   * "who did what" about last quarter, short enough that a sign-in history does not grow forever.
   */
  AUDIT_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(365),

  /**
   * API key activity is written in batches each second; while the database cannot take it
   * (restarting, locked) at most this many entries wait in memory per process, and newer ones
   * are dropped (and the count logged). About 200 bytes each.
   */
  API_KEY_ACTIVITY_BACKLOG: z.coerce.number().int().min(100).max(1_000_000).default(50_000),

  /**
   * Rate limits, the documented table: per API key, per OAuth user, per JWT, per address when
   * unauthenticated. An API key may carry its own override (`rate_limit` at creation): lower than
   * RATE_LIMIT_API_KEY for anyone, higher only when set with admin:all.
   */
  RATE_LIMIT_API_KEY: policy('10000,100'),
  RATE_LIMIT_OAUTH: policy('5000,50'),
  RATE_LIMIT_JWT: policy('10000,100'),
  RATE_LIMIT_UNAUTHENTICATED: policy('100,5'),
  /** Token endpoint, per authenticated client (unauthenticated callers get the per-address limit). */
  RATE_LIMIT_TOKEN_ENDPOINT: policy('10000,100'),
  /** Application registration and management, per account. */
  RATE_LIMIT_APPLICATIONS: policy('1000,10'),
  /**
   * Authorization requests (GET/POST /oauth/authorize), per address: each stores an interaction for
   * an hour. A person starts one per sign-in; the default leaves room for a whole office behind one
   * address and still bounds a flood.
   */
  RATE_LIMIT_AUTHORIZE: policy('2000,20'),
  /**
   * User codes entered at /device, per address and per account (each form post counts): a user
   * code is short enough to type, so guessing is bounded here rather than by its length alone.
   */
  RATE_LIMIT_DEVICE_CODE: policy('60,5'),
  /** Sign-ups at /signup, per address (each costs a password hash). */
  RATE_LIMIT_SIGNUP: policy('20,1'),
  /**
   * Password and code checks (both sign-in forms, the second factor, re-confirmation, Settings),
   * per address, counted before the check and successful ones included. Each account also allows
   * only 3 a minute and 10 an hour between two sign-ins, whatever the address.
   */
  RATE_LIMIT_LOGIN: policy('100,10'),
  /**
   * "Forgot password?" requests, counted per address asked about and per client address: each may
   * send an email. Over the limit the answer is the same page (it says nothing about the account)
   * and no mail is queued.
   */
  RATE_LIMIT_PASSWORD_RESET: policy('10,1'),
  /**
   * Dynamic client registrations (POST /oauth/register), per client address: each stores an
   * application. Management of a registered client (RFC 7592) counts here too.
   */
  RATE_LIMIT_REGISTRATION: policy('20,2'),

  /**
   * Sudo mode: password, second factor and other account-security changes need the browser to have
   * signed in or re-entered its password (or a code) within this many seconds; the cookie alone
   * is not enough. GitHub uses a similar window.
   */
  FRESH_AUTH_MAX_AGE: z.coerce.number().int().min(60).max(86_400).default(600),

  /**
   * 32 random bytes, base64: encrypts secrets that must be used again (webhook signing secrets,
   * TOTP seeds). Unset: generated once into `latchkey.secrets.key` beside the SQLite file. Set it
   * explicitly when several instances share a database.
   */
  SECRETS_KEY: z
    .string()
    .refine((v) => Buffer.from(v, 'base64').length === 32, 'must be 32 bytes, base64-encoded')
    .transform((v) => Buffer.from(v, 'base64'))
    .optional(),

  /** Deliver webhooks to loopback, private, link-local and metadata addresses (local development, tests). */
  WEBHOOK_ALLOW_PRIVATE: z
    .enum(['0', '1', 'true', 'false', ''])
    .default('0')
    .transform((v) => v === '1' || v === 'true'),

  /** An endpoint failing without a single success for this long is disabled. Seconds (default 5 days). */
  WEBHOOK_DISABLE_AFTER: z.coerce
    .number()
    .int()
    .min(60)
    .default(5 * 86_400),

  /** After a webhook secret rotation, deliveries are signed with both secrets this long. Seconds. */
  WEBHOOK_SECRET_OVERLAP: z.coerce.number().int().min(0).default(86_400),

  /**
   * Webhook endpoints one account may have. Each can hold delivery slots for up to the response
   * timeout, so the cap bounds what one account can ask of the delivery pool.
   */
  WEBHOOK_MAX_ENDPOINTS: z.coerce.number().int().min(1).max(1000).default(20),

  /**
   * Webhook deliveries one instance has in flight at once (a slot freed is refilled at once). One
   * account holds at most a quarter of them, one endpoint at most 2 (across all instances), so a
   * few stalled receivers cannot hold up everyone else's deliveries.
   */
  WEBHOOK_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(32),

  /**
   * Where mail goes: `smtp://user:pass@host:587` (STARTTLS when the server offers it) or
   * `smtps://user:pass@host:465` (TLS from the start); user and password URL-encoded. A secret
   * (it holds the password): never logged, shown masked. Unset: each message is written as an
   * `.eml` file under `mail/` in the data folder (beside the SQLite file, `db/` for PostgreSQL) and
   * logged with its first link, for local development; with NODE_ENV=production that warns at start.
   */
  EMAIL_URL: z
    .string()
    .regex(/^smtps?:\/\/[^\s]+$/, 'must be smtp://user:pass@host:587 or smtps://user:pass@host:465')
    .refine((v) => URL.canParse(v), 'must be a valid URL')
    .optional(),

  /**
   * `true`: an account must prove its email address (the link sent at sign-up) before it can sign
   * in to an OAuth application; the dashboard stays open so it can ask for a new link. Unset: on
   * when EMAIL_URL is set (mail can reach people), off otherwise; an explicit `true`/`false` wins.
   */
  REQUIRE_EMAIL_VERIFICATION: z.enum(['0', '1', 'true', 'false']).optional(),

  /** The From of every message, e.g. `Latchkey <no-reply@example.com>`. Default: no-reply at ISSUER's host. */
  EMAIL_FROM: z
    .string()
    .min(3)
    .max(320)
    .regex(/^[^\r\n]+$/, 'must be one line')
    .optional(),

  /**
   * `production`: page templates are cached, and starting without EMAIL_URL warns (mail would only
   * be written to files). Anything else is development.
   */
  NODE_ENV: z.string().optional(),

  /**
   * How many proxies you control stand in front of Latchkey (0: none). Behind N, `X-Forwarded-For`
   * and `X-Forwarded-Proto` are honoured and the client's address is the Nth `X-Forwarded-For`
   * entry from the right, the one the outermost trusted proxy appended; entries to its left are
   * the client's own to forge and are ignored. `true`/`false` still mean 1/0.
   */
  TRUST_PROXY: z
    .string()
    .regex(/^(\d{1,2}|true|false)$/, 'must be the number of trusted proxy hops (0, 1, 2, ...) or true/false')
    .default('0')
    .transform((v) => (v === 'true' ? 1 : v === 'false' ? 0 : Number(v))),

  /**
   * Bearer token for GET /metrics (`Authorization: Bearer <METRICS_TOKEN>`), for a Prometheus that
   * scrapes from another machine. Unset: /metrics answers only loopback callers that came through
   * no proxy (no X-Forwarded-For / Forwarded header). At least 16 characters.
   */
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),

  /**
   * `1`: every answer carries `X-Latchkey-Pid` (the process that answered), so tests of
   * `latchkey serve --workers N` can see the workers take turns. Leave unset in production.
   */
  LATCHKEY_DEBUG_PID: z
    .enum(['0', '1', 'true', 'false', ''])
    .default('0')
    .transform((v) => v === '1' || v === 'true'),

  /** pino level: fatal, error, warn, info, debug, trace or silent. */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  /**
   * argon2id cost for passwords. The defaults are OWASP's minimum (19 MiB, t=2, p=1), about 22 ms per
   * verify on these machines; raise them on larger hardware, never below the minimum.
   */
  ARGON2_MEMORY_KIB: z.coerce.number().int().min(19_456).default(19_456),
  ARGON2_TIME_COST: z.coerce.number().int().min(2).default(2),
});

/**
 * How the operators' console shows each setting: `shown` as it is; `secret` only as set / not set
 * (secrets, keys, passwords, tokens); `url` with any password in it masked. Every key of the schema
 * must be listed (the type and config.test.ts hold it), so a new secret setting cannot be shown by
 * default: whoever adds a setting decides here.
 */
export const SETTING_DISPLAY: Record<keyof z.input<typeof schema>, 'shown' | 'secret' | 'url'> = {
  PORT: 'shown',
  ISSUER: 'shown',
  DATABASE_URL: 'url',
  SIGNUP: 'shown',
  DYNAMIC_REGISTRATION: 'shown',
  API_RESOURCE: 'shown',
  ACCESS_TOKEN_TTL: 'shown',
  DEVICE_CODE_TTL: 'shown',
  DEVICE_POLL_INTERVAL: 'shown',
  REFRESH_TOKEN_TTL: 'shown',
  REFRESH_TOKEN_ABSOLUTE_TTL: 'shown',
  REFRESH_TOKEN_REUSE_GRACE: 'shown',
  JWT_SECRET: 'secret',
  JWT_ISSUER: 'shown',
  JWT_MAX_LIFETIME: 'shown',
  ACCESS_TOKEN_FORMAT: 'shown',
  ID_TOKEN_SIGNING_ALG: 'shown',
  CREDENTIAL_CACHE_TTL: 'shown',
  CREDENTIAL_EVENTS_POLL_MS: 'shown',
  CREDENTIAL_EVENTS_LISTEN: 'shown',
  API_KEY_ROTATION_GRACE: 'shown',
  API_KEY_ACTIVITY_RETENTION_DAYS: 'shown',
  AUDIT_RETENTION_DAYS: 'shown',
  API_KEY_ACTIVITY_BACKLOG: 'shown',
  RATE_LIMIT_API_KEY: 'shown',
  RATE_LIMIT_OAUTH: 'shown',
  RATE_LIMIT_JWT: 'shown',
  RATE_LIMIT_UNAUTHENTICATED: 'shown',
  RATE_LIMIT_TOKEN_ENDPOINT: 'shown',
  RATE_LIMIT_APPLICATIONS: 'shown',
  RATE_LIMIT_AUTHORIZE: 'shown',
  RATE_LIMIT_DEVICE_CODE: 'shown',
  RATE_LIMIT_SIGNUP: 'shown',
  RATE_LIMIT_LOGIN: 'shown',
  RATE_LIMIT_PASSWORD_RESET: 'shown',
  RATE_LIMIT_REGISTRATION: 'shown',
  FRESH_AUTH_MAX_AGE: 'shown',
  SECRETS_KEY: 'secret',
  WEBHOOK_ALLOW_PRIVATE: 'shown',
  WEBHOOK_DISABLE_AFTER: 'shown',
  WEBHOOK_SECRET_OVERLAP: 'shown',
  WEBHOOK_MAX_ENDPOINTS: 'shown',
  WEBHOOK_CONCURRENCY: 'shown',
  EMAIL_URL: 'url',
  REQUIRE_EMAIL_VERIFICATION: 'shown',
  EMAIL_FROM: 'shown',
  NODE_ENV: 'shown',
  TRUST_PROXY: 'shown',
  METRICS_TOKEN: 'secret',
  LATCHKEY_DEBUG_PID: 'shown',
  LOG_LEVEL: 'shown',
  ARGON2_MEMORY_KIB: 'shown',
  ARGON2_TIME_COST: 'shown',
};

/** Every setting the schema reads, in the order it declares them. */
export const SETTING_NAMES = Object.keys(schema.shape) as Array<keyof typeof SETTING_DISPLAY>;

export type Config = Readonly<
  Omit<z.infer<typeof schema>, 'ISSUER' | 'API_RESOURCE' | 'REQUIRE_EMAIL_VERIFICATION'> & {
    /** Resolved: the setting, else `http://localhost:<PORT>`. */
    ISSUER: string;
    API_RESOURCE: string;
    /** Resolved: the explicit setting, else whether EMAIL_URL is set. */
    REQUIRE_EMAIL_VERIFICATION: boolean;
    /** Parsed from DATABASE_URL. */
    database: { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string };
    /** True when ISSUER is https: cookies then carry the Secure flag. */
    secureCookies: boolean;
    /** Where a generated SECRETS_KEY is kept: beside the SQLite file (under db/ for PostgreSQL). */
    secretsKeyFile: string;
    /** The settings the environment gave (every other one has its default). */
    fromEnvironment: readonly string[];
  }
>;

export class ConfigError extends Error {}

/** Where DATABASE_URL points: a SQLite file (`sqlite:path`) or a PostgreSQL server. */
export const databaseTargetOf = (url: string): Config['database'] =>
  url.startsWith('sqlite:') ? { kind: 'sqlite', file: url.slice('sqlite:'.length) } : { kind: 'postgres', url };

/** Reads and validates the settings; throws ConfigError with one line naming the bad setting. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const input: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') input[key] = value;
  }
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = String(issue.path[0] ?? 'configuration');
    throw new ConfigError(`Invalid setting ${key}: ${issue.message}`);
  }
  const c = parsed.data;
  const database = databaseTargetOf(c.DATABASE_URL);
  const issuer = c.ISSUER ?? `http://localhost:${c.PORT}`;
  return Object.freeze({
    ...c,
    ISSUER: issuer,
    API_RESOURCE: c.API_RESOURCE ?? `${issuer}/v2`,
    REQUIRE_EMAIL_VERIFICATION:
      c.REQUIRE_EMAIL_VERIFICATION === undefined
        ? c.EMAIL_URL !== undefined
        : c.REQUIRE_EMAIL_VERIFICATION === '1' || c.REQUIRE_EMAIL_VERIFICATION === 'true',
    database,
    secureCookies: issuer.startsWith('https:'),
    secretsKeyFile: path.join(
      database.kind === 'sqlite' ? path.dirname(path.resolve(database.file)) : path.resolve('db'),
      'latchkey.secrets.key',
    ),
    fromEnvironment: Object.freeze(Object.keys(input)),
  });
}
