import { parseArgs } from 'node:util';
import { sessionPrincipal } from '../domain/principal.ts';
import { parseWire } from '../wire/parse.ts';
import { createRegistrationTokenSchema } from '../wire/registration.ts';
import { parseDuration, positiveInt, UsageError } from './usage.ts';
import { withServices } from './with-services.ts';

/**
 * `latchkey registration-tokens create`: an initial access token for dynamic registration
 * (DYNAMIC_REGISTRATION=token), issued as the admin account named: that admin owns the clients
 * registered with it. Printed once; only its hash is stored.
 */
export async function createRegistrationToken(args: string[]): Promise<unknown> {
  const { values } = parseArgs({
    args,
    options: {
      admin: { type: 'string' },
      'expires-in': { type: 'string' },
      uses: { type: 'string' },
    },
  });
  const adminEmail = values.admin;
  if (!adminEmail) throw new UsageError('registration-tokens create needs --admin (an admin account email)');
  const input = parseWire(createRegistrationTokenSchema, {
    ...(values['expires-in'] ? { expires_in: parseDuration(values['expires-in']) } : {}),
    ...(values.uses ? { max_uses: positiveInt(values.uses, '--uses') } : {}),
  });
  return withServices(async ({ accounts, registration }) => {
    const admin = await accounts.findByEmail(adminEmail);
    if (!admin) throw new UsageError(`no account with email ${adminEmail}`);
    if (!admin.isAdmin) throw new UsageError(`${adminEmail} is not an admin: only admins issue registration tokens`);
    return registration.issueToken(sessionPrincipal(admin), input);
  });
}
