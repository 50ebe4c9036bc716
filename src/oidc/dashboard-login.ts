import type { Account } from '../domain/account.ts';
import { acrOf, signInMethods } from './claims.ts';

/** The browser's dashboard session as the pages read it from its cookie (see http/session.ts). */
export interface DashboardSession {
  account?: Account | null | undefined;
  sessionId?: string | undefined;
  /** When it last authenticated interactively (epoch ms; 0: never). */
  authenticatedAt?: number | undefined;
  /** How it was authenticated (RFC 8176 `amr` values; empty: not recorded). */
  sessionAmr?: string[] | undefined;
}

/** What of an interaction decides whether the browser's dashboard session may answer its sign-in. */
export interface LoginPrompt {
  prompt: { name: string; reasons: string[] };
  params: Record<string, unknown>;
  /** The result handed back for this interaction so far, if any. */
  lastSubmission?: { login?: unknown } | undefined;
}

/**
 * Why the provider asks for a sign-in that an existing dashboard session answers: it has no
 * session of its own (`no_session`), or the application set a `max_age` (checked against the
 * dashboard session's own sign-in time below). Anything else (`login_prompt` for `prompt=login`,
 * an `id_token_hint` or a requested `sub` that may name someone else, an ACR) needs the form.
 */
const ANSWERABLE_REASONS = new Set(['no_session', 'max_age']);

/**
 * The sign-in the browser's dashboard session completes this interaction with, or null when the
 * person must sign in on the form. The session is the one the cookie names after the same checks
 * every page makes (signed cookie, stored, unexpired, its account still there). The result
 * carries the session's own sign-in time (so `auth_time` and a later `max_age` stay truthful) and
 * the methods it really used (a second factor already passed is not asked for again, and never
 * claimed when it was not).
 */
export function loginFromDashboardSession(
  state: DashboardSession,
  interaction: LoginPrompt,
  now: number,
): { accountId: string; ts: number; amr?: string[]; acr?: string } | null {
  const { account, authenticatedAt = 0, sessionAmr = [] } = state;
  if (!account || !state.sessionId || authenticatedAt <= 0) return null;
  const methods = signInMethods(sessionAmr);
  if (interaction.prompt.name !== 'login') return null;
  // Handed back once already and the provider still asks: the session does not satisfy it.
  if (interaction.lastSubmission?.login) return null;
  if (!interaction.prompt.reasons.every((reason) => ANSWERABLE_REASONS.has(reason))) return null;
  const maxAge = Number(interaction.params['max_age'] ?? Number.NaN);
  if (Number.isFinite(maxAge) && now - authenticatedAt > maxAge * 1000) return null;
  // The application asks for a particular person: another one signed in here uses the form.
  const hint = interaction.params['login_hint'];
  if (typeof hint === 'string' && hint.trim() && hint.trim().toLowerCase() !== account.email) return null;
  return {
    accountId: account.id,
    ts: Math.floor(authenticatedAt / 1000),
    // Sessions from before methods were recorded claim none, and no level.
    ...(methods.length ? { amr: methods, acr: acrOf(methods) } : {}),
  };
}
