import type { AppContext } from './context.ts';

/**
 * The head of an answer gathered as one flat list (name, value, name, value ...) and written with
 * the body in one step: one `writeHead` with the list and one `end`, in place of a `setHeader`
 * per field (each checked, lower-cased and stored) and Koa's response. Node takes such a list as
 * it is only when no field was set on the response before, so an audience that gathers its head
 * also puts the request id in it. Whatever the gathered answer cannot be (an error, a field set
 * on the response directly, a body that is not plain JSON) is answered as before: the gathered
 * fields are put on the response first, in their order, and Koa answers.
 */
export class AnswerHead {
  /** The fields gathered so far, as `writeHead` takes them. */
  readonly fields: string[];
  /** A JSON body waiting to be written with the head (undefined: none yet). */
  body: unknown = undefined;

  constructor(fields: string[]) {
    this.fields = fields;
  }
}

const JSON_TYPE = 'application/json; charset=utf-8';

/** Sets a field: into the gathered head when the answer has one, else on the response. */
export function setAnswerHeader(ctx: AppContext, name: string, value: string): void {
  const head = ctx.state.answerHead;
  if (head) head.fields.push(name, value);
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
 * Writes the gathered answer in one step when nothing else was set on the response, as Koa would
 * have written it (the same fields in the same order, Content-Type and Content-Length last);
 * otherwise hands it to Koa (see `releaseAnswerHead`).
 */
export function writeAnswer(ctx: AppContext): void {
  const head = ctx.state.answerHead;
  if (!head) return;
  const res = ctx.res;
  if (head.body === undefined || ctx.method === 'HEAD' || !ctx.writable || res.getHeaderNames().length > 0) {
    releaseAnswerHead(ctx);
    return;
  }
  ctx.state.answerHead = undefined;
  const json = JSON.stringify(head.body);
  head.fields.push('Content-Type', JSON_TYPE, 'Content-Length', String(Buffer.byteLength(json)));
  ctx.respond = false;
  res.writeHead(res.statusCode, head.fields);
  res.end(json);
}

/**
 * Ends the gathering: the gathered fields go onto the response in front of any set on it directly
 * (they were gathered first), and a waiting body to Koa, which answers as it always does.
 */
export function releaseAnswerHead(ctx: AppContext): void {
  const head = ctx.state.answerHead;
  if (!head) return;
  ctx.state.answerHead = undefined;
  const res = ctx.res;
  // The names as they were set (Node writes them so); @types/node declares this on requests only.
  const names = (res as unknown as { getRawHeaderNames(): string[] }).getRawHeaderNames();
  const direct = names.map((name) => [name, res.getHeader(name)!] as const);
  for (const [name] of direct) res.removeHeader(name);
  const fields = head.fields;
  for (let i = 0; i < fields.length; i += 2) res.setHeader(fields[i]!, fields[i + 1]!);
  for (const [name, value] of direct) res.setHeader(name, value);
  if (head.body !== undefined) ctx.body = head.body;
}
