/** Credentials of the oidc-provider in-memory baseline's two clients (bench/baselines/oidc-memory.ts). */
export const MEMORY_SERVICE = { client_id: 'bench-service', client_secret: 'bench-service-secret-0123456789abcdef' };
export const MEMORY_RESOURCE_SERVER = { client_id: 'bench-rs', client_secret: 'bench-rs-secret-0123456789abcdef01' };

export const basic = (c: { client_id: string; client_secret: string }) => {
  const pair = `${encodeURIComponent(c.client_id)}:${encodeURIComponent(c.client_secret)}`;
  return `Basic ${Buffer.from(pair).toString('base64')}`;
};
