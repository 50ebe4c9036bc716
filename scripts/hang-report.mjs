/**
 * Loaded into every test process by scripts/run-tests.mjs. In a test file's own process (the
 * runner sets NODE_TEST_CONTEXT there) it arms one timer that fires shortly before the runner stops
 * the file for taking too long, and prints to stderr what the process is still waiting on: its
 * active handles and requests (sockets with their ends, timers, child processes). A file that
 * finishes in time never sees it: the timer does not keep the process alive.
 *
 * The runner stops such a file with SIGTERM, which would leave the servers and CLIs it spawned
 * running, orphaned, after the run: on SIGTERM this kills the file's descendants first (found
 * through /proc, where there is one), then exits as SIGTERM would.
 */
import fs from 'node:fs';

/** Every process below `pid`, children before grandchildren (Linux /proc; none elsewhere). */
function descendantsOf(pid) {
  let entries;
  try {
    entries = fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return [];
  }
  const parentOf = new Map();
  for (const e of entries) {
    try {
      // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces, so read after the ')'.
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      parentOf.set(Number(e), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {}
  }
  const found = [];
  for (let i = -1; i < found.length; i++) {
    const parent = i < 0 ? pid : found[i];
    for (const [child, ppid] of parentOf) if (ppid === parent) found.push(child);
  }
  return found;
}

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
if (process.env['NODE_TEST_CONTEXT']) {
  process.once('SIGTERM', () => {
    for (const pid of descendantsOf(process.pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
    process.exit(143);
  });
}
