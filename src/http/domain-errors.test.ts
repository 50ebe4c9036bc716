import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Conflict, Forbidden, NotFound, NotYours, Unauthenticated, ValidationError } from '../domain/errors.ts';
import { toAppError } from './domain-errors.ts';
import { AppError } from './errors.ts';

describe('toAppError: a domain refusal becomes the JSON error model, in one place', () => {
  const cases: [Error, number, unknown][] = [
    [new NotFound('Project'), 404, { error: { code: 'NOT_FOUND', message: 'Project not found' } }],
    [new NotYours(), 403, { error: { code: 'FORBIDDEN', message: 'Insufficient permissions for this operation' } }],
    [
      new Forbidden('Only admin:all may change is_admin'),
      403,
      {
        error: { code: 'FORBIDDEN', message: 'Only admin:all may change is_admin' },
      },
    ],
    [
      new Conflict('An account with this email already exists', 'email'),
      409,
      {
        error: { code: 'CONFLICT', message: 'An account with this email already exists', field: 'email' },
      },
    ],
    [
      new ValidationError('redirect_uris.1: is not an absolute URL', 'redirect_uris.1'),
      400,
      {
        error: {
          code: 'VALIDATION_FAILED',
          message: 'redirect_uris.1: is not an absolute URL',
          field: 'redirect_uris.1',
        },
      },
    ],
    [
      new ValidationError('Text may not contain the NUL character (U+0000)'),
      400,
      {
        error: { code: 'VALIDATION_FAILED', message: 'Text may not contain the NUL character (U+0000)' },
      },
    ],
  ];

  for (const [err, status, body] of cases) {
    it(`${err.constructor.name}: ${status} ${JSON.stringify(body)}`, () => {
      const mapped = toAppError(err);
      assert.ok(mapped);
      assert.equal(mapped.status, status);
      // Byte for byte: clients and tests compare the serialised body.
      assert.equal(JSON.stringify(mapped.toBody()), JSON.stringify(body));
    });
  }

  it('a rejected credential is a 401 that says why in WWW-Authenticate', () => {
    const mapped = toAppError(new Unauthenticated());
    assert.equal(mapped?.status, 401);
    assert.deepEqual(mapped?.headers, { 'WWW-Authenticate': 'Bearer error="invalid_token"' });
    assert.equal(
      JSON.stringify(mapped?.toBody()),
      JSON.stringify({ error: { code: 'UNAUTHORIZED', message: 'Invalid or missing authentication credentials' } }),
    );
  });

  it('passes an AppError through and leaves anything else to the caller', () => {
    const own = new AppError('RATE_LIMITED', 'slow down');
    assert.equal(toAppError(own), own);
    assert.equal(toAppError(new Error('boom')), undefined);
    assert.equal(toAppError('not an error'), undefined);
  });
});
