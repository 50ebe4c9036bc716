/**
 * Shared parts of the property-based fuzz suite (test/fuzz/*.fuzz.test.ts): how many cases to run,
 * the seed, an HTTP client that sends what fetch refuses to send, raw sockets for what no client
 * sends, generators of bad input, and the checks every answer must pass.
 *
 * Case counts: each property declares its CI count (≥ 10,000 in all on SQLite); `SOAK=1` multiplies
 * it by 10 (`npm run test:soak`), `FUZZ_SCALE=<x>` by x. The seed is fixed (FUZZ_SEED, default below) so a CI run is
 * reproducible; SOAK without FUZZ_SEED picks a new one per run, printed with every failure.
 */
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import type { TestContext } from 'node:test';
import fc from 'fast-check';
import { testBackend } from '../support/database.ts';

export const SOAK = process.env['SOAK'] === '1';
const SCALE = Number(process.env['FUZZ_SCALE'] ?? '1') || 1;
const DEFAULT_SEED = 20_250_610;
export const BASE_SEED: number =
  process.env['FUZZ_SEED'] !== undefined && process.env['FUZZ_SEED'] !== ''
    ? Number(process.env['FUZZ_SEED']) | 0
    : SOAK
      ? (Date.now() % 0x7fff_ffff) | 0
      : DEFAULT_SEED;

/**
 * How many cases a property runs: its CI figure, ×10 in soak mode. `npm test` runs the suite twice
 * (SQLite, then PostgreSQL): the PostgreSQL pass, there for what only that backend refuses (NUL in
 * text, say), runs half the cases outside soak mode.
 */
export function runs(ci: number): number {
  const backend = testBackend === 'postgres' && !SOAK ? 0.5 : 1;
  return Math.max(1, Math.round(ci * SCALE * backend * (SOAK ? 10 : 1)));
}

function hashName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h | 0;
}

/** Cases run by this process, for the summary line each file prints. */
export const tally = { cases: 0, properties: 0, ms: 0 };
/** Statuses seen by the property running now (printed with its line, to show what was reached). */
const statuses = new Map<number, number>();
/** Counts an answer's status (0: none) for the property's summary line. */
export const countStatus = (status: number) => statuses.set(status, (statuses.get(status) ?? 0) + 1);

/**
 * Runs one property with its own seed (BASE_SEED + a hash of its name), counts its cases, and on
 * failure says how to run exactly this again.
 */
export async function fuzz<T>(
  t: TestContext,
  file: string,
  name: string,
  arb: fc.Arbitrary<T>,
  predicate: (value: T) => Promise<void>,
  numRuns: number,
): Promise<void> {
  const seed = (BASE_SEED + hashName(name)) | 0;
  const started = performance.now();
  statuses.clear();
  try {
    await fc.assert(fc.asyncProperty(arb, predicate), { numRuns, seed });
  } catch (err) {
    const cause = (err as { cause?: unknown }).cause;
    const message = `${(err as Error).message}${cause instanceof Error ? `\nCause: ${cause.message}` : ''}`;
    const short =
      message.length > 6000 ? `${message.slice(0, 6000)}\n... (${message.length - 6000} more characters)` : message;
    throw new Error(
      `fuzz property "${name}" failed with FUZZ_SEED=${BASE_SEED} (property seed ${seed}).\n` +
        `Reproduce: FUZZ_SEED=${BASE_SEED}${SOAK ? ' SOAK=1' : ''} node --conditions=development --import tsx ` +
        `--test --test-name-pattern=${JSON.stringify(name)} ${file}\n${short}`,
    );
  }
  const ms = Math.round(performance.now() - started);
  tally.cases += numRuns;
  tally.properties += 1;
  tally.ms += ms;
  const seen = [...statuses]
    .sort(([a], [b]) => a - b)
    .map(([s, n]) => `${s}×${n}`)
    .join(' ');
  t.diagnostic(`${name}: ${numRuns} cases in ${ms} ms (seed ${seed}); answers ${seen}`);
}

export function summary(label: string): string {
  const seconds = (tally.ms / 1000).toFixed(1);
  const seed = `FUZZ_SEED=${BASE_SEED}${SOAK ? ', soak' : ''}`;
  return `[fuzz] ${label}: ${tally.cases} cases in ${tally.properties} properties, ${seconds} s (${seed})`;
}

// ---------------------------------------------------------------------------------------------
// Sending requests

