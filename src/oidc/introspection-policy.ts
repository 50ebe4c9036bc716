import { RESOURCE_SERVER_API } from '../features/applications/applications.service.ts';

export interface IntrospectionPolicyDeps {
  /** The built-in API's identifier (tokens that name no audience, refresh tokens, are its). */
  apiResource: string;
  /** Whether an application is a client now: neither deleted, nor suspended, nor rejected. */
  clientExists(clientId: string): Promise<boolean>;
}

/** The application asking, as oidc-provider's Client model has it (extra metadata under its own name). */
export interface IntrospectingClient {
  clientId: string;
  [metadata: string]: unknown;
}

const apiOfResourceServer = (client: IntrospectingClient): string | undefined =>
  typeof client[RESOURCE_SERVER_API] === 'string' ? (client[RESOURCE_SERVER_API] as string) : undefined;

/** A token's audience: its API's identifier (a refresh token has none; it is the built-in API's). */
function audienceOf(token: { aud?: unknown }): string | undefined {
  return Array.isArray(token.aud) ? String(token.aud[0]) : typeof token.aud === 'string' ? token.aud : undefined;
}

/**
 * Who may learn about a token at introspection (oidc-provider's `features.introspection.allowedPolicy`,
 * and the same rule where introspection is answered without it: provider-introspection.ts). A
 * resource server may introspect the tokens of its own API; any other application only its own
 * tokens. A token whose application is no client any more (suspended, rejected, deleted) is
 * nobody's to learn about: it is not active. oidc-provider would otherwise look that client up to
 * answer (a pairwise `sub`), find none, and fail.
 */
export function introspectionPolicy(deps: IntrospectionPolicyDeps) {
  return async (caller: IntrospectingClient, token: { clientId?: string; aud?: unknown }): Promise<boolean> => {
    const mayAsk =
      caller['latchkey_type'] === 'resource_server'
        ? (audienceOf(token) ?? deps.apiResource) === (apiOfResourceServer(caller) ?? deps.apiResource)
        : token.clientId === caller.clientId;
    if (!mayAsk) return false;
    return token.clientId === caller.clientId || (await deps.clientExists(String(token.clientId)));
  };
}
export type IntrospectionPolicy = ReturnType<typeof introspectionPolicy>;
