import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createCredentialEvents } from '../shared/credential-events.ts';
import { createAccountRights } from './account-rights.ts';

// What an account may hold now, as every credential check reads it: remembered for ttlMs on the
// clock the test moves, forgotten at once by an `account` credential event.
function setup(ttlMs = 5_000) {
  let t = Date.UTC(2026, 10, 27, 12, 0, 0);
  const accounts = new Map<string, { isAdmin: boolean }>([['usr_a', { isAdmin: true }]]);
  const reads: string[] = [];
  const events = createCredentialEvents();
  const rights = createAccountRights({
    findAccount: async (id) => {
      reads.push(id);
      const found = accounts.get(id);
      return found ? { ...found } : null;
    },
    events,
    ttlMs,
    now: () => t,
  });
  return { rights, accounts, reads, events, advance: (ms: number) => (t += ms) };
}

describe('account rights (in process, fake clock)', () => {
  it('reads the account once per ttl, then again', async () => {
    const { rights, reads, advance } = setup();
    assert.deepEqual(await rights.of('usr_a'), { isAdmin: true });
    advance(4_999);
    assert.deepEqual(await rights.of('usr_a'), { isAdmin: true });
    assert.deepEqual(reads, ['usr_a']);
    advance(1);
    await rights.of('usr_a');
    assert.deepEqual(reads, ['usr_a', 'usr_a']);
  });

  it('sees a demotion at once when its account event is published, without waiting for the ttl', async () => {
    const { rights, accounts, events } = setup(60_000);
    assert.equal((await rights.of('usr_a'))?.isAdmin, true);
    accounts.set('usr_a', { isAdmin: false });
    assert.equal((await rights.of('usr_a'))?.isAdmin, true, 'still remembered: nothing said it changed');
    events.publish({ kind: 'account', id: 'usr_a' });
    assert.equal((await rights.of('usr_a'))?.isAdmin, false);
  });

  it('forgets on an event relayed from another instance too, and only for the account it names', async () => {
    const { rights, reads, events } = setup(60_000);
    await rights.of('usr_a');
    await rights.of('usr_gone');
    events.receive({ kind: 'account', id: 'usr_gone' });
    events.receive({ kind: 'api_key', id: 'usr_a' });
    await rights.of('usr_a');
    await rights.of('usr_gone');
    assert.deepEqual(reads, ['usr_a', 'usr_gone', 'usr_gone']);
  });

  it('answers null for a missing account, and remembers that too', async () => {
    const { rights, reads, accounts, advance } = setup();
    assert.equal(await rights.of('usr_new'), null);
    accounts.set('usr_new', { isAdmin: false });
    assert.equal(await rights.of('usr_new'), null);
    advance(5_000);
    assert.deepEqual(await rights.of('usr_new'), { isAdmin: false });
    assert.deepEqual(reads, ['usr_new', 'usr_new']);
  });

  it('reads every time when the ttl is 0 (caching off)', async () => {
    const { rights, reads } = setup(0);
    await rights.of('usr_a');
    await rights.of('usr_a');
    assert.equal(reads.length, 2);
  });
});
