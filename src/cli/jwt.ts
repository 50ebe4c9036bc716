import { parseArgs } from 'node:util';
import { loadConfig } from '../config.ts';
import { createSharedJwtVerifier } from '../auth/shared-jwt.ts';
import { parseDuration, scopeList, UsageError } from './usage.ts';

/** `latchkey jwt sign`: a shared-secret HS256 JWT, as a trusted service would sign it. */
export async function signJwt(args: string[]): Promise<unknown> {
  const { values } = parseArgs({
    args,
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
  const claims = { sub: values.sub, scopes: scopeList(values.scopes), ...(values.name ? { name: values.name } : {}) };
  return { token: verifier.sign(claims, lifetime), expires_in: lifetime };
}
