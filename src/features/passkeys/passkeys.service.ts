import type {
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
} from '@simplewebauthn/server';
import { ACCOUNT_DISABLED_MESSAGE, type Account } from '../../domain/account.ts';
import { Conflict, Forbidden, NotFound, Unauthenticated, ValidationError } from '../../domain/errors.ts';
import type { AuditRecord, Provenance } from '../../domain/audit.ts';
import { signInFailed, signInSucceeded, type SignInFailure, type SignInTrail } from '../audit/sign-in-events.ts';
import { parseWire } from '../../wire/parse.ts';
import { passkeyNameSchema, type AuthenticationResponse, type RegistrationResponse } from '../../wire/passkeys.ts';
import { newId, sha256 } from '../../shared/secrets.ts';
import { isUniqueViolation } from '../../db/unique-violation.ts';
import type { PasskeyRow, PasskeysRepo } from './passkeys.repo.ts';
import { lazyWebAuthn, type WebAuthn } from './webauthn.ts';

/**
 * How a passkey sign-in is recorded (RFC 8176 `hwk`: proof of possession of a hardware-secured key),
 * in the session and the audit trail alike.
 */
export const PASSKEY_SIGN_IN_AMR: ['hwk'] = ['hwk'];

/** How long a ceremony's challenge may be answered: the browser's prompt is given the same time. */
export const CHALLENGE_TTL_MS = 5 * 60_000;

type Purpose = 'register' | 'authenticate';

/** Who the passkeys are for: the relying party's id (a hostname) and the origin the browser must be on. */
export interface RelyingParty {
  id: string;
  origin: string;
  name: string;
}

/** The relying party of a server whose public address is `issuer`: its hostname and its origin. */
export const relyingPartyOf = (issuer: string): RelyingParty => {
  const url = new URL(issuer);
  return { id: url.hostname, origin: url.origin, name: 'Latchkey' };
};

/** A passkey as Settings → Security lists it (never its key). */
export interface PasskeySummary {
  id: string;
  name: string;
  createdAt: number;
  lastUsedAt: number | null;
  /** Synced to other devices by its provider (a password manager, an OS account). */
  backedUp: boolean;
}

const summary = (row: PasskeyRow): PasskeySummary => ({
  id: row.id,
  name: row.name,
  createdAt: row.created_at,
  lastUsedAt: row.last_used_at,
  backedUp: row.backed_up === 1,
});

const transportsOf = (row: PasskeyRow): string[] | undefined =>
  row.transports ? (JSON.parse(row.transports) as string[]) : undefined;

/** The WebAuthn user handle of an account: its id's bytes (random, and no personal data). */
const userHandleOf = (accountId: string) => new TextEncoder().encode(accountId);

/** The challenge a browser's answer claims to answer (read from its client data; checked by the verification). */
function answeredChallenge(webauthn: WebAuthn, clientDataJSON: string): string | null {
  try {
    const challenge = webauthn.decodeClientDataJSON(clientDataJSON).challenge;
    return typeof challenge === 'string' ? challenge : null;
  } catch {
    return null;
  }
}

const EXPIRED = 'This passkey request has expired or was already used. Try again.';
const NOT_VERIFIED =
  'The passkey could not be verified. Try again, with a passkey that asks for your PIN or biometrics.';

/**
 * Passkeys (WebAuthn): registering one for the signed-in account, signing in with one, listing,
 * renaming and removing them. Every ceremony's challenge is stored, bound to the browser that asked
 * (`browser`: an opaque value of that browser, the SHA-256 of its CSRF token), answered at most once
 * and within CHALLENGE_TTL_MS. User verification (PIN or biometrics) is required, so a passkey
 * sign-in is two factors at once and phishing-resistant (bound to this origin).
 */
