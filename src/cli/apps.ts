import { parseArgs } from 'node:util';
import { sessionPrincipal } from '../domain/principal.ts';
import { parseWire } from '../wire/parse.ts';
import { createApplicationSchema } from '../wire/applications.ts';
import { scopeList, UsageError } from './usage.ts';
import { withServices } from './with-services.ts';
import { BY_CLI } from '../features/audit/audit.ts';

/** `latchkey apps create`: an OAuth application registered for an account. */
export async function createApp(args: string[]): Promise<unknown> {
  const { values } = parseArgs({
    args,
    options: {
      owner: { type: 'string' },
      name: { type: 'string' },
      'redirect-uri': { type: 'string', multiple: true },
      scopes: { type: 'string' },
      type: { type: 'string' },
    },
  });
  const ownerEmail = values.owner;
  if (!ownerEmail) throw new UsageError('apps create needs --owner (an account email)');
  return withServices(async ({ accounts, applications }) => {
    const owner = await accounts.findByEmail(ownerEmail);
    if (!owner) throw new UsageError(`no account with email ${ownerEmail}`);
    // The operator acts as the owner would: the application holds at most the owner's rights.
    const input = parseWire(createApplicationSchema, {
      name: values.name,
      redirect_uris: values['redirect-uri'] ?? [],
      scopes: scopeList(values.scopes),
      ...(values.type ? { type: values.type } : {}),
    });
    return applications.register(sessionPrincipal(owner), input, BY_CLI);
  });
}
