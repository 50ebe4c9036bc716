/**
 * Baseline: oidc-provider 9 with its built-in in-memory adapter, configured like Latchkey's
 * provider for the machine-to-machine workload (src/oidc/provider.ts): client_credentials,
 * introspection, resource indicators with the API as default resource, opaque access tokens.
 * Two clients, as in Latchkey's bench: a service (client_credentials) and a resource server that
 * introspects. PORT from the environment; listens on 127.0.0.1 only.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import Provider, { type Configuration } from 'oidc-provider';
import { MEMORY_RESOURCE_SERVER as RESOURCE_SERVER, MEMORY_SERVICE as SERVICE } from '../lib/fixtures.ts';

const port = Number(process.env['PORT'] ?? 0);
const issuer = `http://127.0.0.1:${port}`;
const apiResource = `${issuer}/v2`;

const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'bench', alg: 'RS256', use: 'sig' };

const configuration: Configuration = {
  clients: [
    {
      ...SERVICE,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    {
      ...RESOURCE_SERVER,
      grant_types: [],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  jwks: { keys: [signingKey as never] },
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  routes: { token: '/oauth/token', introspection: '/oauth/introspect', jwks: '/oauth/jwks' },
  scopes: ['read:users'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: {
      enabled: true,
      // As Latchkey's: the resource server may introspect any token, other clients their own.
      allowedPolicy: async (_ctx, client, token) =>
        client.clientId === RESOURCE_SERVER.client_id || token.clientId === client.clientId,
    },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => apiResource,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'read:users',
        audience: apiResource,
        accessTokenTTL: 3600,
        accessTokenFormat: 'opaque',
      }),
    },
  },
  ttl: { ClientCredentials: 3600 },
};

const provider = new Provider(issuer, configuration);
const server = http.createServer(provider.callback());
server.keepAliveTimeout = 5_000;
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
