/**
 * A real webhook receiver for the tests: node:http on 127.0.0.1 (a free port), recording every
 * request it gets (headers and raw body), which can answer 200, 500 (or any status), or be down
 * (its server closed, then reopened on the same port). Deliveries are verified the two ways a
 * customer would: the documented `verifyWebhookSignature`, applied as a typical handler applies it,
 * and the `standardwebhooks` npm package.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface ReceivedWebhook {
  method: string;
  path: string;
  /** Lower-case header names, as node:http gives them. */
  headers: Record<string, string>;
  /** The raw body, exactly as it arrived. */
  body: string;
  /** The status this receiver answered with. */
  answered: number;
}

// ---------------------------------------------------------------------------------------------
// The body-only verifier as customers write it, copied exactly; only the types are added.
function verifyWebhookSignature(payload: string, signature: string, secret: string): boolean {
  const expectedSignature = crypto.createHmac('sha256', secret).update(payload).digest('hex');

  return crypto.timingSafeEqual(Buffer.from(signature), Buffer.from(expectedSignature));
}
// ---------------------------------------------------------------------------------------------
export { verifyWebhookSignature };

/**
 * Does a typical handler accept this delivery? It parses the body (express.json), then verifies
 * `JSON.stringify(req.body)` against the `x-webhook-signature` header. Anything the handler would
 * not get past (unparsable body, missing header, length mismatch throwing in timingSafeEqual)
 * counts as refused.
 */
export function documentedAccepts(req: Pick<ReceivedWebhook, 'headers' | 'body'>, secret: string): boolean {
  try {
    const signature = req.headers['x-webhook-signature'];
    if (signature === undefined) return false;
    return verifyWebhookSignature(JSON.stringify(JSON.parse(req.body)), signature, secret);
  } catch {
    return false;
  }
}

/** `new Webhook(secret).verify(body, headers)` from the standardwebhooks package; throws when refused. */
export function standardVerify(req: Pick<ReceivedWebhook, 'headers' | 'body'>, secret: string): unknown {
  return new Webhook(secret).verify(req.body, req.headers);
}

/** Does the standardwebhooks package accept this delivery (signature and timestamp tolerance)? */
export function standardAccepts(req: Pick<ReceivedWebhook, 'headers' | 'body'>, secret: string): boolean {
  try {
    standardVerify(req, secret);
    return true;
  } catch {
    return false;
  }
}

/** The parsed event of a delivery. */
export function eventOf(req: Pick<ReceivedWebhook, 'body'>): {
  id: string;
  type: string;
  created_at: string;
  data: Record<string, unknown>;
} {
  return JSON.parse(req.body) as never;
}

export class WebhookReceiver {
  readonly requests: ReceivedWebhook[] = [];
  /** Requests received and not yet answered (or cut), now and at the most. */
  inFlight = 0;
  maxInFlight = 0;
  private status = 200;
  private delayMs = 0;
  private hanging = false;
  private server: http.Server | null = null;

  private constructor(public port: number) {}

  /** Starts a receiver on a free loopback port. */
  static async start(opts: { status?: number; delayMs?: number } = {}): Promise<WebhookReceiver> {
    const receiver = new WebhookReceiver(0);
    receiver.status = opts.status ?? 200;
    receiver.delayMs = opts.delayMs ?? 0;
    await receiver.up();
    return receiver;
  }

  /** A URL on this receiver. */
  url(path = '/hook'): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** Answer every following request with this status (200 healthy, 500 failing, ...). */
  respond(status: number): void {
    this.status = status;
  }

  /** Wait this long before answering (widens race windows in concurrency tests). */
  delay(ms: number): void {
    this.delayMs = ms;
  }

  /** Accept every connection and read every request, but never answer (until `down()`). */
  hang(): void {
    this.hanging = true;
  }

  get isUp(): boolean {
    return this.server !== null;
  }

  /** The deliveries of one event id (webhook-id). */
  byId(id: string): ReceivedWebhook[] {
    return this.requests.filter((r) => r.headers['webhook-id'] === id);
  }

  /** The event types received, in order. */
  types(): string[] {
    return this.requests.map((r) => eventOf(r).type);
  }

  clear(): void {
    this.requests.length = 0;
  }

  /** Opens the server (on the same port as before, once it has one): connections succeed again. */
  async up(): Promise<void> {
    if (this.server) return;
    const server = http.createServer((req, res) => {
      this.inFlight++;
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
      res.once('close', () => this.inFlight--);
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers))
          if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
        const answered = this.status;
        this.requests.push({
          method: req.method ?? '',
          path: req.url ?? '',
          headers,
          body: Buffer.concat(chunks).toString('utf8'),
          answered,
        });
        const reply = () => {
          res.writeHead(answered, { 'content-type': 'text/plain' });
          res.end(answered >= 200 && answered < 300 ? 'ok' : 'nope');
        };
        if (this.hanging) return;
        if (this.delayMs > 0) setTimeout(reply, this.delayMs);
        else reply();
      });
    });
    server.keepAliveTimeout = 1;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Closes the server and every open connection: deliveries now meet "connection refused". */
  async down(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  close(): Promise<void> {
    return this.down();
  }
}
