import { DPOP_SIGNING_ALGS } from '../../domain/dpop.ts';
import type { ResourceServer } from '../../domain/resource-servers.ts';
import type { ProtectedResourceMetadata } from '../../wire/apis.ts';

/**
 * An API's OAuth 2.0 Protected Resource Metadata (RFC 9728 §2): who issues its tokens, which
 * scopes it knows, how a token is presented, and the DPoP proofs the server takes (RFC 9449).
 */
export function protectedResourceMetadata(api: ResourceServer, issuer: string): ProtectedResourceMetadata {
  return {
    resource: api.identifier,
    authorization_servers: [issuer],
    scopes_supported: api.scopes.map((s) => s.name),
    bearer_methods_supported: ['header'],
    resource_name: api.name,
    dpop_signing_alg_values_supported: [...DPOP_SIGNING_ALGS],
  };
}

/**
 * Where an API's metadata lives on its own host (RFC 9728 §3.1): the well-known name inserted
 * between the host and the path of its identifier.
 */
export function protectedResourceMetadataUrl(identifier: string): string {
  const url = new URL(identifier);
  const path = url.pathname === '/' ? '' : url.pathname;
  return `${url.origin}/.well-known/oauth-protected-resource${path}${url.search}`;
}

/**
 * A 401's challenge with the API's metadata address added (RFC 9728 §5.1): `Bearer` becomes
 * `Bearer resource_metadata="..."`, `Bearer error="invalid_token"` keeps its error first.
 */
export function withResourceMetadata(challenge: string | undefined, metadataUrl: string): string {
  const param = `resource_metadata="${metadataUrl}"`;
  const current = (challenge ?? '').trim();
  if (current === '' || current === 'Bearer') return `Bearer ${param}`;
  return `${current}, ${param}`;
}
