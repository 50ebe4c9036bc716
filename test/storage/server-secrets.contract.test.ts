import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { it } from 'node:test';
import { createSecretBox } from '../../src/shared/encryption.ts';
import { createServerSecretsRepo } from '../../src/oidc/server-secrets.repo.ts';
import { LATE, LONG, assertRefusesNul, describeStorage, freshId, type Storage } from './contract.ts';

/** Generated-once server material: sealed at rest, first writer wins, compare-and-set replacement. */
export function serverSecretsRepoContract(s: Storage): void {
  const box = createSecretBox(crypto.randomBytes(32));
  const repo = () => createServerSecretsRepo(s.db, box);
  const stored = async (name: string) =>
    (await s.db.selectFrom('server_secrets').select('value').where('name', '=', name).executeTakeFirst())?.value;

  it('answers undefined for a name never written', async () => {
    assert.equal(await repo().get(freshId('none')), undefined);
  });

  it('stores a value sealed and reads it back exactly: JSON, unicode, 64 KiB', async () => {
    const name = freshId('jwks');
    const value = JSON.stringify({ keys: [{ kid: 'k1', d: LONG, note: 'Zoë 🔐' }] });
    assert.equal(await repo().putIfAbsent(name, value, LATE), value);
    assert.equal(await repo().get(name), value);
    const raw = await stored(name);
    assert.ok(raw?.startsWith('v1.') && !raw.includes('Zoë'), 'sealed at rest');
  });

  it('keeps the first value: later and concurrent writers all get the stored one back', async () => {
    const name = freshId('cookie-keys');
    const answers = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((v) => repo().putIfAbsent(name, v, LATE)));
    assert.equal(new Set(answers).size, 1, `every writer sees the same value: ${answers.join(',')}`);
    assert.equal(await repo().putIfAbsent(name, 'late', LATE), answers[0]);
    assert.equal(await repo().get(name), answers[0]);
  });

  it('seals a value written before sealing existed on its first read', async () => {
    const name = freshId('legacy');
    await s.db.insertInto('server_secrets').values({ name, value: '{"legacy":true}', created_at: 1 }).execute();
    assert.equal(await repo().get(name), '{"legacy":true}');
    assert.ok((await stored(name))?.startsWith('v1.'));
    assert.equal(await repo().get(name), '{"legacy":true}');
  });

  it('replaces a value only while it is still the expected one, once among concurrent replacers', async () => {
    const name = freshId('signing');
    await repo().putIfAbsent(name, 'v0', LATE);
    assert.equal(await repo().compareAndSet(name, 'not-v0', 'x'), false);
    assert.equal(await repo().get(name), 'v0');
    const results = await Promise.all(['v1a', 'v1b', 'v1c', 'v1d'].map((v) => repo().compareAndSet(name, 'v0', v)));
    assert.equal(results.filter(Boolean).length, 1);
    const winner = ['v1a', 'v1b', 'v1c', 'v1d'][results.indexOf(true)];
    assert.equal(await repo().get(name), winner);
    assert.equal(await repo().compareAndSet(freshId('none'), 'v0', 'x'), false);
  });

  it('replaces a legacy unsealed value by comparing its plain text', async () => {
    const name = freshId('legacy');
    await s.db.insertInto('server_secrets').values({ name, value: 'plain', created_at: 1 }).execute();
    assert.equal(await repo().compareAndSet(name, 'plain', 'next'), true);
    assert.equal(await repo().get(name), 'next');
  });

  it('refuses NUL in a name', async () => {
    await assertRefusesNul(repo().get('bad\u0000name'));
  });
}

describeStorage('server secrets repository', serverSecretsRepoContract);
