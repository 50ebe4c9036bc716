/**
 * A counting TCP relay between Latchkey and PostgreSQL: it forwards every byte unchanged and reads
 * the frontend messages of the wire protocol (v3) that Latchkey sends, so the bench can say how many
 * round trips, statements, transactions and pool checkouts a request costs, without any hook in the
 * server and without pg_stat_statements.
 *
 * - a round trip is a message the client then waits on: a Sync (extended protocol: Parse/Bind/
 *   Execute…Sync, what node-postgres sends for a query with parameters) or a simple Query;
 * - a statement is an Execute or a simple Query; a Parse is a statement PostgreSQL had to parse and
 *   plan (a named prepared statement is parsed once per connection, then only bound);
 * - a transaction is a BEGIN; statements between BEGIN and COMMIT/ROLLBACK share one checkout, every
 *   other statement is a checkout of its own (Kysely and pg.Pool#query take a connection per query).
 */
import net from 'node:net';

export interface WireCounts {
  connections: number;
  roundTrips: number;
  statements: number;
  parses: number;
  transactions: number;
  checkouts: number;
}

export const zeroCounts = (): WireCounts => ({
  connections: 0,
  roundTrips: 0,
  statements: 0,
  parses: 0,
  transactions: 0,
  checkouts: 0,
});

export const diffCounts = (a: WireCounts, b: WireCounts): WireCounts => ({
  connections: b.connections - a.connections,
  roundTrips: b.roundTrips - a.roundTrips,
  statements: b.statements - a.statements,
  parses: b.parses - a.parses,
  transactions: b.transactions - a.transactions,
  checkouts: b.checkouts - a.checkouts,
});

/** Startup-phase request codes that are followed by another startup message, not by typed ones. */
const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;

const BEGIN = /^\s*(begin|start\s+transaction)\b/i;
const END = /^\s*(commit|rollback|end|abort)\b/i;

/** A statement's text as a label: its first 100 characters, whitespace folded. */
const labelOf = (text: string) => text.replace(/\s+/g, ' ').trim().slice(0, 100);

/** Reads one connection's client-to-server stream and adds what it sees to `counts` and `byText`. */
function messageReader(counts: WireCounts, byText: Map<string, number>): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0);
  let startup = true;
  let inTransaction = false;

  const statementText = (text: string) => {
    const label = labelOf(text);
    byText.set(label, (byText.get(label) ?? 0) + 1);
    if (BEGIN.test(text)) {
      inTransaction = true;
      counts.transactions++;
      counts.checkouts++;
    } else if (END.test(text)) inTransaction = false;
    else if (!inTransaction) counts.checkouts++;
  };
  let lastParsedText = '';
  const prepared = new Map<string, string>();
  let boundText = '';

  return (chunk) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    for (;;) {
      if (startup) {
        if (pending.length < 8) return;
        const len = pending.readInt32BE(0);
        if (pending.length < len) return;
        const code = pending.readInt32BE(4);
        pending = pending.subarray(len);
        if (code !== SSL_REQUEST && code !== GSSENC_REQUEST) startup = false;
        continue;
      }
      if (pending.length < 5) return;
      const type = String.fromCharCode(pending[0]!);
      const len = pending.readInt32BE(1);
      if (pending.length < len + 1) return;
      const body = pending.subarray(5, len + 1);
      pending = pending.subarray(len + 1);
      if (type === 'Q') {
        counts.roundTrips++;
        counts.statements++;
        counts.parses++;
        statementText(body.toString('utf8', 0, body.indexOf(0)));
      } else if (type === 'P') {
        counts.parses++;
        const nameEnd = body.indexOf(0);
        const name = body.toString('utf8', 0, nameEnd);
        lastParsedText = body.toString('utf8', nameEnd + 1, body.indexOf(0, nameEnd + 1));
        if (name) prepared.set(name, lastParsedText);
      } else if (type === 'B') {
        const portalEnd = body.indexOf(0);
        const name = body.toString('utf8', portalEnd + 1, body.indexOf(0, portalEnd + 1));
        boundText = name ? (prepared.get(name) ?? '') : lastParsedText;
      } else if (type === 'E') {
        counts.statements++;
        statementText(boundText);
      } else if (type === 'S') counts.roundTrips++;
    }
  };
}

export interface PgCounter {
  port: number;
  counts(): WireCounts;
  /** Statements run so far, by the start of their text. */
  statements(): Map<string, number>;
  close(): Promise<void>;
}

/** Listens on a free loopback port and relays each connection to `upstream` (host:port), counting. */
export async function startPgCounter(upstream: { host: string; port: number }): Promise<PgCounter> {
  const counts = zeroCounts();
  const byText = new Map<string, number>();
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    counts.connections++;
    const db = net.connect(upstream.port, upstream.host);
    client.setNoDelay(true);
    db.setNoDelay(true);
    sockets.add(client).add(db);
    const read = messageReader(counts, byText);
    client.on('data', (chunk: Buffer) => {
      read(chunk);
      db.write(chunk);
    });
    db.pipe(client);
    const end = () => {
      client.destroy();
      db.destroy();
      sockets.delete(client);
      sockets.delete(db);
    };
    client.on('close', end).on('error', end);
    db.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    counts: () => ({ ...counts }),
    statements: () => new Map(byText),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
