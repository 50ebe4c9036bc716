import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createDeliver, EXCERPT_BYTES, excerptText } from './deliver.ts';

// The excerpt a delivery keeps of a response: the first KiB, as bytes held in memory, whatever the
// receiver sends; the rest is read and dropped (at most 64 KiB), never buffered.

describe('deliver: the response excerpt', () => {
  let server: http.Server;
  let url: string;
  const answers = new Map<string, Buffer>();
  before(async () => {
    server = http.createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(answers.get(req.url ?? '') ?? Buffer.alloc(0));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));
  const deliver = createDeliver({ allowPrivate: true, timeoutMs: 10_000, connectTimeoutMs: 3_000 });

  it('holds exactly the first EXCERPT_BYTES of a 1 MB answer', async () => {
    answers.set('/big', Buffer.concat([Buffer.alloc(EXCERPT_BYTES, 'a'), Buffer.alloc(1024 * 1024, 'b')]));
    const out = await deliver(`${url}/big`, '{}', {});
    assert.equal(out.ok, true);
    assert.equal(out.responseExcerpt!.length, EXCERPT_BYTES);
    assert.ok(out.responseExcerpt!.equals(Buffer.alloc(EXCERPT_BYTES, 'a')));
  });

  it('keeps a short answer whole, and none when there is no body', async () => {
    answers.set('/short', Buffer.from('ok'));
    assert.equal((await deliver(`${url}/short`, '{}', {})).responseExcerpt!.toString(), 'ok');
    assert.equal((await deliver(`${url}/empty`, '{}', {})).responseExcerpt, null);
  });

  it('shows text: control characters removed (newline and tab kept), bad UTF-8 replaced', () => {
    assert.equal(excerptText(Buffer.from('a\u0000b\r\n\tc\u001b[2Jd\u007f\u0085')), 'ab\n\tc[2Jd');
    assert.equal(excerptText(Buffer.from([0x68, 0x69, 0xff])), 'hi\ufffd');
  });
});
