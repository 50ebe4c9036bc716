import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import type { ServerKeys } from './keys.ts';

/** Checks client metadata as oidc-provider will when the client comes to the token endpoint. */
export type ClientMetadataValidator = (metadata: Record<string, unknown>) => Promise<void>;

/**
 * oidc-provider's own `Client.validate`, from a private provider instance built by the same
 * `createProvider` (so the same client configuration) as the one that serves /oauth. Applications
 * need this check, and the serving provider needs applications (it finds clients through them):
 * a validator of its own breaks that cycle. oidc-provider is loaded on the first check only, so
 * whatever never registers an application (most CLI commands) never loads it. The instance stores
 * nothing and authenticates nobody: its adapter, accounts and consents are never reached by
 * `Client.validate`.
 */
export function createClientMetadataValidator(deps: {
  config: Config;
  keys: ServerKeys;
  logger: Logger;
}): ClientMetadataValidator {
  let client: Promise<{ validate(metadata: unknown): Promise<unknown> }> | undefined;
  const load = async () => {
    const { createProvider } = await import('./provider.ts');
    const unreachable = () => {
      throw new Error('the client metadata validator stores and authenticates nothing');
    };
    const inert = new Proxy({}, { get: () => unreachable });
    const provider = createProvider({
      config: deps.config,
      keys: deps.keys,
      logger: deps.logger,
      adapter: () => inert as never,
      accounts: inert as never,
      consents: inert as never,
      accountActive: unreachable,
      ownerStanding: unreachable,
      mayIntrospect: unreachable,
      findApi: unreachable,
      findApisByScopes: unreachable,
      renderError: unreachable,
    });
    return provider.Client;
  };
  return async (metadata) => {
    // A failed load (it should not fail) is tried again on the next check rather than kept.
    client ??= load().catch((err: unknown) => {
      client = undefined;
      throw err;
    });
    await (await client).validate(metadata);
  };
}
