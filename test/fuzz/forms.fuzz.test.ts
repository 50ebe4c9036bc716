/**
 * Bad input to every browser page and form (enumerated from the page routers): sign-in, sign-up,
 * second factor, sign-out, the OAuth login and consent interaction, settings → security and the
 * dashboard forms; with a valid CSRF token (field or header), a wrong one, another browser's, or
 * none; signed in, half signed in (second factor pending), or not at all. Every answer is below
 * 500, an error is an HTML page, a form without a valid CSRF token is refused, redirects stay on
 * the site, nothing internal leaks, and the server stays up.
 */
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import * as OTPAuth from 'otpauth';
import { startTestServer, type TestServer } from '../support/server.ts';
import { Browser, authorizeUrl, csrfFrom, formAction, registerApp } from '../support/http.ts';
import {
  assertAlive,
  badBody,
  checkAnswer,
  contentType,
  formEncode,
  fuzz,
  headerSafe,
  method,
  oddString,
  pct,
  renderBody,
  runs,
  send,
  summary,
  type BodySpec,
  type Request,
} from './kit.ts';
import { fillPath, pageRoutes, type Route } from './routes.ts';
import { worldOn, credentialServerEnv, type TestUser } from '../support/world.ts';
import { BY_SYSTEM } from '../../src/features/audit/audit.ts';

const FILE = 'test/fuzz/forms.fuzz.test.ts';

type Who = 'none' | 'anon' | 'member' | 'pending2fa' | 'interaction' | 'consent';

/**
 * Form posts whose purpose is to end sessions: the posting browser's own, or (Settings → Sessions)
 * other sessions of its account, the member's among them when the consent persona (signed in as
 * the member too) posts them. After one of these the member may sign in again; after any other
 * form, the member must still be signed in.
 */
const ENDS_SESSIONS = new Set([
  '/logout',
  '/interaction/:uid/switch-account',
  '/settings/sessions/sign-out',
  '/settings/sessions/sign-out-others',
]);
type Csrf =
  | { t: 'field' }
  | { t: 'header' }
  | { t: 'none' }
  | { t: 'wrong'; s: string }
  | { t: 'other-browser' }
  | { t: 'twice' }
  | { t: 'nested' }
  | { t: 'huge' };
type Enc = { t: 'form' } | { t: 'raw'; body: BodySpec; type: string | null } | { t: 'json' };
type Param = { t: 'real' } | { t: 'fuzz'; s: string } | { t: 'raw'; raw: string };

interface Persona {
  browser: Browser | null;
  csrf: string | null;
}

