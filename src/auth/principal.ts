import type { Principal } from '../domain/principal.ts';
import { invalidToken } from '../http/errors.ts';

/** The request's principal, after the authenticate step and requireCredential have run. */
export function principalOf(ctx: { state: { principal?: Principal } }): Principal {
  if (!ctx.state.principal) throw invalidToken(null);
  return ctx.state.principal;
}
