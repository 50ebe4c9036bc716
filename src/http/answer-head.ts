import { validateHeaderName, validateHeaderValue } from 'node:http';
import type { AppContext } from './context.ts';

/** A field's value as Node's header store keeps it: a string, a number, or one line per item. */
export type FieldValue = string | number | readonly string[];

/**
 * ASCII case-insensitive equality of two field names, without making lower-case copies (a name
 * is a token: ASCII only, so this is what Node's lower-casing compares).
 */
function sameName(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  if (a === b) return true;
  for (let i = 0; i < a.length; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 65 && x <= 90) x += 32;
    if (y >= 65 && y <= 90) y += 32;
    if (x !== y) return false;
  }
  return true;
}

/**
 * The head of an answer gathered as one flat list (name, value, name, value ...) and written with
 * the body in one step: one `writeHead` with the list and one `end`, in place of a `setHeader`
 * per field (each checked, lower-cased and stored) and Koa's response. Node takes such a list as
 * it is only when no field was set on the response before, so an audience that gathers its head
 * also puts the request id in it. While a head is gathered, Koa's field methods work on it
 * (gathered-fields.ts), as Node's header store would: a field set again keeps its place and takes
 * the new name's case, a removed one leaves the list. Whatever the gathered answer cannot be (an
 * error that escapes, a field set on the Node response directly, a body that is not plain JSON or
 * text) is answered as before: the gathered fields are put on the response first, in their order,
 * and Koa answers.
 */
export class AnswerHead {
  /** The fields gathered so far, as `writeHead` takes them. */
  readonly fields: (string | FieldValue)[];
  /** A JSON body Koa has not seen, waiting to be written with the head (undefined: none). */
  body: unknown = undefined;

  constructor(fields: (string | FieldValue)[]) {
    this.fields = fields;
  }

  /** The position of a field's name in the list, or -1. */
  indexOf(name: string): number {
    const fields = this.fields;
    for (let i = 0; i < fields.length; i += 2) if (sameName(fields[i] as string, name)) return i;
    return -1;
  }

  /** Sets a field known to be well formed (our own names and values): in its place, or last. */
  put(name: string, value: FieldValue): void {
    const at = this.indexOf(name);
    if (at < 0) {
      this.fields.push(name, value);
    } else {
      this.fields[at] = name;
      this.fields[at + 1] = value;
    }
  }

  // Node's header-store methods, by their names (so `vary` can take the head as a response).

  getHeader(name: string): FieldValue | undefined {
    const at = this.indexOf(name);
    return at < 0 ? undefined : (this.fields[at + 1] as FieldValue);
  }

  hasHeader(name: string): boolean {
    return this.indexOf(name) >= 0;
  }

  /** As `ServerResponse.setHeader`: the same checks, so a bad name or value throws where it is set. */
  setHeader(name: string, value: FieldValue): this {
    validateHeaderName(name);
    validateHeaderValue(name, value as string); // Node takes numbers and lists too
    this.put(name, value);
    return this;
  }

  removeHeader(name: string): void {
    const at = this.indexOf(name);
    if (at >= 0) this.fields.splice(at, 2);
  }

  /** As `ServerResponse.getHeaders`: lower-case names to values. */
  getHeaders(): Record<string, FieldValue> {
    const headers: Record<string, FieldValue> = Object.create(null);
    const fields = this.fields;
    for (let i = 0; i < fields.length; i += 2)
      headers[(fields[i] as string).toLowerCase()] = fields[i + 1] as FieldValue;
    return headers;
  }
}

const JSON_TYPE = 'application/json; charset=utf-8';
/** The statuses whose answer has no body (Koa's `statuses.empty`): Koa strips their fields. */
const NO_BODY = new Set([204, 205, 304]);

/**
 * Starts gathering the answer's head with `fields`, unless a field is already on the response
 * (the server's `Connection: close` while it stops, say): then nothing is gathered, `fields` go on
 * the response, after it, and Koa answers as before. Whether the head is gathered.
 */
export function gatherAnswerHead(ctx: AppContext, fields: (string | FieldValue)[]): boolean {
  if (ctx.res.getHeaderNames().length > 0) {
    putFields(ctx.res, fields);
    return false;
  }
  ctx.state.answerHead = new AnswerHead(fields);
  return true;
}

