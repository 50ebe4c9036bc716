import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../../../test/support/server.ts';

// /docs over real HTTP: the page and every file it loads come from our own origin (no CDN, no
// other host named anywhere in the page), under the pages' nonce CSP; Swagger UI's files are
// cached for a year under names that carry its version.

describe('/docs', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => server.dispose());

  it('is a page of our own origin, under the pages CSP, naming no other host', async () => {
    const res = await fetch(`${server.url}/docs`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self' 'nonce-[^']+';/);
    assert.match(csp, /style-src 'self' 'nonce-[^']+';/);
    assert.match(csp, /default-src 'self'/);
    const html = await res.text();
    assert.doesNotMatch(html, /(https?:)?\/\/(?!www\.w3\.org\/2000\/svg)[a-z0-9.-]+\.[a-z]{2,}/i);
    const loaded = [...html.matchAll(/<(?:script|link)[^>]+(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    assert.ok(loaded.length >= 4, String(loaded));
    for (const url of loaded) assert.match(url, /^\/static\//, url);
    assert.match(html, /data-spec="\/v2\/openapi.json"/);
  });

  it("serves Swagger UI's files from /static, cached for a year, and the document it renders", async () => {
    const html = await (await fetch(`${server.url}/docs`)).text();
    const script = /src="(\/static\/swagger-ui-bundle-[\d.]+\.js)"/.exec(html)![1]!;
    const style = /href="(\/static\/swagger-ui-[\d.]+\.css)"/.exec(html)![1]!;
    for (const [url, type] of [
      [script, /^text\/javascript/],
      [style, /^text\/css/],
    ] as const) {
      const res = await fetch(`${server.url}${url}`);
      assert.equal(res.status, 200, url);
      assert.match(res.headers.get('content-type') ?? '', type);
      assert.equal(res.headers.get('cache-control'), 'public, max-age=31536000, immutable');
      assert.ok((await res.arrayBuffer()).byteLength > 100_000, url);
      const again = await fetch(`${server.url}${url}`, { headers: { 'if-none-match': res.headers.get('etag')! } });
      assert.equal(again.status, 304);
    }
    const init = await fetch(`${server.url}/static/docs.js`);
    assert.equal(init.status, 200);
    assert.match(await init.text(), /validatorUrl: null/);
    const spec = await fetch(`${server.url}/v2/openapi.json`);
    assert.equal(spec.status, 200);
    assert.ok(((await spec.json()) as { paths: Record<string, unknown> }).paths['/v2/auth/test']);
  });
});
