import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startWorld, type TestWorld } from '../../../test/support/world.ts';

// A bearer request without Origin or Cookie has its answer's head written in one step
// (src/http/answer-head.ts); one with a Cookie has it set field by field, as before. Both must
// carry the same fields, named alike, in the same order, with the same body.

interface RawAnswer {
  status: number;
  /** Name and value in the order they came, names as written. */
  fields: [string, string][];
  body: string;
}

function raw(url: string, method: string, headers: Record<string, string>, body?: string): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('end', () => {
        const fields: [string, string][] = [];
        for (let i = 0; i < res.rawHeaders.length; i += 2) fields.push([res.rawHeaders[i]!, res.rawHeaders[i + 1]!]);
        resolve({ status: res.statusCode!, fields, body: text });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The fields with the values that move between two requests (the clock, the counts) blanked. */
const shape = (a: RawAnswer) =>
  a.fields.map(([name, value]) =>
    /^(date|x-ratelimit-remaining|x-ratelimit-reset|ratelimit)$/i.test(name) ? [name, '*'] : [name, value],
  );

describe('/v2 answers written in one step', () => {
  let world: TestWorld;
  let key: string;
  let adminKey: string;
  let readerId: string;

  before(async () => {
    world = await startWorld();
    const reader = await world.user({ tag: 'reader' });
    readerId = reader.id;
    key = (await world.apiKey(reader, ['read:users'])).key;
    adminKey = (await world.apiKey(await world.user({ admin: true, tag: 'admin' }), ['admin:all'])).key;
  });
  after(() => world.close());

  /** The same request without and with an (unrelated) Cookie header: answered in one step, then not. */
  async function both(method: string, path: string, token: string, body?: string) {
    const headers: Record<string, string> = { Authorization: `Bearer ${token}`, 'X-Request-ID': 'same-id' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const url = `${world.url}${path}`;
    const oneStep = await raw(url, method, headers, body);
    const fieldByField = await raw(url, method, { ...headers, Cookie: 'unrelated=1' }, body);
    return { oneStep, fieldByField };
  }

  const cases: [string, string, () => string, () => string, string?][] = [
    ['a success', 'GET', () => '/v2/auth/test', () => key],
    ['a success on a route with parameters', 'GET', () => `/v2/users/${readerId}`, () => adminKey],
    ['a refusal for want of a scope', 'GET', () => '/v2/projects', () => key],
    ['an unknown credential', 'GET', () => '/v2/auth/test', () => 'lk_not_a_key'],
    ['an unknown path', 'GET', () => '/v2/nowhere', () => key],
    ['a secret answer (Cache-Control set by its route)', 'POST', () => '/v2/api-keys', () => adminKey, '{"name":"k"}'],
  ];
  for (const [what, method, path, token, body] of cases) {
    it(`${what}: the same status, fields in the same order and body`, async () => {
      const { oneStep, fieldByField } = await both(method, path(), token(), body);
      assert.equal(oneStep.status, fieldByField.status);
      if (what.startsWith('a success')) assert.equal(oneStep.status, 200);
      assert.deepEqual(shape(oneStep), shape(fieldByField));
      if (method === 'GET') assert.equal(oneStep.body, fieldByField.body);
      assert.ok(oneStep.fields.some(([name, value]) => name === 'X-Request-ID' && value === 'same-id'));
    });
  }

  it('the head of a success, as Koa wrote it', async () => {
    const { oneStep } = await both('GET', '/v2/auth/test', key);
    assert.equal(oneStep.status, 200);
    assert.deepEqual(
      oneStep.fields.map(([name]) => name),
      [
        'X-Request-ID',
        'X-Content-Type-Options',
        'X-Frame-Options',
        'Referrer-Policy',
        'Cross-Origin-Opener-Policy',
        'Permissions-Policy',
        'Content-Security-Policy',
        'Vary',
        'X-API-Version',
        'X-RateLimit-Limit',
        'X-RateLimit-Remaining',
        'X-RateLimit-Reset',
        'RateLimit-Policy',
        'RateLimit',
        'Content-Type',
        'Content-Length',
        'Date',
        'Connection',
        'Keep-Alive',
      ],
    );
    const field = (name: string) => oneStep.fields.find(([n]) => n === name)?.[1];
    assert.equal(field('Content-Type'), 'application/json; charset=utf-8');
    assert.equal(field('Content-Length'), String(Buffer.byteLength(oneStep.body)));
  });
});
