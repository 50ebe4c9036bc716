import type { LoginThrottle } from '../rate-limit/login-throttle.ts';
import type { Account, AccountsService } from './accounts.service.ts';
import type { TwoFactorService } from './two-factor.service.ts';

export type LoginResult =
  | { ok: true; account: Account; secondFactor: boolean }
  | { ok: false; status: 401 | 429; message: string };

function throttled(wait: number): LoginResult {
  const seconds = Math.ceil(wait / 1000);
  return { ok: false, status: 429, message: `Too many sign-in attempts. Try again in ${seconds} second${seconds === 1 ? '' : 's'}.` };
}

/**
 * Sign-in attempts, as both login forms (dashboard and OAuth) make them: refused without checking
 * anything while the account or the address is backing off, and the same answers whether or not
 * the email has an account. The second factor backs off on its own key, per account.
 */
export function createLogin(
  accounts: AccountsService,
  twoFactor: TwoFactorService,
  throttle: LoginThrottle,
  /** Hears each outcome (metrics): a sign-in with a second factor succeeds when that step does. */
  onOutcome: (result: 'success' | 'failure' | 'throttled') => void = () => {},
) {
  return {
    async attempt(emailInput: unknown, password: unknown, ip: string): Promise<LoginResult> {
      const email = typeof emailInput === 'string' ? emailInput.trim().toLowerCase().slice(0, 254) : '';
      const wait = throttle.retryAfterMs(email, ip);
      if (wait > 0) {
        onOutcome('throttled');
        return throttled(wait);
      }
      const account = await accounts.authenticate(emailInput, password);
      if (!account) {
        throttle.failed(email, ip);
        onOutcome('failure');
        return { ok: false, status: 401, message: 'Invalid email or password' };
      }
      throttle.succeeded(email);
      if (!account.twoFactor) onOutcome('success');
      return { ok: true, account, secondFactor: account.twoFactor };
    },

    /** A TOTP or recovery code for an account whose password was just accepted. */
    async attemptSecondFactor(userId: string, code: unknown, ip: string): Promise<LoginResult> {
      const key = `2fa:${userId}`;
      const wait = throttle.retryAfterMs(key, ip);
      if (wait > 0) {
        onOutcome('throttled');
        return throttled(wait);
      }
      const account = await accounts.findById(userId);
      if (!account || typeof code !== 'string' || !(await twoFactor.verify(userId, code.slice(0, 64)))) {
        throttle.failed(key, ip);
        onOutcome('failure');
        return { ok: false, status: 401, message: 'That code is not valid' };
      }
      throttle.succeeded(key);
      onOutcome('success');
      return { ok: true, account, secondFactor: false };
    },
  };
}
export type Login = ReturnType<typeof createLogin>;
