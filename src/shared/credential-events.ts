/**
 * "Something a credential cache may hold has changed": the one vocabulary every cache of checked
 * credentials listens to (API keys, applications and their secrets, OAuth tokens, JWT accounts).
 * Whoever changes a credential publishes; each cache subscribes and forgets what the event names.
 * Listeners run synchronously, so a revocation holds in this process before the request that made
 * it is answered. Several instances on one database attach a relay (`onPublish` out, `receive` in)
 * so that the others forget it too.
 */
export type CredentialEvent =
  /** An API key was revoked, rotated or changed. */
  | { kind: 'api_key'; id: string }
  /** An account was deleted or its rights changed: forget everything its credentials carry. */
  | { kind: 'account'; id: string }
  /** An application was registered, deleted, changed, or its secret rotated. */
  | { kind: 'application'; id: string }
  /** A token, grant or consent was revoked (caches of checked tokens are not indexed by grant). */
  | { kind: 'tokens' };

export type CredentialListener = (event: CredentialEvent) => void;

export interface CredentialEvents {
  /** Applies the event to this process's caches now, then hands it to the relay, if any. */
  publish(event: CredentialEvent): void;
  /** Hears every event, published here or received from another instance. */
  subscribe(listener: CredentialListener): void;
  /** An event that another instance published: applied here, not relayed again. */
  receive(event: CredentialEvent): void;
  /** Where published events go to reach other instances (set once, by the relay). */
  relayTo(send: CredentialListener): void;
}

export function createCredentialEvents(): CredentialEvents {
  const listeners: CredentialListener[] = [];
  let relay: CredentialListener | null = null;
  const apply = (event: CredentialEvent) => {
    for (const listener of listeners) listener(event);
  };
  return {
    publish(event) {
      apply(event);
      relay?.(event);
    },
    subscribe(listener) {
      listeners.push(listener);
    },
    receive: apply,
    relayTo(send) {
      relay = send;
    },
  };
}