/** Sets a flat list of fields (name, value, ...) on the response itself, in order. */
function putFields(res: AppContext['res'], fields: readonly (string | FieldValue)[]): void {
  for (let i = 0; i < fields.length; i += 2) res.setHeader(fields[i] as string, fields[i + 1] as FieldValue);
}

/** Sets a field: into the gathered head when the answer has one, else on the response. */
export function setAnswerHeader(ctx: AppContext, name: string, value: string): void {
  const head = ctx.state.answerHead;
  if (head) head.put(name, value);
  else ctx.res.setHeader(name, value);
}

/** The answer's JSON body: kept to be written with the gathered head, else given to Koa. */
export function setJsonBody(ctx: AppContext, body: unknown): void {
  const head = ctx.state.answerHead;
  if (head && isPlainJson(body)) head.body = body;
  else ctx.body = body;
}

const isPlainJson = (body: unknown): boolean => {
  if (typeof body !== 'object' || body === null) return false;
  const proto = Object.getPrototypeOf(body);
  return proto === Object.prototype || proto === Array.prototype;
};

/**
 * The body to write with the gathered head, its fields completed as Koa would complete them, or
 * undefined when Koa must answer. A body Koa has not seen (`setJsonBody`) gets the JSON type and
 * its length; one given to Koa (`ctx.body`, whose type and, for text, length Koa set into the
 * head) is written as Koa's `respond` writes it: text as it is, JSON with its length set last.
 */
function bodyToWrite(ctx: AppContext, head: AnswerHead): string | Buffer | undefined {
  if (head.body !== undefined) {
    if (head.hasHeader('Content-Type') || head.hasHeader('Content-Length')) return undefined;
    const json = JSON.stringify(head.body);
    head.fields.push('Content-Type', JSON_TYPE, 'Content-Length', String(Buffer.byteLength(json)));
    return json;
  }
  const body = ctx.body;
  if (NO_BODY.has(ctx.status)) return undefined;
  if (typeof body === 'string' || Buffer.isBuffer(body)) return body;
  if (!isPlainJson(body)) return undefined;
  const json = JSON.stringify(body);
  if (!head.hasHeader('Transfer-Encoding')) head.put('Content-Length', Buffer.byteLength(json));
  return json;
}

/**
 * Writes the gathered answer in one step when nothing else was set on the response, as Koa would
 * have written it (the same fields in the same order, the same body); otherwise hands it to Koa
 * (see `releaseAnswerHead`). The head is let go of first, so whatever happens next (even a body
 * that does not serialize) meets the response as Koa knows it.
 */
export function writeAnswer(ctx: AppContext): void {
  const head = ctx.state.answerHead;
  if (!head) return;
  ctx.state.answerHead = undefined;
  const res = ctx.res;
  const oneStep = ctx.method !== 'HEAD' && ctx.writable && ctx.respond !== false && res.getHeaderNames().length === 0;
  const body = oneStep ? bodyToWrite(ctx, head) : undefined;
  if (body === undefined) {
    putOnResponse(ctx, head);
    return;
  }
  ctx.respond = false;
  res.writeHead(res.statusCode, head.fields as string[]);
  res.end(body);
}

/**
 * Ends the gathering: the gathered fields go onto the response in front of any set on it directly
 * (they were gathered first), and a waiting body to Koa, which answers as it always does.
 */
export function releaseAnswerHead(ctx: AppContext): void {
  const head = ctx.state.answerHead;
  if (!head) return;
  ctx.state.answerHead = undefined;
  putOnResponse(ctx, head);
}

/** Once the head is sent nothing more can be set, as Koa's own `set` then does nothing. */
function putOnResponse(ctx: AppContext, head: AnswerHead): void {
  const res = ctx.res;
  if (res.headersSent) return;
  // The names as they were set (Node writes them so); @types/node declares this on requests only.
  const names = (res as unknown as { getRawHeaderNames(): string[] }).getRawHeaderNames();
  const direct = names.map((name) => [name, res.getHeader(name)!] as const);
  for (const [name] of direct) res.removeHeader(name);
  putFields(res, head.fields);
  for (const [name, value] of direct) res.setHeader(name, value);
  if (head.body !== undefined) ctx.body = head.body;
}
