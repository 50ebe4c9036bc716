import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTestDatabase, testBackend, type TestDatabase } from '../../test/support/database.ts';
import { buildApp, type BuiltApp } from '../app.ts';
import { prepare, type Infra } from '../boot/prepare.ts';
import { loadConfig } from '../config.ts';
import { createLogger } from '../logger.ts';
import { toAppError } from '../http/domain-errors.ts';
import { sessionPrincipal } from '../domain/principal.ts';
import { createServices } from '../services.ts';
import { createClientMetadataValidator } from './client-metadata-validator.ts';
import { BY_SYSTEM } from '../features/audit/audit.ts';

// Applications check client metadata with a private oidc-provider instance (no late-bound
// `provider!`): it must refuse exactly what the provider serving /oauth refuses, with its words.

const WEB = {
  client_id: 'app_check',
  client_name: 'Check',
  application_type: 'web',
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  redirect_uris: ['https://a.example/cb'],
  client_secret: 'stored-hash',
  token_endpoint_auth_method: 'client_secret_basic',
  latchkey_type: 'web',
  latchkey_scopes: ['read:users'],
};

const INVALID: [string, Record<string, unknown>][] = [
  ['a redirect URI that is no URL', { ...WEB, redirect_uris: ['not a url'] }],
  ['an auth method the server does not enable', { ...WEB, token_endpoint_auth_method: 'client_secret_jwt' }],
  ['a response type the server does not enable', { ...WEB, response_types: ['code id_token'] }],
  ['a grant type without its response type', { ...WEB, grant_types: ['implicit'] }],
  ['a confidential client without a secret', { ...WEB, client_secret: undefined }],
];

/** What a rejection says: oidc-provider's error name, code and description. */
async function rejection(check: () => Promise<unknown>): Promise<Record<string, unknown>> {
  try {
    await check();
  } catch (err) {
    const e = err as { name: string; error?: string; error_description?: string; message: string };
    return { name: e.name, error: e.error, error_description: e.error_description, message: e.message };
  }
  assert.fail('accepted');
}

describe('client metadata validator', () => {
  let dir: string;
  let database: TestDatabase;
  let infra: Infra;
  let built: BuiltApp;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-client-metadata-'));
    database = await createTestDatabase(dir);
    const config = loadConfig({
      DATABASE_URL: database.url,
      ...(testBackend === 'postgres' ? { SECRETS_KEY: crypto.randomBytes(32).toString('base64') } : {}),
    });
    infra = await prepare(config, createLogger('silent'));
    built = buildApp(infra);
  });
  after(async () => {
    await built.stop();
    await infra.db.destroy();
    await database.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('accepts what the serving provider accepts', async () => {
    const validate = createClientMetadataValidator(infra);
    await validate(WEB);
    await built.provider.Client.validate(WEB as never);
  });

  for (const [what, metadata] of INVALID) {
    it(`refuses ${what} with the serving provider's error`, async () => {
      const validate = createClientMetadataValidator(infra);
      const ours = await rejection(() => validate(metadata));
      const serving = await rejection(() => built.provider.Client.validate(metadata as never));
      assert.match(String(ours['error']), /^invalid_(client_metadata|redirect_uri)$/, JSON.stringify(ours));
      assert.deepEqual(ours, serving);
    });
  }

  it("applications.register turns the provider's refusal into VALIDATION_FAILED with its description", async () => {
    const refusal = await rejection(() => built.provider.Client.validate(INVALID[1]![1] as never));
    // A validator that sees what register built, then refuses it as the provider would.
    let seen: Record<string, unknown> | undefined;
    const check = createClientMetadataValidator(infra);
    const services = createServices(infra, {
      validateClientMetadata: async (metadata) => {
        seen = metadata;
        await check({ ...metadata, token_endpoint_auth_method: 'client_secret_jwt' });
      },
    });
    try {
      const owner = await services.accounts.signUp(
        { email: 'meta@example.com', password: 'a long enough password' },
        BY_SYSTEM,
      );
      await assert.rejects(
        services.applications.register(
          sessionPrincipal(owner),
          {
            name: 'Meta',
            redirect_uris: ['https://a.example/cb'],
            scopes: [],
            type: 'web',
          },
          BY_SYSTEM,
        ),
        (err: unknown) => {
          // The service throws a domain error; the API answers it as this AppError.
          const answered = toAppError(err);
          return answered?.code === 'VALIDATION_FAILED' && answered.message === refusal['error_description'];
        },
      );
      assert.deepEqual(seen?.['redirect_uris'], ['https://a.example/cb'], 'the check saw the metadata register built');
      assert.deepEqual(await services.applications.list(sessionPrincipal(owner)), [], 'nothing was registered');
    } finally {
      await services.stop();
    }
  });
});
