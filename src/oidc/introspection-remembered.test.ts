import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Next } from 'koa';
import type { AppContext, PresentedClient } from '../http/context.ts';
import type { Authenticator } from '../auth/authenticate.ts';
import { invalidToken } from '../http/errors.ts';
import { principalFrom } from '../domain/principal.ts';
import { unifiedIntrospection } from './unified-introspection.ts';
import { authenticateClientOnce, createSecretChecks } from './client-auth.ts';

// Introspection of an API key, and the client authentication in front of it, take what is
// remembered (the key, its account's rights, the client's metadata) without waiting; what is not
// remembered is read as before, and the answer is the same either way.

const KEY = 'lk_remembered';
const principal = principalFrom(
  { method: 'api_key', subject: 'usr_r', scopes: ['read:users'], expiresAt: null, id: 'key_r', userId: 'usr_r' },
  { isAdmin: false },
);
const notAsked = () => {
  throw new Error('asked, though the answer was remembered');
};
const resourceServer: PresentedClient = {
  id: 'app_rs',
  viaBasic: true,
  secret: 'right',
  checked: { storedHash: 'hash', matched: true },
  type: 'resource_server',
  api: null,
  isPublic: false,
};

/** The little of a Koa context these steps read and write. */
function contextOf(state: Record<string, unknown>, authorization = '') {
  const fields: Record<string, string> = {};
  return {
    state,
    status: 404,
    body: undefined as unknown,
    fields,
    get: (name: string) => (name === 'Authorization' ? authorization : ''),
    set(name: string, value: string) {
      fields[name] = value;
    },
  };
}

async function introspect(authenticator: Partial<Authenticator>) {
  const ctx = contextOf({ oauthParams: { token: KEY }, presentedClient: resourceServer });
  await unifiedIntrospection({ authenticator: authenticator as Authenticator })(
    ctx as unknown as AppContext,
    notAsked as unknown as Next,
  );
  return { status: ctx.status, body: ctx.body, fields: ctx.fields };
}

describe('introspection of a remembered API key', () => {
  it('is answered from what is remembered, without the lookup that waits', async () => {
    const remembered = await introspect({
      inspectApiKeyRemembered: () => ({ principal, allowedIps: ['10.0.0.0/8'] }),
      inspectApiKey: notAsked,
    });
    assert.deepEqual(remembered, {
      status: 200,
      body: {
        active: true,
        method: 'api_key',
        token_type: 'api_key',
        sub: 'usr_r',
        scope: 'read:users',
        allowed_ips: ['10.0.0.0/8'],
      },
      fields: { 'Cache-Control': 'no-store' },
    });
    const read = await introspect({
      inspectApiKeyRemembered: () => undefined,
      inspectApiKey: async () => ({ principal, allowedIps: ['10.0.0.0/8'] }),
    });
    assert.deepEqual(read, remembered, 'a key that had to be read: the same answer');
  });

  it('refused from what is remembered (revoked, expired, a disabled account) is inactive', async () => {
    const refused = await introspect({
      inspectApiKeyRemembered: () => {
        throw invalidToken();
      },
      inspectApiKey: notAsked,
    });
    assert.deepEqual(refused.body, { active: false });
    const read = await introspect({
      inspectApiKeyRemembered: () => undefined,
      inspectApiKey: async () => {
        throw invalidToken();
      },
    });
    assert.deepEqual(read, refused);
  });
});

describe('client authentication with remembered metadata', () => {
  const metadata = { client_id: 'app_rs', client_secret: 'hash', latchkey_type: 'resource_server' };

  async function authenticate(deps: { rememberedClient(id: string): unknown; findClient(id: string): unknown }) {
    const step = authenticateClientOnce({
      ...(deps as Parameters<typeof authenticateClientOnce>[0]),
      secretAccepted: (presented) => presented === 'right',
      checks: createSecretChecks(),
    });
    const basic = `Basic ${Buffer.from('app_rs:right').toString('base64')}`;
    const ctx = contextOf({ oauthParams: {} }, basic);
    let ran = false;
    await step(
      ctx as unknown as AppContext,
      (async () => {
        ran = true;
      }) as Next,
    );
    return { ran, client: ctx.state['presentedClient'] };
  }

  it('takes the remembered metadata without asking for it, and reads what is not remembered', async () => {
    const remembered = await authenticate({ rememberedClient: () => metadata, findClient: notAsked });
    assert.deepEqual(remembered, {
      ran: true,
      client: { ...resourceServer, checked: { storedHash: 'hash', matched: true } },
    });
    const read = await authenticate({ rememberedClient: () => undefined, findClient: async () => metadata });
    assert.deepEqual(read, remembered);
  });
});