export interface Request {
  method: string;
  path: string;
  headers?: Record<string, string | string[]>;
  body?: string | Buffer;
}

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

// Idle sockets are dropped before the server's keep-alive timeout (5 s), so a reused one is never
// one the server is closing at that moment (a reset that would not be the server's fault).
const agent = new http.Agent({ keepAlive: true, maxSockets: 8, timeout: 3_000 });

/**
 * One request with node:http, which sends methods, header bytes (latin1) and paths that fetch
 * refuses. A reset, a hang-up or no answer within `timeoutMs` rejects: the property then fails.
 */
export function send(port: number, req: Request, timeoutMs = 20_000): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const body =
      req.body === undefined ? undefined : Buffer.isBuffer(req.body) ? req.body : Buffer.from(req.body, 'utf8');
    const headers: Record<string, string | string[]> = { ...req.headers };
    if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-length')) {
      headers['content-length'] = String(body.length);
    }
    const r = http.request({ host: '127.0.0.1', port, method: req.method, path: req.path, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', (e) => {
        clearTimeout(timer);
        reject(new Error(`${req.method} ${req.path.slice(0, 200)}: response failed: ${e.message}`));
      });
    });
    const timer = setTimeout(() => r.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    r.on('error', (e) => {
      clearTimeout(timer);
      reject(
        new Error(`${req.method} ${req.path.slice(0, 200)}: ${(e as NodeJS.ErrnoException).code ?? ''} ${e.message}`),
      );
    });
    r.end(body);
  });
}

export interface RawAnswer {
  /** Everything the server wrote before closing (or before we gave up waiting). */
  text: string;
  /** The status of the first answer, or null when nothing came back. */
  status: number | null;
  /** A socket error (ECONNRESET ...), null when the connection ended cleanly. */
  error: string | null;
}

/**
 * Writes bytes on a fresh TCP connection and reads until the server closes or `waitMs` passes, for
 * requests no HTTP client would send (CR/LF in a header value, broken framing, truncated bodies).
 */
export function rawExchange(
  port: number,
  data: Buffer | string,
  opts: { waitMs?: number; endAfterWrite?: boolean } = {},
): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let error: string | null = null;
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ text, status: m ? Number(m[1]) : null, error });
    };
    const timer = setTimeout(finish, opts.waitMs ?? 2_000);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (e: NodeJS.ErrnoException) => {
      error = e.code ?? e.message;
      finish();
    });
    socket.on('close', finish);
    socket.on('connect', () => {
      socket.write(data);
      if (opts.endAfterWrite) socket.end();
    });
  });
}

/** The server answers a plain request: it is up and serving. */
export async function assertAlive(port: number): Promise<void> {
  const res = await send(port, { method: 'GET', path: '/healthz' }, 5_000);
  if (res.status !== 200) throw new Error(`server unhealthy after the case: /healthz answered ${res.status}`);
}

// ---------------------------------------------------------------------------------------------
// Encoding helpers

/** Percent-encodes the UTF-8 bytes of any JS string (lone surrogates included, as U+FFFD). */
export function pct(s: string): string {
  return [...Buffer.from(s, 'utf8')]
    .map((b) =>
      /[A-Za-z0-9\-._~]/.test(String.fromCharCode(b))
        ? String.fromCharCode(b)
        : `%${b.toString(16).toUpperCase().padStart(2, '0')}`,
    )
    .join('');
}

/** A form body from pairs, keys and values percent-encoded as browsers do. */
export function formEncode(pairs: [string, string][]): string {
  return pairs.map(([k, v]) => `${pct(k)}=${pct(v)}`).join('&');
}

/**
 * A header value as the bytes a client would put on the wire for it (UTF-8, read back as latin1 by
 * node:http), minus the bytes node:http refuses in a value (CR, LF, NUL and other controls, which
 * the raw-socket tests send instead).
 */
export function headerSafe(s: string): string {
  return Buffer.from(s, 'utf8')
    .toString('latin1')
    .replace(/[^\t\x20-\x7e\x80-\xff]/g, '');
}

// ---------------------------------------------------------------------------------------------
// Generators

