import type { LoginThrottle } from '../rate-limit/login-throttle.ts';
import type { Account, AccountsService } from './accounts.service.ts';

export type LoginResult =
  | { ok: true; account: Account }
  | { ok: false; status: 401 | 429; message: string };

/**
 * One sign-in attempt, as both login forms (dashboard and OAuth) make it: refused without checking
 * the password while the account or the address is backing off, and the same answers whether or
 * not the email has an account.
 */
export function createLogin(accounts: AccountsService, throttle: LoginThrottle) {
  return {
    async attempt(emailInput: unknown, password: unknown, ip: string): Promise<LoginResult> {
      const email = typeof emailInput === 'string' ? emailInput.trim().toLowerCase().slice(0, 254) : '';
      const wait = throttle.retryAfterMs(email, ip);
      if (wait > 0) {
        const seconds = Math.ceil(wait / 1000);
        return { ok: false, status: 429, message: `Too many sign-in attempts. Try again in ${seconds} second${seconds === 1 ? '' : 's'}.` };
      }
      const account = await accounts.authenticate(emailInput, password);
      if (!account) {
        throttle.failed(email, ip);
        return { ok: false, status: 401, message: 'Invalid email or password' };
      }
      throttle.succeeded(email);
      return { ok: true, account };
    },
  };
}
export type Login = ReturnType<typeof createLogin>;
