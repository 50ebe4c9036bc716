/**
 * CPU per request (`/v2/auth/test`, `/oauth/introspect`, `/oauth/token`) with the socket taken out:
 * requests are handed to the real app's request handler in this process (a real IncomingMessage
 * and ServerResponse over a socket that discards what is written), so the figure is the
 * JavaScript's own cost, without the write system call and the load generator's wake-ups that
 * dominate `npm run bench` on a busy machine.
 * Use it to compare two versions of the code on the same machine; `npm run bench` stays the
 * measure of record.
 *
 *   node --import tsx bench/inject.ts [--n 20000] [--concurrency 50] [--rounds 3] [--miss 10500]
 *     [--only 'API key']
 *
 * Prints one line per credential: CPU µs per request (the harness's own share included; the bare
 * Koa line shows how large that is), the best of `rounds`.
 */
import { Duplex } from 'node:stream';
import http from 'node:http';
import { parseArgs } from 'node:util';
import Koa from 'koa';
import { REDIRECT_URI, startWorld } from '../test/support/world.ts';
import { basic } from './lib/fixtures.ts';
import { refreshTokenPool } from './lib/flows.ts';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '20000' },
    concurrency: { type: 'string', default: '50' },
    rounds: { type: 'string', default: '3' },
    /** Also a row of this many API keys in turn (above 10,000: every request a cache miss). */
    miss: { type: 'string' },
    /** Only the rows whose label contains this (to profile one path with --cpu-prof). */
    only: { type: 'string' },
  },
});
const n = Number(values.n);
const concurrency = Number(values.concurrency);
const rounds = Number(values.rounds);