/** Characters that have broken parsers, templates, logs and terminals somewhere. */
export const WEIRD_CHARS = [
  '\u0000',
  '\u0001',
  '\u001b',
  '\u007f',
  '\u202e',
  '\u202d',
  '\u200f',
  '\u200e',
  '\u200b',
  '\u200d',
  '\ufeff',
  '\ud800',
  '\udfff',
  '\udbff\udfff',
  '\ud83d\ude00',
  '😀',
  '👨‍👩‍👧‍👦',
  '🏳️‍🌈',
  'é',
  'e\u0301',
  '\u0338',
  'ﷺ',
  'ß',
  'İ',
  'ǅ',
  '\uffff',
  '\ufffd',
  '\u2028',
  '\u2029',
  '\u0085',
  '\r',
  '\n',
  '\r\n',
  '\t',
  '\v',
  '\f',
  '%00',
  '%',
  '%zz',
  '%0d%0a',
  '%2e%2e',
  '%2f',
  '%5c',
  '\\',
  '"',
  "'",
  '`',
  '<',
  '>',
  '&',
  '&amp;',
  '=',
  ';',
  ',',
  ' ',
  '+',
  '#',
  '?',
  '/',
  '${',
  '}',
  '<%=',
  '%>',
  '<%~',
  '{{',
  '}}',
  '__proto__',
  'constructor',
  'prototype',
  '../',
  '..\\',
  '*',
  '[]',
  '{}',
  '$where',
];

const SPECIAL_STRINGS = [
  '',
  ' ',
  '   ',
  'null',
  'undefined',
  'true',
  'false',
  '0',
  '-1',
  '1e999',
  '-0',
  'NaN',
  'Infinity',
  '0x10',
  '9007199254740993',
  '__proto__',
  'constructor',
  'hasOwnProperty',
  'toString',
  "' OR '1'='1' --",
  '"; DROP TABLE accounts; --',
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  '../../../../etc/passwd',
  '..%2f..%2fetc%2fpasswd',
  'javascript:alert(1)',
  'data:text/html,<b>x</b>',
  'http://evil.example/',
  '//evil.example',
  '/\\evil.example',
  '\\\\evil.example',
  'https://evil.example@127.0.0.1/',
  'file:///etc/passwd',
  'http://169.254.169.254/latest/meta-data/',
  'http://[::1]/',
  'http://0x7f000001/',
  '<%= it.constructor.constructor("return process")() %>',
  '{{7*7}}',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a template-injection probe, sent as text
  '${7*7}',
  '%s%s%s%n',
  'lk_',
  'lk_000000000000_',
  'usr_',
  'app_',
  'Bearer',
  'a@b',
  'admin@example.com',
  '😀@😀.😀',
  'x'.repeat(255),
  'A'.repeat(1025),
];

/** Strings people type, strings that break things, and strings no person types. */
export const oddString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 30 }) },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
  {
    weight: 3,
    arbitrary: fc.array(fc.constantFrom(...WEIRD_CHARS), { minLength: 1, maxLength: 12 }).map((a) => a.join('')),
  },
  { weight: 3, arbitrary: fc.constantFrom(...SPECIAL_STRINGS) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom('a', 'é', '😀', '\u0000', '\ud800', '<', '%'), fc.constantFrom(256, 1_000, 4_096, 20_000))
      .map(([ch, n]) => ch.repeat(n)),
  },
);

/** Any JSON value, including shapes the endpoints never expect. */
export const anyJson: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.dictionary(oddString, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<unknown>(null, true, 0, -0, 1e308, -1e308, 5e-324, '', [], {}, [[]], [{}], { '': '' }),
  },
);

/** A request body, described (small, readable in a counterexample) and built when sent. */
export type BodySpec =
  | { kind: 'json'; value: unknown }
  | { kind: 'text'; text: string }
  | { kind: 'bytes'; bytes: number[] }
  | { kind: 'deep'; open: string; close: string; depth: number; closed: boolean }
  | { kind: 'huge'; bytes: number; fill: 'json-string' | 'form' | 'binary' | 'array' };

