/** A person's Latchkey account, as sign-in, the pages and the API see it (never its password hash). */
export interface Account {
  id: string;
  email: string;
  name: string | null;
  isAdmin: boolean;
  /** Reads the operators' console and the audit trail; changes nothing there. */
  isAuditor: boolean;
  /** Disabled by an admin: no sign-in, and every credential of it is refused. */
  disabled: boolean;
  createdAt: number;
  /** When the account's record last changed (name, email, password...), epoch ms. */
  updatedAt: number;
  /** Whether sign-in asks for a second factor (TOTP or a recovery code). */
  twoFactor: boolean;
  /** Completed sign-ins so far (the sign-in throttle starts afresh with each). */
  signInCount: number;
  /** Whether the current address was proven by a link sent to it. */
  emailVerified: boolean;
}

/** What every sign-in path answers a disabled account, once its password or passkey was shown right. */
export const ACCOUNT_DISABLED_MESSAGE = 'This account is disabled. Contact your administrator.';
