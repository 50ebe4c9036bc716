/**
 * Loaded into every test process by scripts/run-tests.mjs. In a test file's own process (the
 * runner sets NODE_TEST_CONTEXT there) it arms one timer that fires shortly before the runner stops
 * the file for taking too long, and prints to stderr what the process is still waiting on: its
 * active handles and requests (sockets with their ends, timers, child processes). A file that
 * finishes in time never sees it: the timer does not keep the process alive.
 */
const limitMs = Number(process.env['LATCHKEY_TEST_FILE_TIMEOUT_MS'] ?? 0);
if (process.env['NODE_TEST_CONTEXT'] && limitMs > 0) {
  const file = process.argv[1] ?? '(unknown file)';
  const endpoint = (e) => (e ? `${e.host ?? e.ip4 ?? e.ip6 ?? ''}:${e.port}` : '');
  setTimeout(
    () => {
      const libuv = process.report.getReport().libuv ?? [];
      const waiting = libuv
        .filter((h) => h.is_active && h.type !== 'async' && h.type !== 'check' && h.type !== 'prepare')
        .map((h) => {
          const ends = h.localEndpoint || h.remoteEndpoint;
          return `  ${h.type}${ends ? ` ${endpoint(h.localEndpoint)} -> ${endpoint(h.remoteEndpoint)}` : ''}`;
        });
      process.stderr.write(
        `\nhang report: ${file} is still running after ${Math.round(process.uptime())} s\n` +
          `  resources: ${process.getActiveResourcesInfo().join(', ')}\n${waiting.join('\n')}\n`,
      );
    },
    Math.max(1000, limitMs - 30_000),
  ).unref();
}
