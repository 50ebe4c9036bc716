/**
 * A tiny browser for HTTP-level tests: a cookie jar, manual redirects, and helpers that walk the
 * login and consent pages the way a person would (reading the CSRF token from each form).
 */
export class CookieJar {
  private readonly cookies = new Map<string, string>();

  store(res: Response): void {
    for (const header of res.headers.getSetCookie()) {
      const [pair] = header.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (!value || /expires=Thu, 01 Jan 1970/i.test(header)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  get(name: string): string | undefined {
    return this.cookies.get(name);
  }

  /** Every cookie as [name, value]. */
  entries(): [string, string][] {
    return [...this.cookies];
  }

  clear(): void {
    this.cookies.clear();
  }

  /** Forgets session-only cookies, as a browser does when it is closed (persistent ones stay). */
  drop(names: string[]): void {
    for (const n of names) this.cookies.delete(n);
  }
}

/**
 * fetch, sent again once when it went out on a kept-alive connection that a test had just closed
 * by stopping or restarting its server: the request never reached a server, and a busy machine
 * may not yet have read the connection's end when the next request picks it from the pool.
 */
async function fetchOnce(target: URL, init: RequestInit): Promise<Response> {
  try {
    return await fetch(target, init);
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const closedUnderUs = cause?.code === 'UND_ERR_SOCKET' && cause.message === 'other side closed';
    if (!closedUnderUs || init.body instanceof ReadableStream) throw err;
    return fetch(target, init);
  }
}

export class Browser {
  readonly jar = new CookieJar();
  constructor(readonly baseUrl: string) {}

  async request(url: string, init: RequestInit = {}): Promise<Response> {
    const target = new URL(url, this.baseUrl);
    const headers = new Headers(init.headers);
    if (target.origin === new URL(this.baseUrl).origin && this.jar.header()) headers.set('cookie', this.jar.header());
    const res = await fetchOnce(target, { ...init, headers, redirect: 'manual' });
    if (target.origin === new URL(this.baseUrl).origin) this.jar.store(res);
    return res;
  }

  get(url: string): Promise<Response> {
    return this.request(url);
  }

  postForm(url: string, fields: Record<string, string>): Promise<Response> {
    return this.request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
  }

  postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
    return this.request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
  }

  /** Follows redirects on our own origin; stops at the first one that leaves it (the client's redirect URI). */
  async follow(res: Response): Promise<{ res: Response; url: string }> {
    let current = res;
    let url = current.url;
    for (let i = 0; i < 10 && current.status >= 300 && current.status < 400; i++) {
      const next = new URL(current.headers.get('location')!, url);
      if (next.origin !== new URL(this.baseUrl).origin) return { res: current, url: next.toString() };
      url = next.toString();
      current = await this.get(url);
    }
    return { res: current, url };
  }
}

/** The value of the first `_csrf` hidden field in a page. */
export function csrfFrom(html: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!m) throw new Error('no CSRF field in page');
  return m[1]!;
}

/** The first form action in a page that contains `needle`. */
export function formAction(html: string, needle: string): string {
  const m = new RegExp(`action="([^"]*${needle}[^"]*)"`).exec(html);
  if (!m) throw new Error(`no form posting to *${needle}*`);
  return m[1]!.replace(/&amp;/g, '&');
}

export interface AuthorizeOptions {
  clientId: string;
  redirectUri: string;
  scope: string;
  state?: string;
  codeChallenge?: string;
  /** More parameters; a list is sent as the parameter repeated (several `resource`s). */
  extra?: Record<string, string | string[]>;
}

export function authorizeUrl(baseUrl: string, o: AuthorizeOptions): string {
  const url = new URL('/oauth/authorize', baseUrl);
  url.searchParams.set('client_id', o.clientId);
  url.searchParams.set('redirect_uri', o.redirectUri);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('scope', o.scope);
  if (o.state) url.searchParams.set('state', o.state);
  if (o.codeChallenge) {
    url.searchParams.set('code_challenge', o.codeChallenge);
    url.searchParams.set('code_challenge_method', 'S256');
  }
  for (const [k, v] of Object.entries(o.extra ?? {})) {
    url.searchParams.delete(k);
    for (const one of [v].flat()) url.searchParams.append(k, one);
  }
  return url.toString();
}

/**
 * Runs the authorization request through login (if asked) and consent (if asked), as a person
 * clicking Approve or Deny. Returns the final redirect to the client, and which pages were seen.
 */
export async function authorize(
  browser: Browser,
  o: AuthorizeOptions & { email: string; password: string; decision?: 'approve' | 'deny' },
): Promise<{ redirect: URL; sawLogin: boolean; sawConsent: boolean; consentHtml?: string }> {
  let { res, url } = await browser.follow(await browser.get(authorizeUrl(browser.baseUrl, o)));
  let sawLogin = false;
  let sawConsent = false;
  let consentHtml: string | undefined;
  for (let step = 0; step < 4 && res.status === 200; step++) {
    const html = await res.text();
    if (html.includes('name="password"')) {
      sawLogin = true;
      const action = formAction(html, '/login');
      ({ res, url } = await browser.follow(
        await browser.postForm(action, { _csrf: csrfFrom(html), email: o.email, password: o.password }),
      ));
    } else if (html.includes('/confirm')) {
      sawConsent = true;
      consentHtml = html;
      const action = formAction(html, o.decision === 'deny' ? '/abort' : '/confirm');
      ({ res, url } = await browser.follow(await browser.postForm(action, { _csrf: csrfFrom(html) })));
    } else {
      throw new Error(`unexpected page at ${url}: ${html.slice(0, 300)}`);
    }
  }
  if (res.status < 300 || res.status >= 400)
    throw new Error(`authorization ended with ${res.status} at ${url}: ${(await res.text()).slice(0, 300)}`);
  return { redirect: new URL(url), sawLogin, sawConsent, ...(consentHtml ? { consentHtml } : {}) };
}

/**
 * Signs up through the real /signup form ("check your inbox"), then signs in on /login (sign-up
 * never signs in by itself: it answers the same for a registered email); the browser ends signed
 * in to the dashboard, its address not yet verified.
 */
export async function signUp(browser: Browser, email: string, password: string): Promise<void> {
  const page = await (await browser.get('/signup')).text();
  const res = await browser.postForm('/signup', { _csrf: csrfFrom(page), email, password });
  if (res.status !== 200 || !(await res.text()).includes('Check your inbox'))
    throw new Error(`sign-up failed: ${res.status}`);
  const login = await (await browser.get('/login')).text();
  const signedIn = await browser.postForm('/login', { _csrf: csrfFrom(login), email, password });
  if (signedIn.status !== 303)
    throw new Error(`sign-in after sign-up failed: ${signedIn.status} ${(await signedIn.text()).slice(0, 300)}`);
}

/** Registers an application with the documented body, as the signed-in browser. */
export async function registerApp(
  browser: Browser,
  body: { name: string; redirect_uris: string[]; scopes: string[]; type?: string },
): Promise<{ client_id: string; client_secret?: string } & Record<string, unknown>> {
  const res = await browser.postJson('/oauth/applications', body);
  if (res.status !== 201) throw new Error(`registration failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as never;
}
