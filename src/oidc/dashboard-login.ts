import type Provider from 'oidc-provider';
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
  if (hintNamesAnother(interaction.params['login_hint'], account.email)) return null;
  return {
    accountId: account.id,
    ts: Math.floor(authenticatedAt / 1000),
    // Sessions from before methods were recorded claim none, and no level.
    ...(methods.length ? { amr: methods, acr: acrOf(methods) } : {}),
  };
}

/** Whether a `login_hint` names an email other than the signed-in account's (a blank hint names no one). */
export function hintNamesAnother(hint: unknown, email: string): boolean {
  return typeof hint === 'string' && hint.trim() !== '' && hint.trim().toLowerCase() !== email;
}

/**
 * The sign-in a browser's dashboard session gives oidc-provider's session, when that one has none
 * of its own: who, when (the dashboard sign-in's time, so `max_age` and `auth_time` stay truthful)
 * and how. Null when the browser is not signed in to the dashboard.
 */
export function providerLoginFromDashboard(
  state: DashboardSession,
): { accountId: string; loginTs: number; amr?: string[]; acr?: string } | null {
  const { account, authenticatedAt = 0, sessionAmr = [] } = state;
  if (!account || !state.sessionId || authenticatedAt <= 0) return null;
  const methods = signInMethods(sessionAmr);
  return {
    accountId: account.id,
    loginTs: Math.floor(authenticatedAt / 1000),
    ...(methods.length ? { amr: methods, acr: acrOf(methods) } : {}),
  };
}

/**
 * One sign-in serves both, decided before the prompts are: at the authorization endpoint, a
 * provider session with no account takes the browser's dashboard session's sign-in. oidc-provider
 * then weighs `prompt`, `max_age`, `id_token_hint` and `login_hint` against a real session, so
 * `prompt=none` answers a code with no page for a person signed in to the dashboard (without this
 * it answered `login_required` until an interaction had run, since `prompt=none` never shows one).
 * Only the authorization route: the resume route takes its sign-in from the interaction's result.
 */
export function providerSessionsFromDashboard(provider: Provider): void {
  const Session = provider.Session as unknown as { get(ctx: unknown): Promise<ProviderSession> };
  const load = Session.get.bind(Session);
  Session.get = async (ctx) => {
    const session = await load(ctx);
    const { oidc, state } = ctx as { oidc?: { route?: string }; state?: DashboardSession };
    if (oidc?.route !== 'authorization' || session.accountId || !state) return session;
    const login = providerLoginFromDashboard(state);
    if (login) {
      session.loginAccount(login);
      // Saved (and its cookie set) when the request ends, like a session an interaction signed in.
      session.touched = true;
    }
    return session;
  };
}

/**
 * Whether the dashboard sign-in behind this request's provider session is older than the request's
 * `max_age`, to the millisecond: oidc-provider counts whole seconds, so a session 1.9 s old would
 * pass `max_age=1`. A sign-in the interaction has just handed back is never too old.
 */
export function dashboardSignInTooOld(ctx: unknown, now: number): boolean {
  const { oidc, state } = ctx as {
    oidc: { params?: Record<string, unknown>; session?: { accountId?: string }; result?: { login?: unknown } };
    state?: DashboardSession;
  };
  const maxAge = Number(oidc.params?.['max_age'] ?? Number.NaN);
  if (!Number.isFinite(maxAge) || oidc.result?.login) return false;
  const signedInAt = state?.authenticatedAt ?? 0;
  if (!state?.account || state.account.id !== oidc.session?.accountId || signedInAt <= 0) return false;
  return now - signedInAt > maxAge * 1000;
}

interface ProviderSession {
  accountId?: string;
  touched?: boolean;
  loginAccount(login: { accountId: string; loginTs: number; amr?: string[]; acr?: string }): void;
}
