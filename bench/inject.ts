/**
 * CPU per `/v2/auth/test` request with the socket taken out: requests are handed to the real
 * app's request handler in this process (a real IncomingMessage and ServerResponse over a socket
 * that discards what is written), so the figure is the JavaScript's own cost, without the write
 * system call and the load generator's wake-ups that dominate `npm run bench` on a busy machine.
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
import { startWorld } from '../test/support/world.ts';

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

function inject(handler: Handler, path: string, headers: Record<string, string>): Promise<number> {
  const socket = new NullSocket();
  const req = new http.IncomingMessage(socket as never);
  req.method = 'GET';
  req.url = path;
  req.httpVersion = '1.1';
  req.httpVersionMajor = 1;
  req.httpVersionMinor = 1;
  req.headers = { host: '127.0.0.1', ...headers };
  req.complete = true;
  req.push(null);
  const res = new http.ServerResponse(req);
  res.assignSocket(socket as never);
  return new Promise((resolve) => {
    res.once('finish', () => resolve(res.statusCode));
    handler(req, res);
  });
}

async function measure(handler: Handler, headersOf: () => Record<string, string>): Promise<number> {
  const run = async (count: number) => {
    let next = 0;
    const worker = async () => {
      while (next < count) {
        next += 1;
        const status = await inject(handler, '/v2/auth/test', headersOf());
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
try {
  const alice = await world.user();
  const key = (await world.apiKey(alice, ['read:users'])).key;
  const token = (await world.serviceToken(alice, ['read:users'])).access_token;
  const jwt = world.jwt({ sub: alice.id, scopes: ['read:users'] });
  const app = world.server.built.app;

  const koa = new Koa();
  koa.use(async (ctx) => {
    ctx.body = { valid: true, method: 'api_key', subject: 'usr_x', scopes: ['read:users'], expires_at: null };
  });
  const bearer = (credential: string) => () => ({ authorization: `Bearer ${credential}` });
  const rows: [string, Handler, () => Record<string, string>][] = [
    ['bare Koa (the harness floor)', koa.callback(), () => ({})],
    ['/v2/auth/test, API key', app.callback(), bearer(key)],
    ['/v2/auth/test, OAuth token', app.callback(), bearer(token)],
    ['/v2/auth/test, JWT', app.callback(), bearer(jwt)],
  ];
  if (values.miss) {
    // More keys than the API-key cache holds (10,000), in turn: every request misses it.
    const keys: string[] = [];
    for (let i = 0; i < Number(values.miss); i++) keys.push((await world.apiKey(alice, ['read:users'])).key);
    let turn = 0;
    rows.push([`API key, ${keys.length} keys in turn`, app.callback(), () => bearer(keys[turn++ % keys.length]!)()]);
  }
  for (const [label, handler, headersOf] of rows) {
    if (values.only && !label.includes(values.only)) continue;
    const us = await measure(handler, headersOf);
    process.stdout.write(`${label.padEnd(32)} ${us.toFixed(1).padStart(7)} µs CPU/req\n`);
  }
} finally {
  await world.close();
}
