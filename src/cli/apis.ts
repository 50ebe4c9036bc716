import { parseArgs } from 'node:util';
import { sessionPrincipal } from '../domain/principal.ts';
import { parseWire } from '../wire/parse.ts';
import { createApiSchema, listApisQuery } from '../wire/apis.ts';
import { UsageError } from './usage.ts';
import { withServices } from './with-services.ts';

/** `--scope read:orders:Read your orders`: the name is up to the last `:` followed by the description. */
function scopeOf(text: string): { name: string; description: string } {
  const at = text.search(/:[^:]*$/);
  if (at <= 0 || at === text.length - 1) {
    throw new UsageError(`--scope ${text}: write it as name:description (e.g. read:orders:"Read your orders")`);
  }
  return { name: text.slice(0, at), description: text.slice(at + 1) };
}

/** `latchkey apis create`: an API (resource server) with its own scopes, registered for an account. */
export async function createApi(args: string[]): Promise<unknown> {
  const { values } = parseArgs({
    args,
    options: {
      owner: { type: 'string' },
      name: { type: 'string' },
      identifier: { type: 'string' },
      scope: { type: 'string', multiple: true },
      'token-format': { type: 'string' },
      'token-ttl': { type: 'string' },
    },
  });
  const ownerEmail = values.owner;
  if (!ownerEmail) throw new UsageError('apis create needs --owner (an account email)');
  return withServices(async ({ accounts, apis }) => {
    const owner = await accounts.findByEmail(ownerEmail);
    if (!owner) throw new UsageError(`no account with email ${ownerEmail}`);
    const input = parseWire(createApiSchema, {
      name: values.name,
      identifier: values.identifier,
      scopes: (values.scope ?? []).map(scopeOf),
      ...(values['token-format'] ? { access_token_format: values['token-format'] } : {}),
      ...(values['token-ttl'] ? { access_token_ttl: Number(values['token-ttl']) } : {}),
    });
    return apis.create(sessionPrincipal(owner), input);
  });
}

/** `latchkey apis list`: every registered API (or one account's, with --owner). */
export async function listApis(args: string[]): Promise<unknown> {
  const { values } = parseArgs({ args, options: { owner: { type: 'string' } } });
  return withServices(async ({ accounts, apis }) => {
    const query = parseWire(listApisQuery, { limit: '100' });
    if (values.owner) {
      const owner = await accounts.findByEmail(values.owner);
      if (!owner) throw new UsageError(`no account with email ${values.owner}`);
      return apis.list(sessionPrincipal(owner), query);
    }
    // The operator sees every account's, as admin:all does.
    return apis.list(sessionPrincipal({ id: '', isAdmin: true }), query);
  });
}
