/** Credentials of the oidc-provider in-memory baseline's two clients (bench/baselines/oidc-memory.ts). */
export const MEMORY_SERVICE = { client_id: 'bench-service', client_secret: 'bench-service-secret-0123456789abcdef' };
export const MEMORY_RESOURCE_SERVER = { client_id: 'bench-rs', client_secret: 'bench-rs-secret-0123456789abcdef01' };

export const basic = (c: { client_id: string; client_secret: string }) =>
  `Basic ${Buffer.from(`${encodeURIComponent(c.client_id)}:${encodeURIComponent(c.client_secret)}`).toString('base64')}`;
