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
   * Constant-time check of a presented secret against the client's metadata (its stored hash, and
   * the previous secret's while a rotation overlap runs).
   */
  secretAccepted(presented: string, metadata: Record<string, unknown>): boolean;
  /** Told of every secret compared (metrics). */
  onChecked?(matched: boolean): void;
}

/**
 * Reads the client credentials of a protocol request (HTTP Basic, else `client_id` and
 * `client_secret` in the body) and compares a presented secret with the stored hash, once: the
 * rate limit and unified introspection use `ctx.state.presentedClient`, and oidc-provider's
 * `compareClientSecret` takes the answer from it (`secretCheckedEarlier`) instead of hashing again.
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
      const metadata = await deps.findClient(id);
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
    await next();
  };
}

/**
 * What authenticateClientOnce found for this client and secret on this request (oidc-provider's
 * current request, `Provider.ctx`), or undefined when it did not compare these very credentials
 * with this very hash. The presented secrets compared here both come from the same request, so
 * a plain comparison tells nothing about any stored secret.
 */
export function secretCheckedEarlier(
  ctx: { state?: Partial<AppState> } | undefined,
  clientId: string,
  presented: string,
  storedHash: string,
): boolean | undefined {
  const client = ctx?.state?.presentedClient;
  if (!client?.checked || client.id !== clientId || client.secret !== presented) return undefined;
  return client.checked.storedHash === storedHash ? client.checked.matched : undefined;
}
