import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from './config.ts';
import { createLogger } from './logger.ts';
import { startServer } from './server.ts';

// startServer on a port another process holds: it rejects, and what it started before listening
// (the workers, the credential relay, the database) is stopped, so a caller can try another port.

/** The files under `dir` this process holds open (Linux: its /proc/self/fd links). */
function openFilesUnder(dir: string): string[] {
  return fs
    .readdirSync('/proc/self/fd')
    .map((fd) => {
      try {
        return fs.readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        return '';
      }
    })
    .filter((file) => file.startsWith(dir));
}

describe('startServer on a taken port', () => {
  it('rejects with EADDRINUSE and leaves nothing running', async () => {
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, resolve));
    const port = (holder.address() as net.AddressInfo).port;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-taken-port-'));
    try {
      const config = loadConfig({ PORT: String(port), DATABASE_URL: `sqlite:${path.join(dir, 'l.sqlite')}` });

      await assert.rejects(startServer(config, createLogger('silent')), { code: 'EADDRINUSE' });

      // The database it opened (and migrated) is closed again; a server on a free port starts on it.
      assert.deepEqual(openFilesUnder(dir), []);
      const running = await startServer({ ...config, PORT: 0 }, createLogger('silent'));
      const res = await fetch(`${running.url}/healthz`);
      assert.equal(res.status, 200);
      await running.close();
    } finally {
      holder.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
