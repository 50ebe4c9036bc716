/**
 * Helpers for Latchkey's own JSON APIs (/oauth/applications, /v2): signing a browser in, and
 * assertions on the documented error model `{"error":{"code","message"[,"field"]}}`.
 */
import assert from 'node:assert/strict';
import { type Browser, csrfFrom } from './http.ts';

/** Signs in through the real /login form; resolves to the POST's response (303 on success). */
export async function signIn(browser: Browser, email: string, password: string, returnTo?: string): Promise<Response> {
  const path = returnTo === undefined ? '/login' : `/login?return_to=${encodeURIComponent(returnTo)}`;
  const page = await (await browser.get(path)).text();
  return browser.postForm(path, { _csrf: csrfFrom(page), email, password });
}

export interface ApiErrorBody {
  error: { code: string; message: string; field?: string } & Record<string, unknown>;
}

/**
 * Asserts the JSON error model: the status, `{"error":{"code","message"[,"field"]}}`, a JSON
 * content type, and no stack trace. Returns the body for further checks.
 */
export async function expectApiError(
  res: Pick<Response, 'status' | 'headers' | 'text'>,
  status: number,
  code: string,
  expect: { field?: string; message?: string | RegExp } = {},
): Promise<ApiErrorBody> {
  const text = await res.text();
  assert.equal(res.status, status, `expected ${status} ${code}, got ${res.status}: ${text}`);
  assert.match(res.headers.get('content-type') ?? '', /application\/json/);
  const body = JSON.parse(text) as ApiErrorBody;
  assert.equal(body.error?.code, code, text);
  assert.equal(typeof body.error.message, 'string', text);
  assert.ok(body.error.message.length > 0, text);
  assert.doesNotMatch(text, /\bat .+\.(ts|js):\d+|node_modules/, 'no stack trace in the body');
  if (expect.field !== undefined) assert.equal(body.error.field, expect.field, text);
  if (typeof expect.message === 'string') assert.equal(body.error.message, expect.message);
  else if (expect.message) assert.match(body.error.message, expect.message);
  return body;
}
