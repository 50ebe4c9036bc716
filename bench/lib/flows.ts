/**
 * What the load needs from a running Latchkey before it starts: tokens from the token endpoint,
 * refresh tokens through the real code flow, and a login form's CSRF pair.
 */
import { Browser, authorize, csrfFrom } from '../../test/support/http.ts';
import { basic } from './fixtures.ts';

export interface Client {
  client_id: string;
  client_secret: string;
}

const FORM = 'application/x-www-form-urlencoded';

async function tokenRequest(
  url: string,
  client: Client,
  form: Record<string, string>,
): Promise<Record<string, unknown>> {
  const res = await fetch(`${url}/oauth/token`, {
    method: 'POST',
    headers: { 'Content-Type': FORM, Authorization: basic(client) },
    body: new URLSearchParams(form).toString(),
  });
  const body = (await res.json()) as Record<string, unknown>;
  if (res.status !== 200) throw new Error(`token endpoint answered ${res.status}: ${JSON.stringify(body)}`);
  return body;
}

export async function clientCredentialsToken(url: string, client: Client): Promise<string> {
  const body = await tokenRequest(url, client, { grant_type: 'client_credentials', scope: 'read:users' });
  return String(body['access_token']);
}

/**
 * `n` unused refresh tokens for `client`, each from its own authorization code. One browser signs
 * in and consents once; every later authorization request reuses that session and grant and
 * comes straight back with a code, so each token costs two requests. `parallel` flows at a time.
 */
export async function refreshTokenPool(
  url: string,
  o: { client: Client; redirectUri: string; email: string; password: string; n: number; parallel?: number },
): Promise<string[]> {
  const browser = new Browser(url);
  const one = async (): Promise<string> => {
    const { redirect } = await authorize(browser, {
      clientId: o.client.client_id,
      redirectUri: o.redirectUri,
      scope: 'read:users',
      state: 'bench',
      email: o.email,
      password: o.password,
    });
    const code = redirect.searchParams.get('code');
    if (!code) throw new Error(`no code in ${redirect}`);
    const body = await tokenRequest(url, o.client, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: o.redirectUri,
    });
    if (typeof body['refresh_token'] !== 'string') throw new Error(`no refresh token: ${JSON.stringify(body)}`);
    return body['refresh_token'];
  };
  const pool = [await one()]; // signs in and consents
  let left = o.n - 1;
  const worker = async () => {
    while (left > 0) {
      left--;
      pool.push(await one());
    }
  };
  await Promise.all(Array.from({ length: o.parallel ?? 4 }, worker));
  return pool;
}

/** A browser's CSRF cookie pair and the matching form field, from GET /login. */
export async function loginForm(url: string): Promise<{ cookie: string; csrf: string }> {
  const browser = new Browser(url);
  const page = await (await browser.get('/login')).text();
  return { cookie: browser.jar.header(), csrf: csrfFrom(page) };
}