export function createPasskeysService(deps: {
  repo: PasskeysRepo;
  rp: RelyingParty;
  now(): number;
  findAccount(id: string): Promise<Account | null>;
  /** A sign-in completed (written with `records`): its sign-in throttle starts afresh, as after a password. */
  recordSignIn(accountId: string, records: AuditRecord[]): Promise<void>;
  /** Records passkeys added and removed (with the change) and passkey sign-ins, refused or not. */
  trail: SignInTrail;
  /** Tells the account's owner a passkey was added or removed (the security notices; never throws). */
  notify(accountId: string, event: { kind: 'passkey_added' | 'passkey_removed'; name: string }): Promise<void>;
  /** Hears each passkey sign-in's outcome (the sign-in metrics). */
  onSignIn?(result: 'success' | 'failure'): void;
}) {
  const { repo, rp, now } = deps;
  const { audit } = deps.trail;
  const webauthn = lazyWebAuthn();

  /** A refused passkey sign-in, recorded; thrown as Unauthenticated (or Forbidden: a disabled account). */
  async function refuse(account: Account | null, reason: SignInFailure, by: Provenance): Promise<never> {
    await deps.trail.append([signInFailed(audit, by, account, 'passkey', reason)]);
    throw reason === 'account_disabled' ? new Forbidden(ACCOUNT_DISABLED_MESSAGE) : new Unauthenticated();
  }

  async function issueChallenge(challenge: string, purpose: Purpose, userId: string | null, browser: string) {
    await repo.insertChallenge({
      challenge_hash: sha256(challenge),
      purpose,
      user_id: userId,
      browser_hash: sha256(browser),
      expires_at: now() + CHALLENGE_TTL_MS,
    });
  }

  /** The stored challenge this answer is for, taken (never usable again); null when there is none to take. */
  async function takeChallenge(clientDataJSON: string, purpose: Purpose, browser: string) {
    const challenge = answeredChallenge(await webauthn(), clientDataJSON);
    if (!challenge) return null;
    const row = await repo.takeChallenge(sha256(challenge), purpose, sha256(browser), now());
    return row ? { challenge, userId: row.user_id } : null;
  }

  /**
   * signIn's checks, in order; see there. An answer with no challenge of this browser to answer is
   * refused unrecorded: it is not an attempt at any account, and the challenges are what the options
   * limit counts, so recording those would let anyone flood the trail. Every answer to a live
   * challenge is recorded, refused or not.
   */
  async function verifiedSignIn(response: AuthenticationResponse, browser: string, by: Provenance): Promise<Account> {
    const taken = await takeChallenge(response.response.clientDataJSON, 'authenticate', browser);
    if (!taken) throw new Unauthenticated();
    const passkey = await repo.findByCredentialId(response.id);
    if (!passkey) return refuse(null, 'unknown_passkey', by);
    const owner = await deps.findAccount(passkey.user_id);
    if (!owner) return refuse(null, 'unknown_passkey', by);
    const { isoBase64URL, verifyAuthenticationResponse } = await webauthn();
    const handle = response.response.userHandle;
    if (handle !== undefined && handle !== isoBase64URL.fromBuffer(userHandleOf(passkey.user_id))) {
      return refuse(owner, 'wrong_passkey', by);
    }
    const verification = await verifyAuthenticationResponse({
      response,
      expectedChallenge: taken.challenge,
      expectedOrigin: rp.origin,
      expectedRPID: rp.id,
      credential: {
        id: passkey.credential_id,
        publicKey: isoBase64URL.toBuffer(passkey.public_key),
        counter: Number(passkey.counter),
        transports: transportsOf(passkey),
      },
      requireUserVerification: true,
    }).catch(() => null);
    if (!verification?.verified) return refuse(owner, 'wrong_passkey', by);
    // Checked once the passkey is shown right: only its holder learns the account is disabled.
    if (owner.disabled) return refuse(owner, 'account_disabled', by);
    const account = owner;
    const { newCounter, credentialBackedUp, credentialDeviceType } = verification.authenticationInfo;
    await repo.recordUse(passkey.id, {
      counter: newCounter,
      backedUp: credentialBackedUp,
      deviceType: credentialDeviceType,
      at: now(),
    });
    await deps.recordSignIn(account.id, [
      signInSucceeded(audit, by, account, 'passkey', PASSKEY_SIGN_IN_AMR, { passkey: passkey.id }),
    ]);
    return account;
  }

  return {
    /** Options for `navigator.credentials.create()`; the account's passkeys are excluded (no duplicates). */
    async registrationOptions(account: Account, browser: string): Promise<PublicKeyCredentialCreationOptionsJSON> {
      const existing = await repo.listOf(account.id);
      const options = await (await webauthn()).generateRegistrationOptions({
        rpName: rp.name,
        rpID: rp.id,
        userName: account.email,
        userDisplayName: account.name ?? account.email,
        userID: userHandleOf(account.id),
        attestationType: 'none',
        excludeCredentials: existing.map((p) => ({ id: p.credential_id, transports: transportsOf(p) })),
        // Discoverable (signing in needs no email first) and always with user verification.
        authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
        timeout: CHALLENGE_TTL_MS,
      });
      await issueChallenge(options.challenge, 'register', account.id, browser);
      return options;
    },

    /** Verifies the browser's answer and stores the new passkey under `name`. */
    async register(
      account: Account,
      input: { name: string; response: RegistrationResponse },
      browser: string,
      by: Provenance,
    ): Promise<PasskeySummary> {
      const name = parseWire(passkeyNameSchema, input.name);
      const taken = await takeChallenge(input.response.response.clientDataJSON, 'register', browser);
      if (!taken || taken.userId !== account.id) throw new ValidationError(EXPIRED);
      const { isoBase64URL, verifyRegistrationResponse } = await webauthn();
      const verification = await verifyRegistrationResponse({
        response: input.response,
        expectedChallenge: taken.challenge,
        expectedOrigin: rp.origin,
        expectedRPID: rp.id,
        requireUserVerification: true,
      }).catch(() => null);
      if (!verification?.verified) throw new ValidationError(NOT_VERIFIED);
      const { credential, credentialDeviceType, credentialBackedUp } = verification.registrationInfo;
      const row: PasskeyRow = {
        id: newId('pk'),
        user_id: account.id,
        credential_id: credential.id,
        public_key: isoBase64URL.fromBuffer(credential.publicKey),
        counter: credential.counter,
        transports: credential.transports?.length ? JSON.stringify(credential.transports) : null,
        device_type: credentialDeviceType,
        backed_up: credentialBackedUp ? 1 : 0,
        name,
        created_at: now(),
        last_used_at: null,
      };
      try {
        await repo.insert(row, [
          audit.event(
            'passkey.added',
            {
              account: account.id,
              target: { type: 'passkey', id: row.id },
              data: { name, device_type: credentialDeviceType },
            },
            by,
          ),
        ]);
      } catch (err) {
        if (isUniqueViolation(err)) {
          throw new Conflict('This passkey is registered already.');
        }
        throw err;
      }
      await deps.notify(account.id, { kind: 'passkey_added', name });
      return summary(row);
    },

    /** Options for `navigator.credentials.get()`: any passkey of this site (the passkey names its account). */
    async authenticationOptions(browser: string): Promise<PublicKeyCredentialRequestOptionsJSON> {
      const options = await (await webauthn()).generateAuthenticationOptions({
        rpID: rp.id,
        userVerification: 'required',
        timeout: CHALLENGE_TTL_MS,
      });
      await issueChallenge(options.challenge, 'authenticate', null, browser);
      return options;
    },

    /**
     * The account a browser's passkey answer signs in, or Unauthenticated: no challenge of this
     * browser to answer (expired, used, never issued), an unknown passkey, a user handle that is not
     * the passkey's account, a signature or origin that does not verify, a counter that went back.
     */
    async signIn(response: AuthenticationResponse, browser: string, by: Provenance): Promise<Account> {
      try {
        const account = await verifiedSignIn(response, browser, by);
        deps.onSignIn?.('success');
        return account;
      } catch (err) {
        if (err instanceof Unauthenticated || err instanceof Forbidden) deps.onSignIn?.('failure');
        throw err;
      }
    },

    async list(accountId: string): Promise<PasskeySummary[]> {
      return (await repo.listOf(accountId)).map(summary);
    },

    /** Removes one of the account's passkeys; any other id is NotFound (and nothing is removed). */
    async remove(account: Account, id: string, by: Provenance): Promise<void> {
      const removed = await repo.deleteOf(account.id, id, (row) => [
        audit.event(
          'passkey.removed',
          {
            account: account.id,
            target: { type: 'passkey', id: row.id },
            data: { name: row.name },
          },
          by,
        ),
      ]);
      if (!removed) throw new NotFound('Passkey');
      await deps.notify(account.id, { kind: 'passkey_removed', name: removed.name });
    },

    /** Housekeeping: challenges nobody answered in time. */
    async pruneChallenges(): Promise<void> {
      await repo.deleteExpiredChallenges(now());
    },
  };
}
export type PasskeysService = ReturnType<typeof createPasskeysService>;
