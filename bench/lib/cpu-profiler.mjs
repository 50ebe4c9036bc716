/**
 * Loaded into a server under test with `node --import ./bench/lib/cpu-profiler.mjs` (never by the
 * app itself). Plain JavaScript, so the compiled server runs without a TypeScript loader. Each
 * SIGUSR2 toggles V8's CPU profiler through node:inspector, the same sampler `node --cpu-prof` uses
 * (1 ms interval): the first starts it, the second writes `$BENCH_PROFILE_DIR/<pid>-<n>.cpuprofile`
 * (written to a temp name, then renamed). This profiles
 * exactly one measured window of a long-running server instead of its whole life.
 */
import fs from 'node:fs';
import inspector from 'node:inspector';
import path from 'node:path';

const dir = process.env['BENCH_PROFILE_DIR'];
if (dir) {
  // Connected on the first signal only: until then the process runs exactly as without this file.
  /** @type {inspector.Session | null} */
  let session = null;
  let running = false;
  let n = 0;
  process.on('SIGUSR2', () => {
    if (!session) {
      session = new inspector.Session();
      session.connect();
    }
    const s = session;
    if (!running) {
      running = true;
      s.post('Profiler.enable', () =>
        s.post('Profiler.setSamplingInterval', { interval: 1000 }, () => s.post('Profiler.start')),
      );
      return;
    }
    s.post('Profiler.stop', (err, result) => {
      running = false;
      if (err) return;
      const file = path.join(dir, `${process.pid}-${n++}.cpuprofile`);
      fs.writeFileSync(`${file}.tmp`, JSON.stringify(result.profile));
      fs.renameSync(`${file}.tmp`, file);
    });
  });
}
