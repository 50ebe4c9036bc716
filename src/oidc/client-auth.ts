import type { Middleware } from 'koa';
import type { AppState, PresentedClient } from '../http/context.ts';
import { param } from './protocol-body.ts';
import { RESOURCE_SERVER_API } from '../features/applications/applications.service.ts';

/** Client credentials from an HTTP Basic header (RFC 6749 §2.3.1: both parts form-urlencoded). */
export function basicCredentials(header: string): { id: string; secret: string } | null {
  const m = /^Basic +([A-Za-z0-9+/=]+)$/i.exec(header);
  if (!m) return null;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  try {
    return { id: decodeURIComponent(decoded.slice(0, colon)), secret: decodeURIComponent(decoded.slice(colon + 1)) };
  } catch {
    return null;
  }
}

export interface ClientAuthDeps {
  /** The client's oidc-provider metadata (its `client_secret` is the stored hash), or undefined. */
  findClient(clientId: string): Promise<Record<string, unknown> | undefined>;
  /**
   * `findClient`'s metadata when it is remembered (no wait); undefined when it is not, or when
   * there is none to give (then `findClient` is asked).
   */
  rememberedClient(clientId: string): Record<string, unknown> | undefined;
  /**
   * Constant-time check of a presented secret against the client's metadata (its stored hash, and
   * the previous secret's while a rotation overlap runs).
   */
  secretAccepted(presented: string, metadata: Record<string, unknown>): boolean;
  /** Told of every secret compared (metrics). */
  onChecked?(matched: boolean): void;
  /** Where each comparison is held for oidc-provider while its request is answered. */
  checks: SecretChecks;
}

/**
 * Reads the client credentials of a protocol request (HTTP Basic, else `client_id` and
 * `client_secret` in the body) and compares a presented secret with the stored hash, once: the
 * rate limit and unified introspection use `ctx.state.presentedClient`, and oidc-provider's
 * `compareClientSecret` takes the answer from `checks` instead of hashing again.
 */
export function authenticateClientOnce(deps: ClientAuthDeps): Middleware<AppState> {
  return async (ctx, next) => {
    const basic = basicCredentials(ctx.get('Authorization'));
    const id = basic?.id ?? param(ctx.state.oauthParams, 'client_id') ?? '';
    const secret = basic?.secret ?? param(ctx.state.oauthParams, 'client_secret') ?? null;
    const client: PresentedClient = {
      id,
      viaBasic: basic !== null,
      secret,
      checked: null,
      type: null,
      api: null,
      isPublic: false,
    };
    if (id) {
      const metadata = deps.rememberedClient(id) ?? (await deps.findClient(id));
      client.type = typeof metadata?.['latchkey_type'] === 'string' ? metadata['latchkey_type'] : null;
      const api = metadata?.[RESOURCE_SERVER_API];
      client.api = client.type === 'resource_server' && typeof api === 'string' ? api : null;
      client.isPublic = metadata?.['token_endpoint_auth_method'] === 'none';
      const storedHash = metadata?.['client_secret'];
      if (secret && metadata && typeof storedHash === 'string') {
        const matched = deps.secretAccepted(secret, metadata);
        deps.onChecked?.(matched);
        client.checked = { storedHash, matched };
      }
    }
    ctx.state.presentedClient = client;
    if (!client.checked) return next();
    const release = deps.checks.hold(client);
    try {
      await next();
    } finally {
      release();
    }
  };
}

/**
 * The client secret comparisons of the protocol requests being answered, for oidc-provider's
 * `compareClientSecret`: it is handed the client and the presented secret but not the request (its
 * own way to the request, `Provider.ctx`, reads the store provider-store.ts keeps off).
 * authenticateClientOnce holds each comparison until its request is answered. Found by the presented
 * secret, then taken only for the same client and stored hash: requests in flight presenting the
 * same secret to the same client against the same hash have the same answer. One per server.
 *
 * Under load one client's secret is presented by every connection at once, so dozens of requests
 * share an entry: a Set per secret lets each one go without copying the others (a new array per
 * answer, and a pass over all of them, with a list).
 */
export function createSecretChecks() {
  const held = new Map<string, Set<PresentedClient>>();
  return {
    /** Holds a comparison authenticateClientOnce made; the function returned lets it go. */
    hold(client: PresentedClient): () => void {
      const secret = client.secret;
      if (secret === null) return () => {};
      let same = held.get(secret);
      if (!same) {
        same = new Set();
        held.set(secret, same);
      }
      same.add(client);
      return () => {
        const left = held.get(secret);
        if (!left) return;
        left.delete(client);
        if (left.size === 0) held.delete(secret);
      };
    },

    /**
     * What authenticateClientOnce found for this client, secret and stored hash, or undefined when
     * no request being answered compared these very credentials with this very hash.
     */
    earlier(clientId: string, presented: string, storedHash: string): boolean | undefined {
      const same = held.get(presented);
      if (!same) return undefined;
      for (const c of same) {
        if (c.id === clientId && c.checked !== null && c.checked.storedHash === storedHash) return c.checked.matched;
      }
      return undefined;
    },
  };
}
export type SecretChecks = ReturnType<typeof createSecretChecks>;
