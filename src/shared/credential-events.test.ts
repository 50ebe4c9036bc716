import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createCredentialEvents, type CredentialEvent } from './credential-events.ts';

describe('credential events', () => {
  it('tells every listener of a published event at once, then hands it to the relay', () => {
    const events = createCredentialEvents();
    const heard: string[] = [];
    events.subscribe((e) => heard.push(`a:${e.kind}`));
    events.subscribe((e) => heard.push(`b:${e.kind}`));
    events.relayTo((e) => heard.push(`relay:${e.kind}`));
    events.publish({ kind: 'api_key', id: 'k1' });
    assert.deepEqual(heard, ['a:api_key', 'b:api_key', 'relay:api_key']);
  });

  it('applies an event received from another instance without relaying it back', () => {
    const events = createCredentialEvents();
    const heard: CredentialEvent[] = [];
    const relayed: CredentialEvent[] = [];
    events.subscribe((e) => heard.push(e));
    events.relayTo((e) => relayed.push(e));
    events.receive({ kind: 'account', id: 'usr_1' });
    assert.deepEqual(heard, [{ kind: 'account', id: 'usr_1' }]);
    assert.deepEqual(relayed, []);
  });
});