describe('fuzz: browser pages and forms', { timeout: 30 * 60_000 }, () => {
  let server: TestServer;
  let routes: Route[];
  let member: TestUser;
  /** The accounts the credential-shaped cases sign in to (their throttles run out; the personas' accounts never do). */
  let target: TestUser;
  let targetTwoFactorEmail = '';
  let twoFactorEmail = '';
  let twoFactorId = '';
  const TWO_FACTOR_PASSWORD = 'a long two factor passphrase';
  const personas = {} as Record<Who, Persona>;
  const realIds: Record<string, string> = {};
  let webClientId = '';
  let interactionUses = 0;
  let consentUses = 0;
  let consentUid = '';
  let pendingUses = 0;

  async function tokenOf(browser: Browser, page = '/signup'): Promise<string> {
    return csrfFrom(await (await browser.get(page)).text());
  }

  /** A browser at the login step of a fresh OAuth authorization (an interaction to post to). */
  async function freshInteraction(): Promise<void> {
    const browser = new Browser(server.url);
    const res = await browser.get(
      `/oauth/authorize?client_id=${webClientId}` +
        `&redirect_uri=${encodeURIComponent('https://client.example/callback')}` +
        '&response_type=code&scope=read:users&state=s',
    );
    const location = res.headers.get('location') ?? '';
    const uid = /\/interaction\/([^/?#]+)/.exec(location)?.[1];
    if (!uid) throw new Error(`no interaction: ${res.status} ${location}`);
    const page = await (await browser.get(location)).text();
    realIds['uid:/interaction'] = uid;
    personas.interaction = { browser, csrf: csrfFrom(page) };
    interactionUses = 0;
  }

  /**
   * The personas' own sign-ins must not meet the sign-in throttle, which the fuzzed forms (wrong
   * current passwords and codes in Settings) use up for their accounts: a completed sign-in
   * elsewhere starts an account's counts afresh, so one is recorded before each.
   */
  const signedInElsewhere = (userId: string) => server.built.services.accounts.recordSignIn(userId);

  /** A browser signed in within a fresh OAuth authorization, at its consent step. */
  async function freshConsent(): Promise<void> {
    await signedInElsewhere(member.id);
    const browser = new Browser(server.url);
    const start = await browser.get(
      authorizeUrl(server.url, {
        clientId: webClientId,
        redirectUri: 'https://client.example/callback',
        scope: 'read:users',
        state: 's',
        extra: { prompt: 'consent' },
      }),
    );
    const { res: loginPage } = await browser.follow(start);
    const html = await loginPage.text();
    const { res: consentPage, url } = await browser.follow(
      await browser.postForm(formAction(html, '/login'), {
        _csrf: csrfFrom(html),
        email: member.email,
        password: member.password,
      }),
    );
    const page = await consentPage.text();
    const uid = /\/interaction\/([^/?#]+)/.exec(url)?.[1];
    if (!uid || !page.includes('/confirm')) throw new Error(`no consent step: ${consentPage.status} ${url}`);
    consentUid = uid;
    personas.consent = { browser, csrf: csrfFrom(page) };
    consentUses = 0;
  }

  /** A browser whose password step passed for the two-factor account (the code step pending). */
  async function freshPending(): Promise<void> {
    await signedInElsewhere(twoFactorId);
    const browser = new Browser(server.url);
    const token = await tokenOf(browser, '/login');
    const res = await browser.postForm('/login', {
      _csrf: token,
      email: twoFactorEmail,
      password: TWO_FACTOR_PASSWORD,
    });
    if (res.status !== 303 || !res.headers.get('location')?.startsWith('/login/2fa'))
      throw new Error(`2fa login step: ${res.status} ${res.headers.get('location')}`);
    personas.pending2fa = { browser, csrf: token };
    pendingUses = 0;
  }

  async function freshMember(): Promise<void> {
    await signedInElsewhere(member.id);
    const browser = new Browser(server.url);
    const token = await tokenOf(browser, '/login');
    const res = await browser.postForm('/login', { _csrf: token, email: member.email, password: member.password });
    if (res.status !== 303) throw new Error(`member login: ${res.status}`);
    personas.member = { browser, csrf: token };
  }

  before(async () => {
    server = await startTestServer({ env: { ...credentialServerEnv, WEBHOOK_ALLOW_PRIVATE: '1' } });
    const f = worldOn(server);
    member = await f.user({ tag: 'fuzz-forms' });
    const dev = await f.user({ admin: true, tag: 'fuzz-forms-dev' });

    // The member's own resources, for forms that name one.
    const key = await f.apiKey(member, ['read:projects'], { name: 'fuzz target' });
    const app = await registerApp(member.browser, {
      name: 'Fuzz forms app',
      redirect_uris: ['https://client.example/callback'],
      scopes: ['read:users'],
    });
    const hook = await member.browser.postJson(
      '/v2/webhooks',
      { url: 'http://127.0.0.1:9/hook', events: ['*'] },
      { origin: server.url },
    );
    if (hook.status !== 201) throw new Error(`webhook: ${hook.status} ${await hook.text()}`);
    const granted = await f.oauthToken(member, ['read:users']);
    realIds['id:/settings/api-keys'] = key.id;
    realIds['id:/settings/applications'] = app.client_id;
    realIds['id:/settings/webhooks'] = ((await hook.json()) as { id: string }).id;
    realIds['clientId:/settings/authorized-apps'] = granted.app.client_id;
    webClientId = (
      await registerApp(dev.browser, {
        name: 'Fuzz forms web',
        redirect_uris: ['https://client.example/callback'],
        scopes: ['read:users'],
      })
    ).client_id;

    // Accounts with TOTP on, for the second-factor forms: one for the pending persona, one to target.
    const withTwoFactor = async (tag: string) => {
      const email = `fuzz-${tag}-${Date.now()}@example.com`;
      const account = await server.built.services.accounts.signUp({ email, password: TWO_FACTOR_PASSWORD }, BY_SYSTEM);
      if (tag === '2fa') twoFactorId = account.id;
      const tf = new Browser(server.url);
      const tfToken = await tokenOf(tf, '/login');
      await tf.postForm('/login', { _csrf: tfToken, email, password: TWO_FACTOR_PASSWORD });
      const enrol = await (await tf.postForm('/settings/security/2fa/begin', { _csrf: tfToken })).text();
      const secret = /id="totp-secret">([A-Z2-7]+)</.exec(enrol)?.[1];
      if (!secret) throw new Error('no TOTP secret on the enrolment page');
      const code = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), digits: 6, period: 30 }).generate();
      const confirmed = await tf.postForm('/settings/security/2fa/confirm', { _csrf: tfToken, code });
      if (confirmed.status !== 303) throw new Error(`2fa confirm: ${confirmed.status}`);
      return email;
    };
    twoFactorEmail = await withTwoFactor('2fa');
    targetTwoFactorEmail = await withTwoFactor('2fa-target');
    target = await f.user({ tag: 'fuzz-target' });

    personas.none = { browser: null, csrf: null };
    const anon = new Browser(server.url);
    personas.anon = { browser: anon, csrf: await tokenOf(anon) };
    await freshMember();
    await freshPending();
    await freshInteraction();
    await freshConsent();
    routes = pageRoutes(server);
  });

  after(async () => {
    console.log(summary('forms'));
    await server?.dispose();
  });

  // -- building requests --------------------------------------------------------------------

  const FIELDS = [
    'email',
    'password',
    'name',
    'code',
    'current_password',
    'new_password',
    'scopes',
    'scopes[]',
    'expires_at',
    'expires_in',
    'allowed_ips',
    'redirect_uris',
    'type',
    'url',
    'events',
    'events[]',
    'description',
    'status',
    'decision',
    'return_to',
    'a[b][c]',
    '__proto__[admin]',
    'constructor[prototype][admin]',
    'email[]',
    'password[toString]',
  ];
  const csrf: fc.Arbitrary<Csrf> = fc.oneof(
    { weight: 5, arbitrary: fc.constant<Csrf>({ t: 'field' }) },
    { weight: 1, arbitrary: fc.constant<Csrf>({ t: 'header' }) },
    { weight: 2, arbitrary: fc.constant<Csrf>({ t: 'none' }) },
    { weight: 2, arbitrary: oddString.map((s): Csrf => ({ t: 'wrong', s })) },
    {
      weight: 1,
      arbitrary: fc.constantFrom<Csrf>({ t: 'other-browser' }, { t: 'twice' }, { t: 'nested' }, { t: 'huge' }),
    },
  );
  const enc: fc.Arbitrary<Enc> = fc.oneof(
    { weight: 6, arbitrary: fc.constant<Enc>({ t: 'form' }) },
    { weight: 1, arbitrary: fc.constant<Enc>({ t: 'json' }) },
    { weight: 2, arbitrary: fc.record({ body: badBody, type: contentType }).map((r): Enc => ({ t: 'raw', ...r })) },
  );
  const param: fc.Arbitrary<Param> = fc.oneof(
    { weight: 3, arbitrary: fc.constant<Param>({ t: 'real' }) },
    { weight: 3, arbitrary: oddString.filter((s) => s !== '').map((s): Param => ({ t: 'fuzz', s })) },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom('%', '%zz', '%00', '..', '%2e%2e', '%2F', '%E0%A4%A', '%ED%A0%80', 'new')
        .map((raw): Param => ({ t: 'raw', raw })),
    },
  );
  const fieldValue = fc.oneof(
    { weight: 4, arbitrary: oddString },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        'read:users',
        'write:projects',
        'admin:all',
        'https://client.example/callback',
        'http://127.0.0.1:9/x',
        '*',
        'web',
        'service',
        'active',
        'disabled',
        '000000',
        '123456',
        'ABCD-EFGH-IJKL-MNOP',
        '2099-01-01',
        '10.0.0.0/8',
        '::1/128',
      ),
    },
  );

  function paramValue(route: Route, name: string, p: Param, who?: Who): string {
    if (p.t === 'raw') return p.raw;
    if (p.t === 'fuzz') return pct(p.s);
    if (name === 'uid' && who === 'consent') return consentUid;
    const key = `${name}:${route.path.split('/').slice(0, 3).join('/')}`;
    return pct(realIds[key] ?? realIds[`${name}:${route.path.split('/').slice(0, 2).join('/')}`] ?? 'none');
  }

  /** Builds one form post; says whether its CSRF token is certainly not valid. */
  function buildForm(
    route: Route,
    who: Who,
    c: Csrf,
    e: Enc,
    pairs: [string, string][],
    params: Param[],
    returnTo: string | null,
  ) {
    const persona = personas[who];
    const headers: Record<string, string> = { accept: 'text/html,application/xhtml+xml' };
    if (persona.browser) headers['cookie'] = persona.browser.jar.header();
    const fields: [string, string][] = [];
    const token = persona.csrf ?? 'no-token';
    switch (c.t) {
      case 'field':
        fields.push(['_csrf', token]);
        break;
      case 'header':
        headers['x-csrf-token'] = token;
        break;
      case 'wrong':
        fields.push(['_csrf', c.s === token ? `${c.s}x` : c.s]);
        break;
      case 'other-browser':
        fields.push(['_csrf', personas[who === 'anon' ? 'member' : 'anon'].csrf!]);
        break;
      case 'twice':
        fields.push(['_csrf', token], ['_csrf', token]);
        break;
      case 'nested':
        fields.push(['_csrf[]', token]);
        break;
      case 'huge':
        fields.push(['_csrf', token.repeat(2000)]);
        break;
      case 'none':
        break;
    }
    fields.push(...pairs);
    let body: Buffer;
    if (e.t === 'form') {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = Buffer.from(formEncode(fields));
    } else if (e.t === 'json') {
      headers['content-type'] = 'application/json';
      body = Buffer.from(JSON.stringify(Object.fromEntries(fields)));
    } else {
      if (e.type !== null) headers['content-type'] = e.type;
      body = renderBody(e.body);
    }
    const values: Record<string, string> = {};
    for (const [i, name] of route.params.entries()) values[name] = paramValue(route, name, params[i]!, who);
    const query = returnTo === null ? '' : `?return_to=${pct(returnTo)}`;
    const req: Request = { method: 'POST', path: fillPath(route, values) + query, headers, body };
    // Valid only when this browser's own token arrives as the one string field, or (no field) in the header.
    const fieldOk = c.t === 'field' && e.t === 'form';
    const headerOk = c.t === 'header';
    const certainlyForged = persona.csrf === null || !(fieldOk || headerOk);
    return {
      req,
      certainlyForged,
      sent: [
        ...pairs.flat(),
        ...(c.t === 'wrong' ? [c.s] : []),
        ...params.flatMap((p) => (p.t === 'fuzz' ? [p.s] : [])),
        ...(returnTo ? [returnTo] : []),
      ],
    };
  }

  /** Keeps the stateful personas usable: a sign-out ends the member's session, an interaction gets used up. */
  /** The member persona's browser on a signed-in page: 200 while it is still signed in. */
  async function memberPageStatus(): Promise<number> {
    const res = await send(server.port, {
      method: 'GET',
      path: '/settings/api-keys',
      headers: { cookie: personas.member.browser!.jar.header(), accept: 'text/html' },
    });
    return res.status;
  }

  async function afterCase(route: Route, who: Who, status: number): Promise<void> {
    if (who === 'member' || who === 'consent') {
      const page = await memberPageStatus();
      if (page !== 200) {
        if (!ENDS_SESSIONS.has(route.path) || status !== 303) {
          throw new Error(`${who}: ${route.method} ${route.path} (answered ${status}) signed the member out`);
        }
        await freshMember();
      }
    }
    if (who === 'interaction' && (status === 303 || ++interactionUses > 60)) await freshInteraction();
    if (who === 'consent' && (status === 303 || ++consentUses > 60)) await freshConsent();
    if (who === 'pending2fa' && ++pendingUses > 150) await freshPending();
  }

  // -- properties ----------------------------------------------------------------------------

  it('every form: any fields, any encoding, with and without a valid CSRF token', async (t) => {
    const forms = routes.filter((r) => r.method === 'POST');
    const arb = fc.record({
      route: fc.constantFrom(...forms),
      who: fc.constantFrom<Who>(
        'none',
        'anon',
        'member',
        'member',
        'pending2fa',
        'interaction',
        'interaction',
        'consent',
        'consent',
      ),
      csrf,
      enc,
      pairs: fc.array(
        fc.tuple(
          fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...FIELDS) }, { weight: 1, arbitrary: oddString }),
          fieldValue,
        ),
        { maxLength: 6 },
      ),
      params: fc.array(param, { minLength: 2, maxLength: 2 }),
      returnTo: fc.option(
        fc.oneof(
          oddString,
          fc.constantFrom(
            '//evil.example',
            '/\\evil.example',
            'https://evil.example',
            '/dashboard',
            '/%0d%0aSet-Cookie:%20x=1',
            '/\r\nInjected: 1',
          ),
        ),
        { nil: null },
      ),
      xff: fc.constantFrom(
        '10.0.0.1',
        '10.0.0.2',
        '10.0.0.3',
        '10.0.0.4',
        '10.0.0.5',
        '10.0.0.6',
        '10.0.0.7',
        '10.0.0.8',
      ),
    });
    await fuzz(
      t,
      FILE,
      'forms: every form post',
      arb,
      async (c) => {
        const { req, certainlyForged, sent } = buildForm(c.route, c.who, c.csrf, c.enc, c.pairs, c.params, c.returnTo);
        req.headers!['x-forwarded-for'] = c.xff;
        const res = await send(server.port, req);
        checkAnswer(req, res, { format: 'page', mustFail: false, sent, origin: server.url });
        // Without a valid token: refused (403; or the body was refused before the check: 400/413/415/431),
        // or, on a page that needs an account, sent to sign in first. Never acted on.
        const toLogin = res.status >= 300 && res.status < 400 && /^\/login(\?|$)/.test(String(res.headers['location']));
        if (certainlyForged && ![400, 403, 413, 415, 431].includes(res.status) && !toLogin) {
          throw new Error(
            `a form without a valid CSRF token got ${res.status}, not 403: ` +
              `POST ${req.path.slice(0, 200)} -> ${res.headers['location'] ?? res.text.slice(0, 200)}`,
          );
        }
        await afterCase(c.route, c.who, res.status);
      },
      runs(1800),
    );
    await assertAlive(server.port);
  });

  it('sign-in and second-factor forms: credential-shaped input', async (t) => {
    // Real emails and passwords mixed with odd ones, so the password check and the code check run.
    const logins = routes.filter((r) => r.method === 'POST' && /\/(login|2fa|signup)$/.test(r.path));
    const arb = fc.record({
      route: fc.constantFrom(...logins),
      who: fc.constantFrom<Who>('anon', 'pending2fa', 'interaction'),
      email: fc.oneof(oddString, fc.constantFrom('MEMBER', 'TWOFACTOR', ' MEMBER ', 'MEMBER\u0000', 'UPPER')),
      password: fc.oneof(oddString, fc.constantFrom('RIGHT', 'RIGHT ', 'RIGHT\u0000')),
      code: fc.oneof(oddString, fc.stringMatching(/^\d{6}$/), fc.stringMatching(/^[A-Z0-9]{4}(-[A-Z0-9]{4}){3}$/)),
      xff: fc.constantFrom('10.1.0.1', '10.1.0.2', '10.1.0.3', '10.1.0.4'),
    });
    await fuzz(
      t,
      FILE,
      'forms: sign-in and second factor',
      arb,
      async (c) => {
        const email = c.email
          .replace('MEMBER', target.email)
          .replace('TWOFACTOR', targetTwoFactorEmail)
          .replace('UPPER', target.email.toUpperCase());
        const password = c.password.replace(
          'RIGHT',
          c.email.includes('TWOFACTOR') ? TWO_FACTOR_PASSWORD : target.password,
        );
        const pairs: [string, string][] = [
          ['email', email],
          ['password', password],
          ['code', c.code],
        ];
        const params: Param[] = [{ t: 'real' }, { t: 'real' }];
        const { req, sent } = buildForm(c.route, c.who, { t: 'field' }, { t: 'form' }, pairs, params, null);
        req.headers!['x-forwarded-for'] = c.xff;
        const res = await send(server.port, req);
        checkAnswer(req, res, {
          format: 'page',
          mustFail: false,
          sent: sent.filter((s) => s !== target.password && s !== TWO_FACTOR_PASSWORD),
          origin: server.url,
        });
        await afterCase(c.route, c.who, res.status);
        // A successful sign-up or sign-in made this browser someone else: start it afresh.
        if (c.who === 'anon' && res.status === 303) {
          const anon = new Browser(server.url);
          personas.anon = { browser: anon, csrf: await tokenOf(anon) };
        }
        if (c.who === 'pending2fa' && res.status === 303) await freshPending();
      },
      runs(500),
    );
    await assertAlive(server.port);
  });

  it('every page: odd query strings, ids and methods', async (t) => {
    const pages = routes.filter((r) => r.method === 'GET');
    const arb = fc.record({
      route: fc.constantFrom(...routes),
      method: fc.oneof({ weight: 4, arbitrary: fc.constant('GET') }, { weight: 1, arbitrary: method }),
      who: fc.constantFrom<Who>('none', 'anon', 'member', 'pending2fa', 'interaction', 'consent'),
      params: fc.array(param, { minLength: 2, maxLength: 2 }),
      query: fc.array(
        fc.tuple(
          fc.oneof(fc.constantFrom('return_to', 'error', 'page', 'q', 'id', 'return_to[]'), oddString),
          oddString,
        ),
        { maxLength: 3 },
      ),
      accept: fc.constantFrom('text/html', '*/*', '', 'application/json', 'text/plain', 'image/png'),
      header: oddString,
    });
    void pages;
    await fuzz(
      t,
      FILE,
      'forms: every page',
      arb,
      async (c) => {
        const persona = personas[c.who];
        const values: Record<string, string> = {};
        for (const [i, name] of c.route.params.entries()) values[name] = paramValue(c.route, name, c.params[i]!, c.who);
        const query = c.query.length ? `?${c.query.map(([k, v]) => `${pct(k)}=${pct(v)}`).join('&')}` : '';
        const headers: Record<string, string> = { 'user-agent': headerSafe(c.header), referer: headerSafe(c.header) };
        if (c.accept) headers['accept'] = c.accept;
        if (persona.browser) headers['cookie'] = persona.browser.jar.header();
        const req: Request = { method: c.method, path: fillPath(c.route, values) + query, headers };
        const res = await send(server.port, req);
        // An HTML page unless the client asked for something else (then JSON errors are fine too).
        const format = !c.accept || /html|\*\/\*/.test(c.accept) ? 'page' : 'page-or-json';
        checkAnswer(req, res, {
          format,
          mustFail: false,
          sent: [...c.query.flat(), c.header, ...c.params.flatMap((p) => (p.t === 'fuzz' ? [p.s] : []))],
          origin: server.url,
        });
        if (c.method === 'POST') await afterCase(c.route, c.who, res.status);
      },
      runs(900),
    );
    await assertAlive(server.port);
  });

  it('the member is still signed in and their resources intact after the fuzzing', async () => {
    const res = await send(server.port, {
      method: 'GET',
      path: '/settings/api-keys',
      headers: { cookie: personas.member.browser!.jar.header(), accept: 'text/html' },
    });
    if (res.status !== 200) throw new Error(`/settings/api-keys after the fuzzing: ${res.status}`);
    const login = await send(server.port, { method: 'GET', path: '/login', headers: { accept: 'text/html' } });
    if (login.status !== 200) throw new Error(`/login after the fuzzing: ${login.status}`);
  });
});
