// A preload (`--import`) that records which modules a process loaded, for
// test/lazy-modules.test.ts. ES modules are seen by a loader hook (running on the hooks thread,
// it posts each URL here); CommonJS ones are read from require's cache, which also holds those
// loaded with require() from CommonJS code, which the ES loader never sees. On SIGUSR2 the process
// writes both, as one JSON array of paths and URLs, to LOADED_MODULES_FILE.
import fs from 'node:fs';
import { createRequire, register } from 'node:module';
import { MessageChannel } from 'node:worker_threads';

const out = process.env.LOADED_MODULES_FILE;
if (!out) throw new Error('module-recorder: LOADED_MODULES_FILE is not set');

const seen = new Set();
const { port1, port2 } = new MessageChannel();
port1.on('message', (url) => seen.add(url));
port1.unref();
register('./module-recorder-hooks.mjs', { parentURL: import.meta.url, data: { port: port2 }, transferList: [port2] });

const { cache } = createRequire(import.meta.url);
process.on('SIGUSR2', () => {
  fs.writeFileSync(out, JSON.stringify([...seen, ...Object.keys(cache)]));
});