/** Malformed, deeply nested, huge and binary bodies (none of them a valid request to anything). */
export const badBody: fc.Arbitrary<BodySpec> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .constantFrom(
        '',
        '{',
        '}',
        '[',
        '{"a":',
        '{"a" 1}',
        "{'a':1}",
        '{"a":1,}',
        '[1,]',
        '{"a":1}{"b":2}',
        '{"a":1} x',
        'nul',
        'tru',
        'NaN',
        'Infinity',
        '-',
        '1e',
        '"\\u12"',
        '"\\x41"',
        '"\\ud800"',
        '\ufeff{}',
        '/* c */{}',
        '{"__proto__":{"admin":true}}',
        '{"constructor":{"prototype":{"admin":true}}}',
        '{"a":"\u0000"}',
        '{"a":1e400}',
        '{"a":-1e400}',
        '{"a":123456789012345678901234567890}',
        '\u0000',
        '\r\n\r\n',
        'a=1&b=2',
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>',
        '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--x--',
      )
      .map((text): BodySpec => ({ kind: 'text', text })),
  },
  {
    weight: 3,
    arbitrary: fc.string({ unit: 'binary', maxLength: 200 }).map((text): BodySpec => ({ kind: 'text', text })),
  },
  {
    weight: 2,
    arbitrary: fc
      .array(fc.integer({ min: 0, max: 255 }), { maxLength: 200 })
      .map((bytes): BodySpec => ({ kind: 'bytes', bytes })),
  },
  {
    weight: 3,
    arbitrary: fc
      .record({
        nest: fc.constantFrom(['[', ']'], ['{"a":', '}'], ['{"name":', '}'], ['[{"x":', '}]']),
        depth: fc.constantFrom(100, 1_000, 10_000, 50_000),
        closed: fc.boolean(),
      })
      .map(({ nest, depth, closed }): BodySpec => ({ kind: 'deep', open: nest[0]!, close: nest[1]!, depth, closed })),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({
        bytes: fc.constantFrom(70_000, 1_048_576),
        fill: fc.constantFrom('json-string' as const, 'form' as const, 'binary' as const, 'array' as const),
      })
      .map((r): BodySpec => ({ kind: 'huge', ...r })),
  },
);

export function renderBody(spec: BodySpec): Buffer {
  switch (spec.kind) {
    case 'json':
      return Buffer.from(JSON.stringify(spec.value) ?? 'null', 'utf8');
    case 'text':
      return Buffer.from(spec.text, 'utf8');
    case 'bytes':
      return Buffer.from(spec.bytes);
    case 'deep': {
      const leaf = spec.open.endsWith(':') ? '1' : '';
      return Buffer.from(
        spec.open.repeat(spec.depth) + leaf + (spec.closed ? spec.close.repeat(spec.depth) : ''),
        'utf8',
      );
    }
    case 'huge':
      switch (spec.fill) {
        case 'json-string':
          return Buffer.from(`{"name":"${'x'.repeat(spec.bytes)}"}`);
        case 'form':
          return Buffer.from(`name=${'x'.repeat(spec.bytes)}`);
        case 'array':
          return Buffer.from(`[${'1,'.repeat(spec.bytes / 2)}1]`);
        default:
          return Buffer.alloc(spec.bytes, 0xa5);
      }
  }
}

const JSON_TYPES = /^application\/(?:json|[\w.-]+\+json|csp-report)$/;

/**
 * Whether a body sent to a route that takes a JSON object certainly fails: anything but an
 * object-shaped JSON body (the parser reads an empty or BOM-only body as {}); an object with a
 * key the schema does not have. An object of known keys may be valid (a PATCH), so: not certain.
 */
export function bodyCertainlyBad(body: Buffer | undefined, type: string | null, known: string[]): boolean {
  if (!body || body.length === 0) return false;
  const mime = (type ?? '').split(';')[0]!.trim().toLowerCase();
  if (!JSON_TYPES.test(mime)) return true;
  const charset = /charset=([^;]+)/i
    .exec(type ?? '')?.[1]
    ?.trim()
    .toLowerCase();
  if (charset && !['utf-8', 'utf8'].includes(charset)) return true;
  const text = body.toString('utf8').replace(/^\ufeff/, '');
  if (text === '') return false;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return true;
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return true;
  return Object.keys(parsed).some((k) => !known.includes(k)) || Object.keys(parsed).includes('__proto__');
}

/** Content types, right, wrong and malformed. */
export const contentType: fc.Arbitrary<string | null> = fc.constantFrom(
  null,
  'application/json',
  'application/json; charset=utf-8',
  'APPLICATION/JSON',
  'application/json; charset=utf-16',
  'application/json; charset=latin1',
  'application/json; charset=bogus-9',
  'application/x-www-form-urlencoded',
  'application/x-www-form-urlencoded; charset=utf-7',
  'text/plain',
  'text/html',
  'multipart/form-data; boundary=x',
  'multipart/form-data',
  'application/xml',
  'application/octet-stream',
  'application/vnd.api+json',
  'application/merge-patch+json',
  'application/jwt',
  '*/*',
  '',
  'json',
  'application/',
  '/',
  ';;;',
  'application/json, text/html',
  'text/plain; charset="',
  'application/json; boundary=',
  'application/x-www-form-urlencoded, application/json',
);

