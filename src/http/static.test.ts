import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runNode } from '../../test/support/process.ts';

// Swagger UI's bundle (1.7 MB) and stylesheet are served to /docs only: a server must not hold
// them in memory from start. Measured in a process of its own, where a full GC can be asked for.
describe('static files', () => {
  it('holds only the small files in memory once the middleware is built', async () => {
    const script = `
      import { HELD_BYTES, serveStatic, SWAGGER_UI_ASSETS } from './src/http/static.ts';
      gc();
      const before = process.memoryUsage().arrayBuffers;
      const middleware = serveStatic('/static');
      // ArrayBuffers are freed by a sweep after the GC: give it a moment, then collect again.
      for (let i = 0; i < 3; i++) {
        gc();
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const held = process.memoryUsage().arrayBuffers - before;
      console.log(JSON.stringify({ held, limit: HELD_BYTES, built: typeof middleware }));
    `;
    const run = await runNode(['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', script]);
    assert.equal(run.code, 0, run.stderr);
    const { held, built } = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { held: number; built: string };
    assert.equal(built, 'function');
    // public/ and SimpleWebAuthn's browser build: about 100 KB in all, well under Swagger UI's 1.9 MB.
    assert.ok(held < 512 * 1024, `the static files hold ${held} bytes`);
  });
});
