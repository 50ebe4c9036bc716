import assert from 'node:assert';
import type Koa from 'koa';
import vary from 'vary';
import { releaseAnswerHead, type AnswerHead, type FieldValue } from './answer-head.ts';
import type { AppContext } from './context.ts';

type Response = Koa.BaseResponse & { ctx: AppContext; res: AppContext['res'] };

/** Koa's own field methods (its types leave `has` out). */
type KoaFields = Koa.BaseResponse & { has(field: string): boolean };

/** The gathered head of this response's answer, if one is being gathered. */
const headOf = (response: Response): AnswerHead | undefined => response.ctx.state.answerHead;

/** As Koa's `set` does: Content-Type and Content-Length take one value, not a list. */
function singleValue(name: string, value: FieldValue): FieldValue {
  const lower = name.length === 12 || name.length === 14 ? name.toLowerCase() : '';
  if ((lower !== 'content-type' && lower !== 'content-length') || !Array.isArray(value)) return value;
  assert(value.length === 1, `${name} must contain exactly one value`);
  return value[0] as string;
}

/**
 * Makes an app's Koa response work on the answer's gathered head while one is gathered (see
 * answer-head.ts): `set`, `get`, `has`, `remove`, `vary`, `headers`, and so everything Koa builds
 * on them (`append`, `type`, `length`, the body's own fields). Code that sets a field and reads it
 * back, oidc-provider's included, sees what it set; nothing reaches Node's header store, so the
 * head can be written in one step. With no head gathered, each is Koa's own. Installed once on the
 * app's response prototype: nothing is made per request.
 */
export function gatherFieldsIntoAnswerHead(response: Koa.BaseResponse): void {
  const koa = Object.getPrototypeOf(response) as KoaFields;
  const header = Object.getOwnPropertyDescriptor(koa, 'header')!.get!;
  const gathered: ThisType<Response> & Record<string, unknown> = {
    set(this: Response, field: string | Record<string, FieldValue>, value: FieldValue) {
      const head = headOf(this);
      if (!head) return koa.set.call(this, field as string, value as string);
      if (this.headerSent || !field) return;
      if (typeof field === 'string') {
        head.setHeader(field, singleValue(field, value));
        return;
      }
      const entries = Object.entries(field).map(([name, v]) => [name, singleValue(name, v)] as const);
      for (const [name, v] of entries) head.setHeader(name, v);
    },
    get(this: Response, field: string) {
      const head = headOf(this);
      return head && typeof field === 'string' ? head.getHeader(field) : koa.get.call(this, field);
    },
    has(this: Response, field: string) {
      const head = headOf(this);
      return head && typeof field === 'string' ? head.hasHeader(field) : koa.has.call(this, field);
    },
    remove(this: Response, field: string) {
      const head = headOf(this);
      if (!head) return koa.remove.call(this, field);
      if (this.headerSent) return;
      // Node's own checks and the flags a removed field leaves (no Date, no automatic length).
      this.res.removeHeader(field);
      head.removeHeader(field);
    },
    vary(this: Response, field: string | string[]) {
      const head = headOf(this);
      if (!head) return koa.vary.call(this, field as string);
      if (this.headerSent) return;
      vary(head, field);
    },
    flushHeaders(this: Response) {
      releaseAnswerHead(this.ctx);
      koa.flushHeaders.call(this);
    },
  };
  const fieldsOf = {
    get(this: Response) {
      const head = headOf(this);
      return head ? head.getHeaders() : header.call(this);
    },
  };
  Object.assign(response, gathered);
  Object.defineProperty(response, 'header', { ...fieldsOf, configurable: true });
  Object.defineProperty(response, 'headers', { ...fieldsOf, configurable: true });
}