/** HTTP methods, including ones nothing here implements. */
export const method: fc.Arbitrary<string> = fc.constantFrom(
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'PATCH',
  'DELETE',
  'OPTIONS',
  'TRACE',
  'PROPFIND',
  'MKCOL',
  'LOCK',
  'COPY',
  'PURGE',
  'SEARCH',
  'REPORT',
);

/** A value of a JSON type, excluding the types given (for "wrong type for this field"). */
export function wrongTypeValue(allowed: Set<string>): fc.Arbitrary<unknown> {
  const options: fc.Arbitrary<unknown>[] = [];
  if (!allowed.has('string')) options.push(oddString);
  if (!allowed.has('number') && !allowed.has('integer'))
    options.push(fc.oneof(fc.integer(), fc.double({ noNaN: true }), fc.constantFrom(0, -1, 1e308, -0)));
  if (!allowed.has('boolean')) options.push(fc.boolean());
  if (!allowed.has('null')) options.push(fc.constant(null));
  if (!allowed.has('array')) options.push(fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 4 }));
  if (!allowed.has('object'))
    options.push(fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }));
  return fc.oneof(...options);
}

// ---------------------------------------------------------------------------------------------
// Checks

/** `page-or-json`: a browser-facing endpoint hit by something no browser sends (either answer is documented). */
export type Format = 'api' | 'oauth' | 'page' | 'page-or-json';

/** The documented error codes of the JSON APIs and their statuses. */
export const API_ERROR_STATUS: Record<string, number[]> = {
  UNAUTHORIZED: [401],
  FORBIDDEN: [403],
  NOT_FOUND: [404],
  METHOD_NOT_ALLOWED: [405],
  CONFLICT: [409],
  VALIDATION_FAILED: [400, 422],
  PAYLOAD_TOO_LARGE: [413],
  UNSUPPORTED_MEDIA_TYPE: [415],
  RATE_LIMITED: [429],
};

const INTERNALS: RegExp[] = [
  /\n\s+at [^\n]{0,200}?[(:]\S*\d+:\d+/, // a stack frame
  /node_modules/,
  /\b[\w./-]+\.(?:ts|js|mjs|cjs):\d+(?::\d+)?/, // file:line
  /\b(?:SQLITE_[A-Z_]+|SqliteError|better-sqlite3|Kysely|KyselyError|ZodError)\b/,
  /\b(?:TypeError|ReferenceError|RangeError|AssertionError)\b/,
  /\[object Object\]/,
];
const PATHS = [process.cwd(), `${os.tmpdir()}/latchkey-test-`].filter((p) => p.length > 4);

const htmlEscape = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/**
 * The body with every string the request carried removed (raw, HTML-escaped and JSON-escaped):
 * pages echo the email typed, errors name the unknown field; an echo is not a leak.
 */
function withoutEchoes(text: string, sent: string[]): string {
  let out = text;
  for (const s of sent) {
    if (s.length < 3) continue;
    for (const form of new Set([
      s,
      htmlEscape(s),
      JSON.stringify(s).slice(1, -1),
      htmlEscape(JSON.stringify(s).slice(1, -1)),
    ])) {
      if (form.length >= 3) out = out.split(form).join('');
    }
  }
  return out;
}

/** Every string inside a value (keys too), for the echo filter. */
export function stringsIn(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const v of value) stringsIn(v, out);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      out.push(k);
      stringsIn(v, out);
    }
  }
  return out;
}

export interface Expectation {
  format: Format;
  /** The input is certainly invalid: the answer must be a 4xx. */
  mustFail: boolean;
  /** Strings the request carried (echoes of them are not leaks). */
  sent?: string[];
  /** The server's origin: redirects must stay on it (or go to `redirectPrefixes`). */
  origin: string;
  redirectPrefixes?: string[];
}

function fail(what: string, req: Request, res: Answer): never {
  const head = `${req.method} ${req.path.length > 300 ? `${req.path.slice(0, 300)}...` : req.path}`;
  throw new Error(
    `${what}\n  request: ${head}\n  answer: ${res.status} ${res.headers['content-type'] ?? ''}\n` +
      `  body: ${res.text.slice(0, 500)}`,
  );
}