/** A connected-looking socket that accepts every write at once and never has anything to read. */
class NullSocket extends Duplex {
  remoteAddress = '127.0.0.1';
  remotePort = 40000;
  encrypted = false;
  override _read(): void {}
  override _write(_chunk: unknown, _enc: BufferEncoding, cb: () => void): void {
    cb();
  }
  override _writev(_chunks: unknown, cb: () => void): void {
    cb();
  }
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** A request of a row: GET /v2/auth/test by default; a form body makes it a POST. */
interface Injected {
  path?: string;
  headers: Record<string, string>;
  form?: string;
  /** Told of each answer's body (a refresh chain takes its next token from it). */
  onBody?(body: string): void;
}

function inject(handler: Handler, r: Injected): Promise<number> {
  const socket = new NullSocket();
  const req = new http.IncomingMessage(socket as never);
  req.method = r.form === undefined ? 'GET' : 'POST';
  req.url = r.path ?? '/v2/auth/test';
  req.httpVersion = '1.1';
  req.httpVersionMajor = 1;
  req.httpVersionMinor = 1;
  req.headers = { host: '127.0.0.1', ...r.headers };
  if (r.form !== undefined) {
    req.headers['content-type'] = 'application/x-www-form-urlencoded';
    req.headers['content-length'] = String(Buffer.byteLength(r.form));
    req.push(Buffer.from(r.form));
  }
  req.complete = true;
  req.push(null);
  const res = new http.ServerResponse(req);
  res.assignSocket(socket as never);
  if (r.onBody) {
    const end = res.end.bind(res) as (...args: unknown[]) => http.ServerResponse;
    res.end = ((chunk: unknown, ...rest: unknown[]) => {
      if (chunk) r.onBody?.(String(chunk));
      return end(chunk, ...rest);
    }) as never;
  }
  return new Promise((resolve) => {
    res.once('finish', () => resolve(res.statusCode));
    handler(req, res);
  });
}

async function measure(handler: Handler, requestOf: () => Injected): Promise<number> {
  const run = async (count: number) => {
    let next = 0;
    const worker = async () => {
      while (next < count) {
        next += 1;
        const status = await inject(handler, requestOf());
        if (status !== 200) throw new Error(`status ${status}`);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  };
  await run(Math.min(n, 5000)); // warm-up: JIT and caches
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < rounds; r++) {
    const before = process.cpuUsage();
    await run(n);
    const used = process.cpuUsage(before);
    best = Math.min(best, (used.user + used.system) / n);
  }
  return best;
}

const world = await startWorld();

/** client_credentials of a service application, its secret in HTTP Basic (as `npm run bench` asks). */
async function clientCredentials(): Promise<() => Injected> {
  const service = (await world.serviceToken(await world.user({ tag: 'svc' }), ['read:users'])).app;
  const authorization = basic(service as { client_id: string; client_secret: string });
  return () => ({
    path: '/oauth/token',
    headers: { authorization },
    form: 'grant_type=client_credentials&scope=read%3Ausers',
  });
}

/**
 * Refresh tokens rotate: a queue starts with one per concurrent request (from the real code flow)
 * and each answer's new refresh token goes back into it, so no token is ever presented twice.
 */
async function refreshChain(): Promise<() => Injected> {
  const person = await world.user({ tag: 'person' });
  const web = (await world.app(undefined, { scopes: ['read:users'] })) as { client_id: string; client_secret: string };
  const pool = await refreshTokenPool(world.url, { client: web, redirectUri: REDIRECT_URI, ...person, n: concurrency });
  const authorization = basic(web);
  const onBody = (body: string) => {
    const next = (JSON.parse(body) as { refresh_token?: string }).refresh_token;
    if (next) pool.push(next);
  };
  return () => ({
    path: '/oauth/token',
    headers: { authorization },
    form: `grant_type=refresh_token&refresh_token=${pool.shift() ?? 'pool-exhausted'}`,
    onBody,
  });
}

try {
  const alice = await world.user();
  const key = (await world.apiKey(alice, ['read:users'])).key;
  const token = (await world.serviceToken(alice, ['read:users'])).access_token;
  const jwt = world.jwt({ sub: alice.id, scopes: ['read:users'] });
  const resourceServer = await world.app(alice, { scopes: [], type: 'resource_server' });
  const app = world.server.built.app;

  const koa = new Koa();
  koa.use(async (ctx) => {
    ctx.body = { valid: true, method: 'api_key', subject: 'usr_x', scopes: ['read:users'], expires_at: null };
  });
  const bearer = (credential: string) => () => ({ headers: { authorization: `Bearer ${credential}` } });
  const rows: [string, Handler, () => Injected][] = [
    ['bare Koa (the harness floor)', koa.callback(), () => ({ headers: {} })],
    ['/v2/auth/test, API key', app.callback(), bearer(key)],
    ['/v2/auth/test, OAuth token', app.callback(), bearer(token)],
    ['/v2/auth/test, JWT', app.callback(), bearer(jwt)],
    // As `npm run bench` asks it: a resource server's secret in HTTP Basic, the key in the form.
    [
      '/oauth/introspect, API key',
      app.callback(),
      () => ({
        path: '/oauth/introspect',
        headers: { authorization: basic(resourceServer as { client_id: string; client_secret: string }) },
        form: `token=${key}`,
      }),
    ],
  ];
  if (values.miss) {
    // More keys than the API-key cache holds (10,000), in turn: every request misses it.
    const keys: string[] = [];
    for (let i = 0; i < Number(values.miss); i++) keys.push((await world.apiKey(alice, ['read:users'])).key);
    let turn = 0;
    rows.push([`API key, ${keys.length} keys in turn`, app.callback(), () => bearer(keys[turn++ % keys.length]!)()]);
  }
  // These two need applications, a sign-in and tokens first: made only when measured.
  const wanted = (label: string) => !values.only || label.includes(values.only);
  const cc = '/oauth/token client_credentials';
  if (wanted(cc)) rows.push([cc, app.callback(), await clientCredentials()]);
  const refresh = '/oauth/token refresh_token';
  if (wanted(refresh)) rows.push([refresh, app.callback(), await refreshChain()]);
  for (const [label, handler, requestOf] of rows) {
    if (!wanted(label)) continue;
    const us = await measure(handler, requestOf);
    process.stdout.write(`${label.padEnd(32)} ${us.toFixed(1).padStart(7)} µs CPU/req\n`);
  }
} finally {
  await world.close();
}
