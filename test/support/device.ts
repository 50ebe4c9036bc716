/**
 * The device authorization grant (RFC 8628) over real HTTP: the device's two requests (the device
 * authorization request, the token polls) and the person's part in a signed-in browser (the code
 * form at /device, the confirmation, the consent), read from the pages as a person would.
 */
import type { TestServer } from './server.ts';
import { type Browser, csrfFrom, formAction } from './http.ts';
import type { RegisteredApp } from './world.ts';

export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

export interface DeviceAuthorization {
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete: string;
  expires_in: number;
  interval: number;
}

export interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

/** POSTs a form to the server as a client (the secret, when the app has one, in the body). */
async function postForm(server: TestServer, path: string, app: RegisteredApp, fields: Record<string, string>) {
  const res = await fetch(new URL(path, server.url), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      client_id: app.client_id,
      ...(app.client_secret ? { client_secret: app.client_secret } : {}),
      ...fields,
    }),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

/** The device authorization request (RFC 8628 §3.1), answered as it comes. */
export function requestDeviceCode(
  server: TestServer,
  app: RegisteredApp,
  scope = 'openid read:users',
): Promise<Answer> {
  return postForm(server, '/oauth/device/auth', app, { scope });
}

/** A device authorization request that must succeed. */
export async function startDevice(server: TestServer, app: RegisteredApp, scope?: string) {
  const res = await requestDeviceCode(server, app, scope);
  if (res.status !== 200) throw new Error(`device authorization failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as unknown as DeviceAuthorization;
}

/** One poll of the token endpoint (RFC 8628 §3.4). */
export function poll(server: TestServer, app: RegisteredApp, deviceCode: string): Promise<Answer> {
  return postForm(server, '/oauth/token', app, { grant_type: DEVICE_CODE_GRANT, device_code: deviceCode });
}

/** The value of a named hidden field in a page. */
export function fieldFrom(html: string, name: string): string {
  const m = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  if (!m) throw new Error(`no ${name} field in page: ${html.slice(0, 300)}`);
  return m[1]!;
}

/** Types `userCode` on the /device form (opened at `path`) and sends it: the page that answers. */
export async function enterCode(browser: Browser, userCode: string, path = '/device'): Promise<Response> {
  const form = await browser.get(path);
  if (form.status !== 200) throw new Error(`the code form answered ${form.status}`);
  const html = await form.text();
  return browser.postForm('/device', {
    _csrf: csrfFrom(html),
    xsrf: fieldFrom(html, 'xsrf'),
    user_code: userCode,
  });
}

export interface Approval {
  /** The last page the person saw (the "return to your device" page, or the code form again). */
  status: number;
  html: string;
  sawConfirmation: boolean;
  sawConsent: boolean;
}

/**
 * The person's whole part, signed in in `browser`: the code, "Continue" on the confirmation, then
 * Approve (or Deny) on the consent page if it is asked; `cancel` presses Cancel on the confirmation.
 */
export async function approveDevice(
  browser: Browser,
  userCode: string,
  o: { decision?: 'approve' | 'deny' | 'cancel' } = {},
): Promise<Approval> {
  const entered = await enterCode(browser, userCode);
  let html = await entered.text();
  if (entered.status !== 200 || !html.includes('name="confirm"')) {
    return { status: entered.status, html, sawConfirmation: false, sawConsent: false };
  }
  const cancel = o.decision === 'cancel';
  let { res } = await browser.follow(
    await browser.postForm('/device', {
      _csrf: csrfFrom(html),
      xsrf: fieldFrom(html, 'xsrf'),
      user_code: fieldFrom(html, 'user_code'),
      ...(cancel ? { abort: 'yes' } : { confirm: 'yes' }),
    }),
  );
  html = await res.text();
  let sawConsent = false;
  if (res.status === 200 && html.includes('/confirm"')) {
    sawConsent = true;
    const action = formAction(html, o.decision === 'deny' ? '/abort' : '/confirm');
    ({ res } = await browser.follow(await browser.postForm(action, { _csrf: csrfFrom(html) })));
    html = await res.text();
  }
  return { status: res.status, html, sawConfirmation: true, sawConsent };
}
