import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import SwaggerParser from '@apidevtools/swagger-parser';
import type Router from '@koa/router';
import { startTestServer, type TestServer } from '../../test/support/server.ts';

type Operation = {
  operationId: string;
  responses: Record<string, unknown>;
  security: Array<Record<string, string[]>>;
};
type Doc = {
  openapi: string;
  info: { license?: { name?: string; identifier?: string; url?: string } };
  paths: Record<string, Record<string, Operation>>;
};

/** The JSON pointer of every object member named `name`, anywhere in `value`. */
function membersNamed(value: unknown, name: string, at = ''): string[] {
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, child]) => [
    ...(key === name ? [`${at}/${key}`] : []),
    ...membersNamed(child, name, `${at}/${key}`),
  ]);
}

/** Every (method, path) the app's routers really serve under the documented prefixes. */
function servedOperations(server: TestServer): Set<string> {
  const served = new Set<string>();
  for (const router of server.built.routers as Router[]) {
    for (const layer of router.stack) {
      if (
        typeof layer.path !== 'string' ||
        !/^\/(v2|oauth\/applications)(\/|$)/.test(layer.path) ||
        layer.methods.length === 0
      )
        continue;
      const path = layer.path.replace(/\/$/, '').replace(/:([A-Za-z0-9_]+)/g, '{$1}');
      for (const m of layer.methods) if (m !== 'HEAD') served.add(`${m.toLowerCase()} ${path}`);
    }
  }
  return served;
}

describe('OpenAPI document (/v2/openapi.json)', () => {
  let server: TestServer;
  let doc: Doc;

  before(async () => {
    server = await startTestServer();
    const res = await fetch(`${server.url}/v2/openapi.json`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-api-version'), '2.0');
    doc = (await res.json()) as Doc;
  });
  after(() => server.dispose());

  it('is a valid OpenAPI 3.1 document', async () => {
    assert.equal(doc.openapi, '3.1.0');
    await SwaggerParser.validate(structuredClone(doc) as never);
  });

  it('documents exactly the routes the server serves, and nothing else', () => {
    const documented = new Set(
      Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`)),
    );
    const served = servedOperations(server);
    assert.ok(served.size >= 30, `found ${served.size} served operations`);
    assert.deepEqual(
      [...served].filter((op) => !documented.has(op)),
      [],
      'served but undocumented',
    );
    assert.deepEqual(
      [...documented].filter((op) => !served.has(op)),
      [],
      'documented but not served',
    );
  });

  it('gives every operation a unique id, a success response and the error model', () => {
    const ids = Object.values(doc.paths).flatMap((ops) => Object.values(ops).map((o) => o.operationId));
    assert.equal(new Set(ids).size, ids.length);
    for (const ops of Object.values(doc.paths)) {
      for (const op of Object.values(ops)) {
        assert.ok(
          Object.keys(op.responses).some((s) => s.startsWith('2')),
          op.operationId,
        );
        assert.ok(op.responses['401'], op.operationId);
      }
    }
  });

  it('describes request bodies with the same rules the server enforces', () => {
    const create = doc.paths['/v2/projects']!['post'] as unknown as {
      requestBody: {
        content: { 'application/json': { schema: { required: string[]; additionalProperties: boolean } } };
      };
    };
    const schema = create.requestBody.content['application/json'].schema;
    assert.deepEqual(schema.required, ['name']);
    assert.equal(schema.additionalProperties, false);
  });

  it('carries no "$schema" member in any schema (OpenAPI 3.1 implies JSON Schema 2020-12)', () => {
    assert.ok(JSON.stringify(doc).includes('"type":"object"'), 'the document has schemas to look into');
    assert.deepEqual(membersNamed(doc, '$schema'), []);
  });

  it('lists the bearer scheme first in every operation, the session cookie after it', () => {
    let operations = 0;
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        operations++;
        const where = `${method} ${path}`;
        assert.deepEqual(Object.keys(op.security[0] ?? {}), ['bearer'], where);
        assert.ok(
          op.security.slice(1).some((s) => 'session' in s),
          where,
        );
      }
    }
    assert.ok(operations >= 30, `found ${operations} operations`);
    const keys = doc.paths['/v2/api-keys']!['post']!;
    assert.deepEqual(keys.security, [{ bearer: ['admin:all'] }, { session: [] }]);
  });

  it('states a license: a name and exactly one of an SPDX identifier or a URL', () => {
    const license = doc.info.license;
    assert.ok(license && typeof license.name === 'string' && license.name.length > 0, 'info.license.name');
    assert.equal([license.identifier, license.url].filter(Boolean).length, 1);
  });
});
