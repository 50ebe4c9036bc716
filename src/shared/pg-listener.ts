import type pg from 'pg';
import type { Logger } from 'pino';

/** Reconnection back-off: from the first to the longest wait, doubling (plus jitter). */
const FIRST_RETRY_MS = 100;
const LONGEST_RETRY_MS = 5_000;

export interface PgListener {
  stop(): Promise<void>;
}

/**
 * One dedicated PostgreSQL connection that LISTENs on `channel` (a pool cannot: its connections
 * come and go). A lost connection (PostgreSQL restarting, a network cut) is replaced with back-off
 * until `stop()`; `onListening` runs each time the LISTEN holds again, so the caller can catch up
 * on what was sent while nobody listened.
 */
export function startPgListener(opts: {
  /** node-postgres (passed in: it is loaded only where PostgreSQL is used). */
  driver: typeof pg;
  url: string;
  channel: string;
  onNotification(): void;
  onListening(): void;
  logger: Logger;
}): PgListener {
  const { driver } = opts;
  let client: pg.Client | null = null;
  let stopped = false;
  let retryMs = FIRST_RETRY_MS;
  let timer: NodeJS.Timeout | undefined;
  let lostLogged = false;

  const scheduleReconnect = (err: unknown) => {
    if (stopped || timer) return;
    if (!lostLogged) {
      opts.logger.warn(
        { err: { message: (err as Error)?.message } },
        'credential notifications: connection lost; reconnecting',
      );
      lostLogged = true;
    }
    const wait = Math.round(retryMs * (0.5 + Math.random() / 2));
    retryMs = Math.min(retryMs * 2, LONGEST_RETRY_MS);
    timer = setTimeout(() => {
      timer = undefined;
      void connect();
    }, wait);
    timer.unref();
  };

  async function connect(): Promise<void> {
    const c = new driver.Client({ connectionString: opts.url, connectionTimeoutMillis: 5_000 });
    // A client emits 'error' whenever its connection dies (even long after we gave up on it): an
    // unheard 'error' event would end the process.
    c.on('error', (err) => {
      if (client === c) client = null;
      c.end().catch(() => {});
      scheduleReconnect(err);
    });
    c.on('end', () => {
      if (client === c) {
        client = null;
        scheduleReconnect(new Error('connection ended'));
      }
    });
    c.on('notification', (msg) => {
      if (msg.channel === opts.channel) opts.onNotification();
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${driver.escapeIdentifier(opts.channel)}`);
    } catch (err) {
      c.end().catch(() => {});
      scheduleReconnect(err);
      return;
    }
    if (stopped) {
      await c.end().catch(() => {});
      return;
    }
    client = c;
    retryMs = FIRST_RETRY_MS;
    if (lostLogged) opts.logger.info('credential notifications: listening again');
    lostLogged = false;
    opts.onListening();
  }

  void connect();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      const c = client;
      client = null;
      await c?.end().catch(() => {});
    },
  };
}
