/**
 * The algorithms a DPoP proof may be signed with (RFC 9449), at the token endpoint (oidc-provider's
 * `enabledJWA.dPoPSigningAlgValues`), at /v2, and as protected resource metadata advertises them:
 * asymmetric only (the key is the proof's own public `jwk`), and only those with no padding or hash
 * choices to get wrong.
 */
export const DPOP_SIGNING_ALGS = ['ES256', 'EdDSA', 'Ed25519'] as const;
