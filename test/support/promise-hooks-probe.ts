// Run in a process of its own by test/promise-hooks.test.ts (the test runner may itself turn async
// hooks on): starts the real server, serves the requests the hot paths are made of over real HTTP,
// and prints one JSON line saying whether promise hooks were on before and after.
import { executionAsyncId } from 'node:async_hooks';
import { startWorld } from './world.ts';

/**
 * With no promise hooks on, a promise has no async id of its own: after `await null` the
 * execution async id is 0. With hooks on (an AsyncLocalStorage entered anywhere, or a hook
 * created), each promise gets a fresh non-zero id.
 */
async function asyncIdAfterAwait(): Promise<number> {
  await null;
  return executionAsyncId();
}

const before = await asyncIdAfterAwait();
const world = await startWorld();
const statuses: Record<string, number> = {};
try {
  // Pages, a sign-in (an audit event) and a registration through the dashboard.
  const owner = await world.user({ admin: true, tag: 'hooks' });
  statuses['page'] = (await owner.browser.get('/dashboard')).status;
  // /oauth/token, client_credentials; then /v2 with an API key and with the token.
  const service = await world.serviceToken(owner, ['read:users']);
  const key = await world.apiKey(owner, ['read:users']);
  statuses['v2 api key'] = (await world.request('GET', '/v2/auth/test', { bearer: key.key })).status;
  statuses['v2 oauth'] = (await world.request('GET', '/v2/auth/test', { bearer: service.access_token })).status;
  // The authorization code flow: the login and consent pages, the code exchanged at /oauth/token.
  const person = await world.user({ tag: 'hooks-person' });
  const tokens = await world.oauthToken(person, ['read:users']);
  statuses['introspection'] = (
    await world.request('POST', '/oauth/introspect', {
      body: {
        token: tokens.access_token,
        client_id: tokens.app.client_id,
        client_secret: tokens.app.client_secret,
      },
    })
  ).status;
} finally {
  await world.close();
}
const after = await asyncIdAfterAwait();
process.stdout.write(`${JSON.stringify({ before, after, statuses })}\n`);
