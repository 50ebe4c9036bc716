/**
 * Control for the backends group: a bare Koa app that writes one row to PostgreSQL per request
 * (a token-shaped insert, as client_credentials makes, without Latchkey's grouping of a turn's
 * rows), in one process or in WORKERS node:cluster workers behind one port. What two of these cost
 * per request against one is what a second process costs on this machine when it waits on the
 * database, whatever the server does; Latchkey's two instances are read against it.
 *
 * PORT and DATABASE_URL (a database holding `control_tokens`, which bench/run.ts creates) from the
 * environment; listens on 127.0.0.1 only. The pool matches Latchkey's: 10 connections, a prepared
 * statement, and commits that skip the flush wait (Latchkey's access tokens do).
 */
import cluster from 'node:cluster';
import crypto from 'node:crypto';
import http from 'node:http';
import Koa from 'koa';
import pg from 'pg';

const workers = Number(process.env['WORKERS'] ?? 1);

function serve(): void {
  const pool = new pg.Pool({
    connectionString: process.env['DATABASE_URL'],
    max: 10,
    options: '-c synchronous_commit=off',
  });
  const app = new Koa();
  app.use(async (ctx) => {
    if (ctx.path === '/healthz') {
      ctx.body = { status: 'ok' };
      return;
    }
    const id = crypto.randomBytes(32).toString('base64url');
    const expiresAt = Date.now() + 3_600_000;
    const payload = JSON.stringify({
      jti: id,
      kind: 'ClientCredentials',
      clientId: 'control',
      scope: 'read:users',
      exp: expiresAt,
    });
    await pool.query({
      name: 'insert-token',
      text: 'insert into control_tokens (id, payload, expires_at) values ($1, $2, $3)',
      values: [id, payload, expiresAt],
    });
    ctx.body = { access_token: id, token_type: 'Bearer', expires_in: 3600, scope: 'read:users' };
  });
  const server = http.createServer(app.callback());
  server.keepAliveTimeout = 5_000;
  server.listen(Number(process.env['PORT'] ?? 0), '127.0.0.1');
  process.on('SIGTERM', () => server.close(() => void pool.end().then(() => process.exit(0))));
}

if (workers > 1 && cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  let running = workers;
  cluster.on('exit', () => {
    running -= 1;
    if (running === 0) process.exit(0);
  });
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.kill('SIGTERM');
  });
} else serve();
