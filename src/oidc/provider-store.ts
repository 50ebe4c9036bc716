import providerStore from 'oidc-provider/lib/helpers/als.js';

/**
 * oidc-provider enters an AsyncLocalStorage with the request it serves, for every request
 * (`ensureOIDC` in lib/helpers/initialize_app.js). On Node 20 the first `run` of any
 * AsyncLocalStorage turns promise hooks on for every promise in the process, for the rest of its
 * life: each `await` anywhere (the /v2 API's too) then costs about 2.5 times as much, and the hooks
 * allocated about a sixth of what a token request allocates. So the store's `run` just calls the
 * function, and the hooks stay off. What reads the store then finds nothing:
 *
 * - the Client ID Metadata Document feature: refused here;
 * - `Provider.ctx`: we do not read it (a client secret's earlier comparison comes from
 *   client-auth.ts's SecretChecks);
 * - the `ctx` handed to configuration functions the token models call (TTLs, opaque token length,
 *   extraTokenClaims, pairwiseIdentifier, JWT customizers): ours ignore it, except the refresh
 *   token's TTL, which takes its grant's expiry from the adapter (provider.ts). A new function of
 *   that kind must not rely on its `ctx`.
 *
 * The package has no "exports" map: this is the very module instance the provider imports.
 */
export function keepProviderStoreOff(features: { clientIdMetadataDocument?: { enabled?: boolean } }): void {
  if (features.clientIdMetadataDocument?.enabled) {
    throw new Error(
      "The Client ID Metadata Document feature reads the request from oidc-provider's store, " +
        'which provider-store.ts keeps off: give it the request another way before enabling it',
    );
  }
  providerStore.run = (_store, work, ...args) => work(...args);
}
