import type * as Server from '@simplewebauthn/server';
import type * as Helpers from '@simplewebauthn/server/helpers';

/** The parts of SimpleWebAuthn the passkeys service uses. */
export interface WebAuthn {
  generateAuthenticationOptions: typeof Server.generateAuthenticationOptions;
  generateRegistrationOptions: typeof Server.generateRegistrationOptions;
  verifyAuthenticationResponse: typeof Server.verifyAuthenticationResponse;
  verifyRegistrationResponse: typeof Server.verifyRegistrationResponse;
  decodeClientDataJSON: typeof Helpers.decodeClientDataJSON;
  isoBase64URL: typeof Helpers.isoBase64URL;
}

/**
 * SimpleWebAuthn, loaded with the first passkey ceremony rather than at start. With the ASN.1 and
 * X.509 packages it brings (attestation formats, certificate chains) it is about 1 MB of
 * JavaScript, 4–5 MB of heap once loaded, and most processes never use it: the CLI, and servers
 * whose traffic is API calls and token requests. Each caller keeps its own loader; a failed load
 * is tried again on the next call.
 */
export function lazyWebAuthn(): () => Promise<WebAuthn> {
  let loading: Promise<WebAuthn> | undefined;
  const load = async (): Promise<WebAuthn> => {
    const [server, helpers] = await Promise.all([
      import('@simplewebauthn/server'),
      import('@simplewebauthn/server/helpers'),
    ]);
    return {
      generateAuthenticationOptions: server.generateAuthenticationOptions,
      generateRegistrationOptions: server.generateRegistrationOptions,
      verifyAuthenticationResponse: server.verifyAuthenticationResponse,
      verifyRegistrationResponse: server.verifyRegistrationResponse,
      decodeClientDataJSON: helpers.decodeClientDataJSON,
      isoBase64URL: helpers.isoBase64URL,
    };
  };
  return () =>
    (loading ??= load().catch((err) => {
      loading = undefined;
      throw err;
    }));
}
