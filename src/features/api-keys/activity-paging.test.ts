import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { expectApiError } from '../../../test/support/api.ts';
import { startTestServer, type TestServer } from '../../../test/support/server.ts';
import { credentialServerEnv, request, worldOn, type TestUser, type World } from '../../../test/support/world.ts';
import { createApiKeysRepo } from './api-keys.repo.ts';

// A key's activity, paged by cursor (never OFFSET) and filtered by status, path prefix and time:
// a few thousand entries walked to the end and back, each seen once; the dashboard's key page
// pages and filters the same way.

const SIZE = Number(process.env['SOAK'] ? 20_000 : 3_000);
const STATUSES = [200, 201, 204, 400, 403, 404, 429, 500, 503];
const PATHS = ['/v2/users', '/v2/users/u_1', '/v2/projects', '/v2/api-keys', '/v2/users%_x'];
const T0 = Date.parse('2026-03-01T00:00:00Z');
const MINUTE = 60_000;

interface Entry {
  at: string;
  path: string;
  status: number;
  request_id: string;
}
interface Page {
  data: Entry[];
  older_cursor: string | null;
  newer_cursor: string | null;
}

describe('API-key activity: cursor pages and filters', () => {
  let server: TestServer;
  let make: World;
  let owner: TestUser;
  let keyId: string;
  /** Every entry written: (at, id) ties every few entries, so the keyset's second column is exercised. */
  const written: Array<{ id: string; at: number; path: string; status: number }> = [];

  before(async () => {
    server = await startTestServer({ env: credentialServerEnv });
    make = worldOn(server);
    owner = await make.user();
    keyId = (await make.apiKey(owner, ['read:users'])).id;
    for (let i = 0; i < SIZE; i++) {
      written.push({
        id: `act${String(i).padStart(6, '0')}`,
        at: T0 + Math.floor(i / 3) * MINUTE,
        path: PATHS[i % PATHS.length]!,
        status: STATUSES[i % STATUSES.length]!,
      });
    }
    await createApiKeysRepo(server.db).recordUsage(
      written.map((e) => ({
        ...e,
        key_id: keyId,
        ip: '203.0.113.9',
        method: 'GET',
        request_id: `req_${e.id}`,
        client_version: null,
      })),
    );
  });
  after(() => server.dispose());

  const get = async (query: Record<string, string>): Promise<Page> => {
    const res = await request(owner.browser, 'GET', `/v2/api-keys/${keyId}/activity?${new URLSearchParams(query)}`);
    const text = await res.text();
    assert.equal(res.status, 200, text);
    return JSON.parse(text) as Page;
  };

  /** Walks older to the end, then newer back to the start; answers the ids seen each way. */
  async function walk(filter: Record<string, string>, limit = 500) {
    const down: string[] = [];
    let page = await get({ ...filter, limit: String(limit) });
    assert.equal(page.newer_cursor, null, 'the first page has nothing newer');
    const pages = [page];
    for (;;) {
      down.push(...page.data.map((e) => e.request_id));
      if (!page.older_cursor) break;
      page = await get({ ...filter, limit: String(limit), older_than: page.older_cursor });
      pages.push(page);
    }
    const up: string[] = [];
    for (;;) {
      up.unshift(...page.data.map((e) => e.request_id));
      if (!page.newer_cursor) break;
      page = await get({ ...filter, limit: String(limit), newer_than: page.newer_cursor });
    }
    return { down, up, pages };
  }

  const expected = (keep: (e: (typeof written)[number]) => boolean) =>
    written
      .filter(keep)
      .sort((a, b) => b.at - a.at || (a.id < b.id ? 1 : -1))
      .map((e) => `req_${e.id}`);

  it('walks every entry once, newest first, and back again', async () => {
    const { down, up, pages } = await walk({});
    assert.equal(down.length, SIZE);
    assert.equal(new Set(down).size, SIZE, 'each entry seen once');
    assert.deepEqual(
      down,
      expected(() => true),
    );
    assert.deepEqual(up, down, 'walking back newer gives the same entries');
    assert.equal(pages.length, Math.ceil(SIZE / 500));
  });

  it('filters by status class, exact status, path prefix and time range, and pages through the result', async () => {
    const errors = await walk({ status: '4xx' }, 250);
    assert.deepEqual(
      errors.down,
      expected((e) => e.status >= 400 && e.status < 500),
    );
    assert.deepEqual(errors.up, errors.down);
    assert.deepEqual(
      (await walk({ status: '404' }, 300)).down,
      expected((e) => e.status === 404),
    );
    // A prefix is text: `%` and `_` in it match only themselves.
    assert.deepEqual(
      (await walk({ path: '/v2/users%' }, 100)).down,
      expected((e) => e.path.startsWith('/v2/users%')),
    );
    const users = await walk({ path: '/v2/users', status: '5xx' }, 200);
    assert.deepEqual(
      users.down,
      expected((e) => e.path.startsWith('/v2/users') && e.status >= 500),
    );
    const from = T0 + 100 * MINUTE;
    const to = T0 + 400 * MINUTE;
    const range = { from: new Date(from).toISOString(), to: new Date(to).toISOString() };
    assert.deepEqual(
      (await walk(range, 128)).down,
      expected((e) => e.at >= from && e.at < to),
    );
  });

  it('keeps the first version: `before` and `limit` alone still answer the newest entries before a time', async () => {
    const before = T0 + 50 * MINUTE;
    const page = await get({ limit: '10', before: new Date(before).toISOString() });
    assert.deepEqual(
      page.data.map((e) => e.request_id),
      expected((e) => e.at < before).slice(0, 10),
    );
  });

  it('refuses a malformed cursor or filter with 400 naming the field', async () => {
    const bad = (q: string) => request(owner.browser, 'GET', `/v2/api-keys/${keyId}/activity?${q}`);
    await expectApiError(await bad('older_than=nonsense'), 400, 'VALIDATION_FAILED', { field: 'older_than' });
    await expectApiError(await bad('status=4x'), 400, 'VALIDATION_FAILED', { field: 'status' });
    await expectApiError(await bad('path=users'), 400, 'VALIDATION_FAILED', { field: 'path' });
    await expectApiError(await bad('older_than=1.a&newer_than=1.a'), 400, 'VALIDATION_FAILED', {
      field: 'newer_than',
    });
  });

  it("another account cannot page a key's activity", async () => {
    const other = await make.user();
    const res = await request(other.browser, 'GET', `/v2/api-keys/${keyId}/activity?status=2xx`);
    await expectApiError(res, 403, 'FORBIDDEN');
  });

  it("the key page filters and pages with older/newer links, never showing another filter's rows", async () => {
    const html = async (path: string) => {
      const res = await owner.browser.get(path);
      assert.equal(res.status, 200);
      return res.text();
    };
    const first = await html(`/settings/api-keys/${keyId}?status=404&path=%2Fv2%2Fusers`);
    const rows = (h: string) => [...h.matchAll(/title="(req_act\d+)"/g)].map((m) => m[1]);
    const want = expected((e) => e.status === 404 && e.path.startsWith('/v2/users'));
    assert.deepEqual(rows(first), want.slice(0, 50));
    assert.match(first, /value="404"/);
    const older = /href="([^"]*older=[^"]*)"/.exec(first)![1]!.replace(/&amp;/g, '&');
    assert.match(older, /status=404/);
    const second = await html(older);
    assert.deepEqual(rows(second), want.slice(50, 100));
    const newer = /href="([^"]*newer=[^"]*)"/.exec(second)![1]!.replace(/&amp;/g, '&');
    assert.deepEqual(rows(await html(newer)), want.slice(0, 50));
    // A filter that does not parse is dropped, not an error page.
    assert.deepEqual(rows(await html(`/settings/api-keys/${keyId}?status=abc`)), expected(() => true).slice(0, 50));
  });
});