/** Node's HTTP parser answers bad framing and over-long headers itself, with an empty body. */
export function isParserAnswer(res: Answer): boolean {
  return (res.status === 400 || res.status === 431) && res.text === '' && res.headers['content-type'] === undefined;
}

/**
 * The property every answer must have: a status below 500, an error in the endpoint's format with
 * no internals, redirects that stay home, and no header a request could have injected.
 */
export function checkAnswer(req: Request, res: Answer, exp: Expectation): void {
  countStatus(res.status);
  if (res.status >= 500) fail(`server error ${res.status}`, req, res);
  if (res.status < 100) fail('no status', req, res);
  if (exp.mustFail && res.status < 400) fail(`accepted bad input with ${res.status}`, req, res);

  // Injected headers: nothing the request sent may come back as a header of its own.
  for (const name of Object.keys(res.headers)) {
    if (/^(x-injected|injected|set-cookie2)$/i.test(name)) fail(`header injection: ${name}`, req, res);
  }
  const requestId = res.headers['x-request-id'];
  if (requestId !== undefined && !/^[A-Za-z0-9._:-]{1,128}$/.test(String(requestId)))
    fail('malformed X-Request-ID echoed', req, res);

  // Documented: Node refuses over-long headers (431) and broken framing (400).
  if (res.status === 431 || isParserAnswer(res)) return;

  const type = String(res.headers['content-type'] ?? '');
  if (res.status >= 300 && res.status < 400) {
    const location = res.headers['location'];
    if (!location) fail('redirect without Location', req, res);
    const target = new URL(location, exp.origin);
    const home = target.origin === exp.origin;
    const allowed = home || (exp.redirectPrefixes ?? []).some((p) => target.href.startsWith(p));
    if (!allowed) fail(`redirect leaves the site: ${location}`, req, res);
  }

  if (res.status >= 400 && req.method !== 'HEAD') {
    const format =
      exp.format === 'page-or-json'
        ? type.startsWith('application/json')
          ? /^\{"error":\{/.test(res.text)
            ? 'api'
            : 'oauth'
          : 'page'
        : exp.format;
    if (format === 'api') {
      if (!type.startsWith('application/json')) fail('API error is not JSON', req, res);
      const body = parseJson(req, res) as { error?: { code?: unknown; message?: unknown } };
      const code = body?.error?.code;
      if (typeof code !== 'string' || typeof body.error?.message !== 'string')
        fail('API error is not {"error":{"code","message"}}', req, res);
      const statuses = API_ERROR_STATUS[code];
      if (!statuses) fail(`undocumented error code ${code}`, req, res);
      if (!statuses.includes(res.status)) fail(`code ${code} with status ${res.status}`, req, res);
      if (res.status === 401 && !String(res.headers['www-authenticate'] ?? '').startsWith('Bearer'))
        fail('401 without WWW-Authenticate: Bearer', req, res);
      if (res.status === 429 && res.headers['retry-after'] === undefined) fail('429 without Retry-After', req, res);
    } else if (format === 'oauth') {
      if (!type.startsWith('application/json')) fail('OAuth error is not JSON', req, res);
      const body = parseJson(req, res) as { error?: unknown; error_description?: unknown };
      if (typeof body?.error !== 'string' || !/^[\x20-\x21\x23-\x5b\x5d-\x7e]+$/.test(body.error)) {
        // A few answers before the provider (not found, method) come from our own error handler.
        const ours = body as unknown as { error?: { code?: unknown } };
        if (
          !(
            ours?.error &&
            typeof ours.error === 'object' &&
            typeof ours.error.code === 'string' &&
            [404, 405].includes(res.status)
          )
        ) {
          fail('OAuth error is not RFC 6749 {"error": "..."}', req, res);
        }
      }
      if (body.error_description !== undefined && typeof body.error_description !== 'string')
        fail('error_description is not a string', req, res);
    } else {
      if (!type.startsWith('text/html')) fail('page error is not HTML', req, res);
      if (!/<html[\s>]/i.test(res.text)) fail('page error is not an HTML page', req, res);
    }
  }

  const scrubbed = withoutEchoes(res.text, exp.sent ?? []);
  for (const re of INTERNALS) if (re.test(scrubbed)) fail(`internal detail in the body (${re})`, req, res);
  for (const p of PATHS) if (scrubbed.includes(p)) fail(`internal path in the body (${p})`, req, res);
}

function parseJson(req: Request, res: Answer): unknown {
  try {
    return JSON.parse(res.text);
  } catch {
    return fail('body is not JSON', req, res);
  }
}
