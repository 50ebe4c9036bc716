import type { ParameterizedContext } from 'koa';
import type { Logger } from 'pino';
import type { Account } from '../domain/account.ts';
import type { Principal } from '../domain/principal.ts';
import type { AppError } from './errors.ts';

/** What middleware puts on `ctx.state` for the handlers after it. */
export interface AppState {
  requestId: string;
  log: Logger;
  /** The dashboard session's account, when the browser is signed in. */
  account?: Account | null;
  /** The raw dashboard session id (from the cookie), when present. */
  sessionId?: string;
  /** When the dashboard session last authenticated interactively (epoch ms; 0: never): sudo mode. */
  authenticatedAt?: number;
  /** CSRF token to embed in forms (see csrf.ts). */
  csrfToken?: string;
  /** The API caller (/v2, /oauth/applications), set by the authenticate step. */
  principal?: Principal;
  /** Why authentication failed, thrown by requireCredential after rate limiting. */
  authError?: AppError;
  /** A fresh nonce for this response's inline scripts and styles (see security-headers.ts). */
  cspNonce: string;
}

export type AppContext = ParameterizedContext<AppState>;
