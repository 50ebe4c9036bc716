import type { KoaContextWithOIDC } from 'oidc-provider';

/** Why the code form is shown again (oidc-provider's re-render errors, named for the page). */
export type DeviceCodeProblem = 'wrong' | 'expired' | 'used' | 'denied' | 'form-expired' | 'failed';

/**
 * The device flow's pages at /device, as oidc-provider reaches them. Each form posts `xsrf` (the
 * secret oidc-provider keeps in its session and checks in constant time) back to `action`.
 *
 * - enter:   "Enter the code shown on your device" (pre-filled from verification_uri_complete, or
 *            with what was typed and why it was not accepted);
 * - confirm: "Is this the code on your device? <application> will be allowed ..." (then the consent);
 * - done:    "You can return to your device".
 */
export type DevicePage =
  | { kind: 'enter'; action: string; xsrf: string; userCode: string; problem: DeviceCodeProblem | null }
  | { kind: 'confirm'; action: string; xsrf: string; userCode: string; clientName: string }
  | { kind: 'done'; clientName: string };

/** A user code arriving in verification_uri_complete, kept by the /device app for the form (apps/device.ts). */
export interface DeviceLinkState {
  userCodeFromLink?: string;
}

/** oidc-provider's names for the ways a typed code is refused. */
const PROBLEMS: Record<string, DeviceCodeProblem> = {
  NoCodeError: 'wrong',
  NotFoundError: 'wrong',
  ExpiredError: 'expired',
  AlreadyUsedError: 'used',
  AbortedError: 'denied',
};

/** The form secret oidc-provider checks (`lib/shared/xsrf.js`), or the 'xsrf' it reports missing. */
const FORM_SECRET_REFUSALS = new Set(['xsrf token invalid', 'could not find device form details']);

export function problemOf(err: unknown): DeviceCodeProblem | null {
  if (!err) return null;
  const { name, error_description: description } = err as { name?: string; error_description?: string };
  if (name && PROBLEMS[name]) return PROBLEMS[name];
  return description && FORM_SECRET_REFUSALS.has(description) ? 'form-expired' : 'failed';
}

const secretOf = (ctx: KoaContextWithOIDC) => String(ctx.oidc.session?.state?.['secret'] ?? '');
const nameOf = (client: { clientName?: unknown; clientId: string } | undefined) =>
  typeof client?.clientName === 'string' ? client.clientName : (client?.clientId ?? '');

/**
 * oidc-provider's `features.deviceFlow` page hooks, each turned into one of our pages. The forms
 * oidc-provider builds are not used (they carry inline event handlers our CSP refuses); ours post
 * the same fields.
 */
export function deviceFlowPages(render: (ctx: KoaContextWithOIDC, page: DevicePage) => Promise<void>) {
  return {
    userCodeInputSource: async (ctx: KoaContextWithOIDC, _form: string, _out?: unknown, err?: unknown) => {
      const typed = (err as { userCode?: unknown } | undefined)?.userCode;
      const fromLink = (ctx.state as DeviceLinkState).userCodeFromLink;
      const problem = problemOf(err);
      await render(ctx, {
        kind: 'enter',
        action: ctx.oidc.urlFor('code_verification'),
        xsrf: secretOf(ctx),
        userCode: typeof typed === 'string' ? typed : (fromLink ?? ''),
        problem,
      });
      // A refused code is a refused request (oidc-provider answers its re-render errors with 200).
      if (problem && problem !== 'denied' && ctx.status === 200) ctx.status = 400;
    },
    userCodeConfirmSource: async (
      ctx: KoaContextWithOIDC,
      _form: string,
      client: { clientName?: unknown; clientId: string },
      _deviceInfo: unknown,
      userCode: string,
    ) => {
      await render(ctx, {
        kind: 'confirm',
        action: ctx.oidc.urlFor('code_verification'),
        xsrf: secretOf(ctx),
        userCode,
        clientName: nameOf(client),
      });
    },
    successSource: async (ctx: KoaContextWithOIDC) => {
      await render(ctx, { kind: 'done', clientName: nameOf(ctx.oidc.client) });
    },
  };
}
