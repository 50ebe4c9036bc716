/**
 * A loopback address whose connections never complete: a listening socket (backlog 1) in a child
 * process that never accepts, its accept queue filled up front. The kernel then drops every new
 * SYN, so a connect there hangs (retrying) exactly as it does to a firewalled host on the internet.
 * Loopback only, no firewall rule, nothing left behind: `close()` kills the child.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';

// Listens, prints its port, then blocks its only thread (no CPU spent) so nothing is ever accepted.
const LISTENER = `
const net = require('node:net');
const server = net.createServer();
server.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
  process.stdout.write(server.address().port + '\\n');
  setTimeout(() => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0), 20);
});
`;

const connects = (port: number, withinMs: number, keep: net.Socket[]) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(false);
    }, withinMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      keep.push(socket);
      resolve(true);
    });
    socket.once('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });

export interface Blackhole {
  port: number;
  url(path?: string): string;
  close(): Promise<void>;
}

export async function startBlackhole(): Promise<Blackhole> {
  const child: ChildProcess = spawn(process.execPath, ['-e', LISTENER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(Number(out.trim()));
    });
    child.once('exit', (code) => reject(new Error(`blackhole listener exited (${code})`)));
  });
  await new Promise((resolve) => setTimeout(resolve, 50)); // its thread is blocked from here on
  // Fill the accept queue: once a connect no longer completes, none will.
  const held: net.Socket[] = [];
  for (let i = 0; i < 16 && (await connects(port, 300, held)); i++) {
    /* the queue is not full yet */
  }
  if (await connects(port, 300, held)) throw new Error('the blackhole still accepts connections');
  return {
    port,
    url: (path = '/hook') => `http://127.0.0.1:${port}${path}`,
    async close() {
      for (const s of held) s.destroy();
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}
