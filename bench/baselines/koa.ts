/**
 * Baseline: a bare Koa app answering one small JSON document, in its own process. It is the
 * ceiling for any Koa endpoint on this machine in this run; /v2/auth/test is measured against it.
 * PORT from the environment; listens on 127.0.0.1 only.
 */
import http from 'node:http';
import Koa from 'koa';

const app = new Koa();
app.use(async (ctx) => {
  if (ctx.path === '/healthz') {
    ctx.body = { status: 'ok' };
    return;
  }
  // The same shape and size as /v2/auth/test's answer.
  ctx.body = {
    valid: true,
    method: 'api_key',
    subject: 'usr_0123456789abcdefghij',
    scopes: ['read:users'],
    expires_at: null,
  };
});

const server = http.createServer(app.callback());
server.keepAliveTimeout = 5_000;
server.listen(Number(process.env['PORT'] ?? 0), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
