/**
 * A software WebAuthn authenticator for HTTP-level tests: it makes real P-256 key pairs and answers
 * `navigator.credentials.create()` / `get()` options exactly as a platform authenticator with `none`
 * attestation does (authenticator data, CBOR attestation object, client data JSON, a DER ECDSA
 * signature over authenticatorData ‖ SHA-256(clientDataJSON)). Nothing of Latchkey is imported:
 * the server verifies these with @simplewebauthn/server like any browser's answer, so a test can
 * replay, reroute or tamper with a genuine answer. Browser journeys use Chromium's virtual
 * authenticator instead (e2e/passkeys.test.ts).
 */
import crypto from 'node:crypto';
import { isoBase64URL, isoCBOR } from '@simplewebauthn/server/helpers';
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';

const FLAG_UP = 0x01;
const FLAG_UV = 0x04;
const FLAG_AT = 0x40;

export interface SoftCredential {
  id: string;
  rpId: string;
  /** The account's user handle (base64url), as the registration options gave it. */
  userHandle: string;
  privateKey: crypto.KeyObject;
  counter: number;
}

/** What a test may change about one answer (a user who skips verification, a phishing origin...). */
export interface AnswerOptions {
  userVerified?: boolean;
  origin?: string;
  /** The user handle to claim (get only); default the credential's own. */
  userHandle?: string;
  /** The counter to report (get only); default one more than last time. */
  counter?: number;
}

const sha256 = (data: Uint8Array | string) => new Uint8Array(crypto.createHash('sha256').update(data).digest());
const concat = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return new Uint8Array(b);
};
const b64u = (bytes: Uint8Array) => isoBase64URL.fromBuffer(bytes as never);
const clientData = (type: string, challenge: string, origin: string) =>
  new TextEncoder().encode(JSON.stringify({ type, challenge, origin, crossOrigin: false }));

export class SoftAuthenticator {
  readonly credentials: SoftCredential[] = [];
  constructor(readonly origin: string) {}

  /** A new passkey for the options' relying party and user. */
  create(options: PublicKeyCredentialCreationOptionsJSON, opts: AnswerOptions = {}): RegistrationResponseJSON {
    const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    const cose = isoCBOR.encode(
      new Map<number, number | Uint8Array>([
        [1, 2], // kty: EC2
        [3, -7], // alg: ES256
        [-1, 1], // crv: P-256
        [-2, isoBase64URL.toBuffer(jwk.x!)],
        [-3, isoBase64URL.toBuffer(jwk.y!)],
      ]),
    );
    const credentialId = new Uint8Array(crypto.randomBytes(32));
    const idLength = new Uint8Array([credentialId.length >> 8, credentialId.length & 0xff]);
    const rpId = options.rp.id!;
    const flags = FLAG_UP | FLAG_AT | (opts.userVerified === false ? 0 : FLAG_UV);
    const authData = concat(
      sha256(rpId),
      new Uint8Array([flags]),
      u32(0),
      new Uint8Array(16),
      idLength,
      credentialId,
      cose,
    );
    const attestationObject = isoCBOR.encode(
      new Map<string, string | Map<string, string> | Uint8Array>([
        ['fmt', 'none'],
        ['attStmt', new Map<string, string>()],
        ['authData', authData],
      ]),
    );
    const id = b64u(credentialId);
    this.credentials.push({ id, rpId, userHandle: options.user.id, privateKey, counter: 0 });
    return {
      id,
      rawId: id,
      type: 'public-key',
      response: {
        clientDataJSON: b64u(clientData('webauthn.create', options.challenge, opts.origin ?? this.origin)),
        attestationObject: b64u(attestationObject),
        transports: ['internal'],
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    };
  }

  /** An assertion by `credential` (default: the last one made) for the options' challenge. */
  get(
    options: PublicKeyCredentialRequestOptionsJSON,
    credential: SoftCredential = this.credentials.at(-1)!,
    opts: AnswerOptions = {},
  ): AuthenticationResponseJSON {
    credential.counter = opts.counter ?? credential.counter + 1;
    const flags = FLAG_UP | (opts.userVerified === false ? 0 : FLAG_UV);
    const authData = concat(sha256(options.rpId ?? credential.rpId), new Uint8Array([flags]), u32(credential.counter));
    const clientDataJSON = clientData('webauthn.get', options.challenge, opts.origin ?? this.origin);
    const signature = crypto.sign('sha256', concat(authData, sha256(clientDataJSON)), credential.privateKey);
    return {
      id: credential.id,
      rawId: credential.id,
      type: 'public-key',
      response: {
        clientDataJSON: b64u(clientDataJSON),
        authenticatorData: b64u(authData),
        signature: b64u(new Uint8Array(signature)),
        userHandle: opts.userHandle ?? credential.userHandle,
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    };
  }
}
