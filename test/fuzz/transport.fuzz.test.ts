/**
 * Bad HTTP itself, on raw sockets (what no client library will send): CR, LF and NUL inside header
 * values and request targets (header injection, request smuggling), broken framing (Content-Length
 * against Transfer-Encoding, bad chunk sizes, truncated bodies), headers near and over Node's
 * 16 KiB limit, and compressed bodies that inflate far past the body limits. The server answers a
 * documented status (Node's own 400 or 431 for what it cannot parse, our errors otherwise), never a
 * 5xx, never reflects an injected header, and is still serving after every case.
 */
import { after, before, describe, it } from 'node:test';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { startTestServer, type TestServer } from '../support/server.ts';
import {
  assertAlive,
  checkAnswer,
  countStatus,
  fuzz,
  oddString,
  rawExchange,
  runs,
  send,
  summary,
  type Format,
  type Request,
} from './kit.ts';
import { worldOn, credentialServerEnv } from '../support/world.ts';

const FILE = 'test/fuzz/transport.fuzz.test.ts';

/** Endpoints of each answer format, to aim the raw requests at. */
const TARGETS: { path: string; method: string; format: Format; type: string }[] = [
  { path: '/v2/projects', method: 'POST', format: 'api', type: 'application/json' },
  { path: '/v2/auth/test', method: 'GET', format: 'api', type: 'application/json' },
  { path: '/oauth/applications', method: 'POST', format: 'api', type: 'application/json' },
  { path: '/oauth/token', method: 'POST', format: 'oauth', type: 'application/x-www-form-urlencoded' },
  { path: '/oauth/token', method: 'POST', format: 'oauth', type: 'application/json' },
  { path: '/oauth/introspect', method: 'POST', format: 'oauth', type: 'application/json' },
  { path: '/oauth/revoke', method: 'POST', format: 'oauth', type: 'application/x-www-form-urlencoded' },
  { path: '/login', method: 'POST', format: 'page', type: 'application/x-www-form-urlencoded' },
  { path: '/signup', method: 'POST', format: 'page', type: 'application/x-www-form-urlencoded' },
  { path: '/oauth/authorize?client_id=x', method: 'GET', format: 'page', type: 'text/plain' },
];

const INJECTIONS = [
  '\r\nX-Injected: 1',
  '\nX-Injected: 1',
  '\rX-Injected: 1',
  '\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n',
  '\u0000',
  'a\u0000b',
  '\r',
  '\n',
  '\r\n Set-Cookie: injected=1',
  '\r\n\tcontinued',
  ' \r\n',
  '%0d%0aX-Injected:%201',
  '\u2028',
  '\u0085',
  '\u00ff\u00fe',
  '\u001b[31m',
];
const HEADER_NAMES = [
  'X-Request-ID',
  'Authorization',
  'Cookie',
  'Content-Type',
  'X-Forwarded-For',
  'Origin',
  'X-CSRF-Token',
  'Accept',
  'User-Agent',
  'X-API-Version',
  'Host',
  'Referer',
  'X-Client-Version',
];

type Framing =
  | 'cl-and-te'
  | 'two-cl'
  | 'negative-cl'
  | 'text-cl'
  | 'huge-cl'
  | 'bad-chunk-size'
  | 'chunk-overflow'
  | 'truncated-chunked'
  | 'te-gzip-chunked'
  | 'te-identity'
  | 'te-twice'
  | 'chunk-ext'
  | 'truncated-cl'
  | 'expect-continue'
  | 'http10-no-host'
  | 'no-host'
  | 'two-hosts'
  | 'absolute-uri'
  | 'asterisk'
  | 'http2-preface'
  | 'garbage-line'
  | 'lowercase-method'
  | 'long-method'
  | 'pipelined'
  | 'upgrade'
  | 'half-headers'
  | 'space-in-path'
  | 'raw-utf8-path'
  | 'nul-in-path'
  | 'bare-lf-lines'
  | 'obs-fold'
  | 'header-no-colon'
  | 'space-before-colon'
  | 'empty-header-name';

