import type { ParameterizedContext } from 'koa';
import type { Logger } from 'pino';
import type { Account } from '../domain/account.ts';
import type { Principal } from '../domain/principal.ts';
import type { AppError } from './errors.ts';
import type { AnswerHead } from './answer-head.ts';

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
  /** SHA-256 of the uid of the provider session linked to the dashboard session (null: none). */
  sessionProviderLink?: string | null;
  /** How the dashboard session was authenticated (RFC 8176 `amr` values; empty: not recorded). */
  sessionAmr?: string[];
  /** CSRF token to embed in forms (see csrf.ts). */
  csrfToken?: string;
  /** The API caller (/v2, /oauth/applications), set by the authenticate step. */
  principal?: Principal;
  /** Why authentication failed, thrown by requireCredential after rate limiting. */
  authError?: AppError;
  /** The answer's head while it is gathered to be written in one step (/v2, /oauth; see answer-head.ts). */
  answerHead?: AnswerHead;
  /** A fresh nonce for this response's inline scripts and styles (see security-headers.ts). */
  cspNonce: string;
  /** The parameters of a request to a protocol endpoint (token, introspection, revocation), read once. */
  oauthParams?: OAuthParams;
  /** The client a protocol request names, and whether its secret matched (checked once per request). */
  presentedClient?: PresentedClient;
}

/** Form parameters as `querystring.parse` gives them: a repeated name has every value. */
export type OAuthParams = Record<string, string | string[] | undefined>;

/** The client credentials a protocol request presented (HTTP Basic, else the body). */
export interface PresentedClient {
  /** The client id ('' when none was given). */
  id: string;
  /** Whether the credentials came in an HTTP Basic header. */
  viaBasic: boolean;
  /** The secret presented, if any. */
  secret: string | null;
  /**
   * The stored secret hash it was compared with, and the answer; null when nothing was compared
   * (no secret presented, an unknown client, or one without a secret).
   */
  checked: { storedHash: string; matched: boolean } | null;
  /** The application's type, when the client exists. */
  type: string | null;
  /** The registered API a resource_server application belongs to (null: the built-in one, or another type). */
  api: string | null;
  /** A registered client that authenticates with no secret (PKCE protects its codes instead). */
  isPublic: boolean;
}

export type AppContext = ParameterizedContext<AppState>;
