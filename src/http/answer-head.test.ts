import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import vary from 'vary';
import { AnswerHead, gatherAnswerHead, type FieldValue } from './answer-head.ts';
import type { AppContext } from './context.ts';

// A gathered head must hold what Node's header store would hold after the same calls, so that
// writing it in one step sends the same bytes: each sequence below runs on both, and the heads
// Node makes of them (with `writeHead` from its store, and from the gathered list) are compared.

/** A response on no connection, its Date left out (the clock is not what is compared). */
function response(): http.ServerResponse {
  const res = new http.ServerResponse(new http.IncomingMessage(new net.Socket()));
  res.sendDate = false;
  return res;
}

type Step = (store: {
  setHeader(name: string, value: FieldValue): unknown;
  removeHeader(name: string): void;
  getHeader(name: string): unknown;
}) => void;

/** The head Node writes after `steps` on its own store, and from the gathered list. */
function bothHeads(steps: Step[]): { stored: string; gathered: string; head: AnswerHead; res: http.ServerResponse } {
  const res = response();
  const head = new AnswerHead([]);
  for (const step of steps) {
    step(res as never);
    step(head);
  }
  const storedRes = response();
  for (const name of (res as unknown as { getRawHeaderNames(): string[] }).getRawHeaderNames()) {
    storedRes.setHeader(name, res.getHeader(name)!);
  }
  storedRes.writeHead(200);
  const gatheredRes = response();
  gatheredRes.writeHead(200, head.fields as string[]);
  const text = (r: http.ServerResponse) => (r as unknown as { _header: string })._header;
  return { stored: text(storedRes), gathered: text(gatheredRes), head, res };
}

describe('a gathered head holds what Node would store', () => {
  const cases: [string, Step[]][] = [
    ['fields in the order set', [(s) => s.setHeader('X-One', '1'), (s) => s.setHeader('x-two', '2')]],
    [
      'a field set again keeps its place and takes the new case',
      [
        (s) => s.setHeader('cache-control', 'no-cache'),
        (s) => s.setHeader('X-Two', '2'),
        (s) => s.setHeader('Cache-Control', 'no-store'),
      ],
    ],
    [
      'a removed field leaves; set again, it comes last',
      [
        (s) => s.setHeader('Content-Length', '5'),
        (s) => s.setHeader('Content-Type', 'text/plain'),
        (s) => s.removeHeader('content-length'),
        (s) => s.setHeader('Content-Length', 12),
      ],
    ],
    ['a list is one line per item', [(s) => s.setHeader('WWW-Authenticate', ['Basic realm="a"', 'DPoP realm="a"'])]],
    [
      'vary adds a field once, in the case first given',
      [(s) => vary(s as never, 'Origin'), (s) => vary(s as never, 'origin'), (s) => vary(s as never, 'Accept')],
    ],
    ['removing what is not there changes nothing', [(s) => s.setHeader('A', '1'), (s) => s.removeHeader('B')]],
  ];
  for (const [what, steps] of cases) {
    it(what, () => {
      const { stored, gathered, head, res } = bothHeads(steps);
      assert.equal(gathered, stored);
      assert.deepEqual({ ...head.getHeaders() }, { ...res.getHeaders() });
    });
  }

  it('reads a field by any case of its name', () => {
    const head = new AnswerHead(['Content-Type', 'application/json']);
    assert.equal(head.getHeader('content-type'), 'application/json');
    assert.equal(head.hasHeader('CONTENT-TYPE'), true);
    assert.equal(head.hasHeader('Content-Typo'), false);
    assert.equal(head.getHeader('X-Request-ID'), undefined); // the same length, another name
  });

  it('refuses what Node refuses, where it is set', () => {
    for (const [name, value] of [
      ['X-Bad', 'a\r\nInjected: 1'],
      ['Bad Name', 'v'],
      ['X-None', undefined],
    ] as const) {
      const fromNode = (() => {
        try {
          response().setHeader(name, value as never);
        } catch (err) {
          return (err as { code?: string }).code;
        }
      })();
      assert.ok(fromNode, `${name} is refused by Node`);
      assert.throws(
        () => new AnswerHead([]).setHeader(name, value as never),
        (err: { code?: string }) => err.code === fromNode,
      );
    }
  });
});

describe('gatherAnswerHead', () => {
  const ctxOn = (res: http.ServerResponse) => ({ res, state: {} }) as unknown as AppContext;

  it('gathers the fields when the response holds none', () => {
    const ctx = ctxOn(response());
    assert.equal(gatherAnswerHead(ctx, ['X-Request-ID', 'r1', 'X-Frame-Options', 'DENY']), true);
    assert.deepEqual(ctx.state.answerHead?.fields, ['X-Request-ID', 'r1', 'X-Frame-Options', 'DENY']);
    assert.deepEqual(ctx.res.getHeaderNames(), []);
  });

  it('with a field already on the response, gathers nothing and sets the fields after it', () => {
    const res = response();
    res.setHeader('Connection', 'close'); // as the server does while it stops
    const ctx = ctxOn(res);
    assert.equal(gatherAnswerHead(ctx, ['X-Request-ID', 'r1', 'X-Frame-Options', 'DENY']), false);
    assert.equal(ctx.state.answerHead, undefined);
    assert.deepEqual((res as unknown as { getRawHeaderNames(): string[] }).getRawHeaderNames(), [
      'Connection',
      'X-Request-ID',
      'X-Frame-Options',
    ]);
    assert.equal(res.getHeader('X-Request-ID'), 'r1');
  });
});
