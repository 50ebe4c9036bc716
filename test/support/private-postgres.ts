/**
 * A PostgreSQL cluster of the test's own (initdb into a temp folder, a free port, loopback only),
 * for tests that stop and restart PostgreSQL: never the shared cluster other tests use. Tests run
 * as root, and PostgreSQL refuses to: its commands then run as the `postgres` OS user.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './server.ts';

const run = promisify(execFile);

/** The newest installed server binaries (Debian's layout), or null when PostgreSQL is not installed. */
export function postgresBinaries(): string | null {
  const root = '/usr/lib/postgresql';
  if (!fs.existsSync(root)) return null;
  const versions = fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, 'bin', 'initdb')));
  versions.sort((x, y) => Number(y) - Number(x));
  return versions.length ? path.join(root, versions[0]!, 'bin') : null;
}

export interface PrivatePostgres {
  port: number;
  /** A connection string for `database` (trust authentication on loopback, user postgres). */
  url(database: string): string;
  createDatabase(name: string): Promise<void>;
  /** `pg_ctl restart -m fast`: every connection is terminated, the server is back when it returns. */
  restart(): Promise<void>;
  /** `pg_ctl stop -m fast`. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops the cluster (if running) and deletes its folder. */
  dispose(): Promise<void>;
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = postgresBinaries();
  if (!bin)
    throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql (install the postgresql package)');
  const asRoot = process.getuid?.() === 0;
  const pgCommand = (tool: string, args: string[]) =>
    asRoot ? run('runuser', ['-u', 'postgres', '--', path.join(bin, tool), ...args]) : run(path.join(bin, tool), args);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-pg-'));
  const data = path.join(dir, 'data');
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    fs.chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  await pgCommand('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  const port = await freePort();
  const options = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir} -c max_connections=100`;
  const logFile = path.join(dir, 'postgres.log');
  const start = () =>
    pgCommand('pg_ctl', ['-D', data, '-o', options, '-l', logFile, '-w', '-t', '60', 'start']).then(() => undefined);
  await start();
  let running = true;

  const url = (database: string) => `postgres://postgres@127.0.0.1:${port}/${database}`;
  return {
    port,
    url,
    async createDatabase(name) {
      const client = new pg.Client({ connectionString: url('postgres') });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
      } finally {
        await client.end();
      }
    },
    async restart() {
      await pgCommand('pg_ctl', ['-D', data, '-o', options, '-l', logFile, '-m', 'fast', '-w', '-t', '60', 'restart']);
    },
    async stop() {
      await pgCommand('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '60', 'stop']);
      running = false;
    },
    async start() {
      await start();
      running = true;
    },
    async dispose() {
      if (running) await pgCommand('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => {});
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