describe('fuzz: HTTP framing and headers on raw sockets', { timeout: 30 * 60_000 }, () => {
  let server: TestServer;
  let apiKey = '';

  before(async () => {
    server = await startTestServer({ env: credentialServerEnv });
    const f = worldOn(server);
    const admin = await f.user({ admin: true, tag: 'fuzz-transport' });
    apiKey = (await f.apiKey(admin, ['admin:all'])).key;
  });

  after(async () => {
    console.log(summary('transport'));
    await server?.dispose();
  });

  /** Every status line in what came back (pipelined requests get several answers). */
  const statusesIn = (text: string) => [...text.matchAll(/(?:^|\r\n)HTTP\/1\.[01] (\d{3}) /g)].map((m) => Number(m[1]));

  function assertRawAnswer(label: string, text: string, error: string | null): void {
    const statuses = statusesIn(text);
    countStatus(statuses[0] ?? 0);
    const head = text.split('\r\n\r\n')[0] ?? '';
    if (statuses.some((s) => s >= 500))
      throw new Error(`${label}: server error in ${JSON.stringify(text.slice(0, 400))}`);
    if (/\r\n(x-injected|set-cookie: injected)/i.test(head))
      throw new Error(`${label}: injected header reflected: ${JSON.stringify(head.slice(0, 600))}`);
    // A reset is acceptable only after an answer was written (the server closing a connection it refused).
    if (error === 'ECONNRESET' && statuses.length === 0) throw new Error(`${label}: connection reset with no answer`);
  }

  it('CR, LF and NUL in header values and request targets are refused or harmless', async (t) => {
    const arb = fc.record({
      target: fc.constantFrom(...TARGETS),
      name: fc.oneof(
        fc.constantFrom(...HEADER_NAMES),
        oddString.map((s) => `X-${s.replace(/[^\x21-\x7e]/g, '')}`),
      ),
      prefix: oddString,
      injection: fc.constantFrom(...INJECTIONS),
      inPath: fc.boolean(),
      withKey: fc.boolean(),
    });
    await fuzz(
      t,
      FILE,
      'transport: header injection',
      arb,
      async (c) => {
        // biome-ignore lint/suspicious/noControlCharactersInRegex: the prefix must not carry its own CR, LF or NUL
        const value = Buffer.from(`${c.prefix.replace(/[\r\n\u0000]/g, '')}${c.injection}`, 'utf8').toString('latin1');
        const path = c.inPath
          ? `${c.target.path}${c.target.path.includes('?') ? '&' : '?'}q=${Buffer.from(c.injection).toString('latin1')}`
          : c.target.path;
        const body = c.target.method === 'POST' ? (c.target.type === 'application/json' ? '{"name":"x"}' : 'a=b') : '';
        const lines = [
          `${c.target.method} ${path} HTTP/1.1`,
          'Host: 127.0.0.1',
          `Content-Type: ${c.target.type}`,
          `Content-Length: ${Buffer.byteLength(body)}`,
          'Connection: close',
          ...(c.withKey ? [`Authorization: Bearer ${apiKey}`] : []),
          `${c.name}: ${value}`,
        ];
        const res = await rawExchange(server.port, Buffer.from(`${lines.join('\r\n')}\r\n\r\n${body}`, 'latin1'), {
          endAfterWrite: true,
          waitMs: 5_000,
        });
        assertRawAnswer(`${c.name} with ${JSON.stringify(c.injection)}`, res.text, res.error);
        await assertAlive(server.port);
      },
      runs(300),
    );
  });

  it('broken framing: Content-Length, Transfer-Encoding, chunking, request lines', async (t) => {
    const FRAMINGS: Framing[] = [
      'cl-and-te',
      'two-cl',
      'negative-cl',
      'text-cl',
      'huge-cl',
      'bad-chunk-size',
      'chunk-overflow',
      'truncated-chunked',
      'te-gzip-chunked',
      'te-identity',
      'te-twice',
      'chunk-ext',
      'truncated-cl',
      'expect-continue',
      'http10-no-host',
      'no-host',
      'two-hosts',
      'absolute-uri',
      'asterisk',
      'http2-preface',
      'garbage-line',
      'lowercase-method',
      'long-method',
      'pipelined',
      'upgrade',
      'half-headers',
      'space-in-path',
      'raw-utf8-path',
      'nul-in-path',
      'bare-lf-lines',
      'obs-fold',
      'header-no-colon',
      'space-before-colon',
      'empty-header-name',
    ];
    const arb = fc.record({
      target: fc.constantFrom(...TARGETS),
      framing: fc.constantFrom(...FRAMINGS),
      junk: oddString,
    });
    await fuzz(
      t,
      FILE,
      'transport: broken framing',
      arb,
      async (c) => {
        const { method, path, type } = c.target;
        const body = type === 'application/json' ? '{"name":"fuzz"}' : 'name=fuzz';
        const junk = Buffer.from(c.junk, 'utf8').toString('latin1');
        const base = [`Host: 127.0.0.1`, `Content-Type: ${type}`, `Authorization: Bearer ${apiKey}`];
        const req = (head: string[], rest = '', line = `${method} ${path} HTTP/1.1`) =>
          `${[line, ...head].join('\r\n')}\r\n\r\n${rest}`;
        const raw: Record<Framing, () => string> = {
          'cl-and-te': () =>
            req(
              [...base, `Content-Length: ${body.length}`, 'Transfer-Encoding: chunked'],
              `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`,
            ),
          'two-cl': () => req([...base, `Content-Length: ${body.length}`, `Content-Length: ${body.length + 5}`], body),
          'negative-cl': () => req([...base, 'Content-Length: -1'], body),
          'text-cl': () => req([...base, `Content-Length: ${junk || 'abc'}`], body),
          'huge-cl': () => req([...base, 'Content-Length: 99999999999999999999'], body),
          'bad-chunk-size': () => req([...base, 'Transfer-Encoding: chunked'], `zz\r\n${body}\r\n0\r\n\r\n`),
          'chunk-overflow': () =>
            req([...base, 'Transfer-Encoding: chunked'], `ffffffffffffffffff\r\n${body}\r\n0\r\n\r\n`),
          'truncated-chunked': () => req([...base, 'Transfer-Encoding: chunked'], `100\r\n${body}`),
          'te-gzip-chunked': () =>
            req([...base, 'Transfer-Encoding: gzip, chunked'], `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`),
          'te-identity': () => req([...base, 'Transfer-Encoding: identity', `Content-Length: ${body.length}`], body),
          'te-twice': () =>
            req(
              [...base, 'Transfer-Encoding: chunked', 'Transfer-Encoding: chunked'],
              `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`,
            ),
          'chunk-ext': () =>
            req(
              [...base, 'Transfer-Encoding: chunked'],
              `${body.length.toString(16)};ext=${junk.replace(/[\r\n]/g, '')}\r\n${body}\r\n0\r\n\r\n`,
            ),
          'truncated-cl': () => req([...base, `Content-Length: ${body.length + 1000}`], body),
          'expect-continue': () => req([...base, 'Expect: 100-continue', `Content-Length: ${body.length}`], body),
          'http10-no-host': () =>
            req([`Content-Type: ${type}`, `Content-Length: ${body.length}`], body, `${method} ${path} HTTP/1.0`),
          'no-host': () => req([`Content-Type: ${type}`, `Content-Length: ${body.length}`], body),
          'two-hosts': () => req([...base, 'Host: evil.example', `Content-Length: ${body.length}`], body),
          'absolute-uri': () =>
            req([...base, `Content-Length: ${body.length}`], body, `${method} http://evil.example${path} HTTP/1.1`),
          asterisk: () => req(base, '', 'OPTIONS * HTTP/1.1'),
          'http2-preface': () => 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
          'garbage-line': () => `${junk}\r\n\r\n`,
          'lowercase-method': () =>
            req([...base, `Content-Length: ${body.length}`], body, `${method.toLowerCase()} ${path} HTTP/1.1`),
          'long-method': () => req(base, '', `${'A'.repeat(20_000)} ${path} HTTP/1.1`),
          pipelined: () =>
            req([...base, `Content-Length: ${body.length}`], body) +
            req([...base, `Content-Length: ${body.length}`], body) +
            `GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n`,
          upgrade: () =>
            req([
              ...base,
              'Connection: Upgrade',
              'Upgrade: websocket',
              'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
              'Sec-WebSocket-Version: 13',
            ]),
          'half-headers': () => `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty`,
          'space-in-path': () => req(base, '', `${method} /v2/pro jects HTTP/1.1`),
          'raw-utf8-path': () =>
            req(
              base,
              '',
              `${method} ${path}/${Buffer.from(c.junk, 'utf8')
                .toString('latin1')
                .replace(/[\r\n ]/g, '')} HTTP/1.1`,
            ),
          'nul-in-path': () => req(base, '', `${method} ${path}\u0000x HTTP/1.1`),
          'bare-lf-lines': () =>
            `${method} ${path} HTTP/1.1\nHost: x\nContent-Type: ${type}\nContent-Length: ${body.length}\n\n${body}`,
          'obs-fold': () => req([...base, 'X-Request-ID: a', ' folded', `Content-Length: ${body.length}`], body),
          'header-no-colon': () => req([...base, 'NoColonHere', `Content-Length: ${body.length}`], body),
          'space-before-colon': () => req([...base, `Content-Length : ${body.length}`], body),
          'empty-header-name': () => req([...base, ': value', `Content-Length: ${body.length}`], body),
        };
        const res = await rawExchange(server.port, Buffer.from(raw[c.framing](), 'latin1'), {
          endAfterWrite: true,
          waitMs: 5_000,
        });
        assertRawAnswer(`${c.framing} on ${method} ${path}`, res.text, res.error);
        await assertAlive(server.port);
      },
      runs(300),
    );
  });

  it('headers near and over the 16 KiB limit, and many of them', async (t) => {
    const arb = fc.record({
      target: fc.constantFrom(...TARGETS),
      bytes: fc.constantFrom(8_000, 15_500, 16_000, 16_300, 16_384, 16_500, 17_000, 32_000, 100_000),
      count: fc.constantFrom(1, 10, 100, 1_000, 2_500),
      where: fc.constantFrom('header', 'cookie', 'authorization', 'url'),
    });
    await fuzz(
      t,
      FILE,
      'transport: huge headers',
      arb,
      async (c) => {
        const headers: Record<string, string> = {};
        let path = c.target.path;
        const per = Math.max(1, Math.floor(c.bytes / c.count));
        if (c.where === 'url') path += `${path.includes('?') ? '&' : '?'}q=${'u'.repeat(c.bytes)}`;
        else if (c.where === 'cookie')
          headers['cookie'] = Array.from({ length: c.count }, (_, i) => `c${i}=${'v'.repeat(per)}`).join('; ');
        else if (c.where === 'authorization') headers['authorization'] = `Bearer ${'t'.repeat(c.bytes)}`;
        else for (let i = 0; i < c.count; i++) headers[`x-h-${i}`] = 'h'.repeat(per);
        if (c.target.method === 'POST') headers['content-type'] = c.target.type;
        const request: Request = {
          method: c.target.method,
          path,
          headers,
          ...(c.target.method === 'POST' ? { body: c.target.type === 'application/json' ? '{}' : 'a=b' } : {}),
        };
        const res = await send(server.port, request);
        checkAnswer(request, res, { format: c.target.format, mustFail: false, origin: server.url });
        // Node's limit is on the whole header block: past it the answer is 431, never a dropped connection.
        if (c.bytes > 16_400 && res.status !== 431)
          throw new Error(`${c.bytes} bytes of ${c.where} got ${res.status}, not 431`);
      },
      runs(200),
    );
    await assertAlive(server.port);
  });

  it('compressed bodies: bombs, garbage and wrong encodings are refused within the limits', async (t) => {
    const bomb = zlib.gzipSync(Buffer.alloc(50 * 1024 * 1024, 0x20)); // 50 MiB of spaces in ~50 KiB
    const jsonBomb = zlib.gzipSync(Buffer.from(`{"name":"${'x'.repeat(10 * 1024 * 1024)}"}`));
    const arb = fc.record({
      target: fc.constantFrom(...TARGETS.filter((x) => x.method === 'POST')),
      encoding: fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'compress', 'gzip, gzip', 'x-bogus', 'GZIP', ''),
      payload: fc.constantFrom('bomb', 'json-bomb', 'garbage', 'small', 'truncated'),
      junk: fc.uint8Array({ maxLength: 200 }),
    });
    await fuzz(
      t,
      FILE,
      'transport: content encodings',
      arb,
      async (c) => {
        const small = zlib.gzipSync(Buffer.from(c.target.type === 'application/json' ? '{"name":"x"}' : 'a=b'));
        const payloads: Record<string, Buffer> = {
          bomb,
          'json-bomb': jsonBomb,
          garbage: Buffer.from(c.junk),
          small,
          truncated: small.subarray(0, small.length - 8),
        };
        const headers: Record<string, string> = { 'content-type': c.target.type, authorization: `Bearer ${apiKey}` };
        if (c.encoding) headers['content-encoding'] = c.encoding;
        const request: Request = { method: 'POST', path: c.target.path, headers, body: payloads[c.payload]! };
        const res = await send(server.port, request);
        checkAnswer(request, res, { format: c.target.format, mustFail: c.payload !== 'small', origin: server.url });
      },
      runs(150),
    );
    await assertAlive(server.port);
  });
});
