import type { LoginThrottle } from '../rate-limit/login-throttle.ts';
import { ValidationError } from '../../domain/errors.ts';
import type { Account } from '../../domain/account.ts';
import type { AccountsService } from './accounts.service.ts';
import type { TwoFactorService } from './two-factor.service.ts';

export type LoginResult =
  | { ok: true; account: Account; secondFactor: boolean }
  | { ok: false; status: 401 | 429; message: string };

/** The first code of a TOTP enrollment: the recovery codes, or why not (the enrollment stays pending). */
export type EnrollmentResult = { ok: true; codes: string[] } | { ok: false; status: 400 | 429; message: string };

function throttled(waitMs: number, what = 'sign-in attempts'): { ok: false; status: 429; message: string } {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  return {
    ok: false,
    status: 429,
    message: `Too many ${what}. Try again in ${seconds} second${seconds === 1 ? '' : 's'}.`,
  };
}

const normaliseEmail = (input: unknown) => (typeof input === 'string' ? input.trim().toLowerCase().slice(0, 254) : '');

/** Throttle keys: the password's by email (known or not), the code's by account; both start afresh after a sign-in. */
const passwordKey = (email: string, account: Account | null) => `pwd:${email}:${account?.signInCount ?? 0}`;
const codeKey = (account: Account) => `code:${account.id}:${account.signInCount}`;

/**
 * Every check of a password or a code, as the login forms (dashboard and OAuth), the second
 * factor, the re-confirmation page and Settings make them: each attempt is counted before it is
 * checked (see login-throttle.ts), and the answers are the same whether or not the email has an
 * account. A completed sign-in is recorded, which starts the account's counts afresh.
 */
export function createLogin(
  accounts: AccountsService,
  twoFactor: TwoFactorService,
  throttle: LoginThrottle,
  /** Hears each outcome (metrics): a sign-in with a second factor succeeds when that step does. */
  onOutcome: (result: 'success' | 'failure' | 'throttled') => void = () => {},
) {
  type Report = typeof onOutcome;
  /** Re-checks of a signed-in account are not sign-ins: they stay out of the sign-in metrics. */
  const unreported: Report = () => {};

  async function checkPassword(email: string, password: unknown, ip: string, report: Report): Promise<LoginResult> {
    const candidate = await accounts.signInCandidate(email);
    const admission = await throttle.admit(passwordKey(email, candidate.account), ip);
    if (!admission.allowed) {
      report('throttled');
      return throttled(admission.retryAfterMs);
    }
    // Whatever was sent: anything but text is a wrong password, at the same cost.
    const presented = typeof password === 'string' ? password : '';
    const account = (await candidate.passwordMatches(presented)) ? candidate.account : null;
    if (!account) {
      report('failure');
      return { ok: false, status: 401, message: 'Invalid email or password' };
    }
    return { ok: true, account, secondFactor: account.twoFactor };
  }

  async function checkCode(account: Account, code: unknown, ip: string, report: Report): Promise<LoginResult> {
    const admission = await throttle.admit(codeKey(account), ip);
    if (!admission.allowed) {
      report('throttled');
      return throttled(admission.retryAfterMs);
    }
    if (typeof code !== 'string' || !(await twoFactor.verify(account.id, code.slice(0, 64)))) {
      report('failure');
      return { ok: false, status: 401, message: 'That code is not valid' };
    }
    return { ok: true, account, secondFactor: false };
  }

  return {
    async attempt(emailInput: unknown, password: unknown, ip: string): Promise<LoginResult> {
      const email = normaliseEmail(emailInput);
      const result = await checkPassword(email, password, ip, onOutcome);
      if (result.ok && !result.secondFactor) {
        await accounts.recordSignIn(result.account.id);
        onOutcome('success');
      }
      return result;
    },

    /** A TOTP or recovery code for an account whose password was just accepted. */
    async attemptSecondFactor(userId: string, code: unknown, ip: string): Promise<LoginResult> {
      const account = await accounts.findById(userId);
      if (!account) return { ok: false, status: 401, message: 'That code is not valid' };
      const result = await checkCode(account, code, ip, onOutcome);
      if (result.ok) {
        await accounts.recordSignIn(account.id);
        onOutcome('success');
      }
      return result;
    },

    /** The signed-in account's password again (Settings, re-confirmation): throttled like sign-in. */
    async recheckPassword(account: Account, password: unknown, ip: string): Promise<LoginResult> {
      return checkPassword(account.email, password, ip, unreported);
    },

    /**
     * The first code of a TOTP enrollment, counted with the account's other code checks: a wrong
     * code leaves the pending secret in place to try again, and guesses stop at the same allowance
     * (3 a minute, 10 an hour) as at sign-in.
     */
    async confirmEnrollment(account: Account, code: unknown, ip: string): Promise<EnrollmentResult> {
      const admission = await throttle.admit(codeKey(account), ip);
      if (!admission.allowed) return throttled(admission.retryAfterMs, 'codes tried');
      try {
        return {
          ok: true,
          codes: await twoFactor.confirm(account.id, typeof code === 'string' ? code.slice(0, 64) : ''),
        };
      } catch (err) {
        if (err instanceof ValidationError) return { ok: false, status: 400, message: err.message };
        throw err;
      }
    },

    /** A current code of the signed-in account (re-confirmation, turning 2FA off): throttled like sign-in. */
    async recheckCode(account: Account, code: unknown, ip: string): Promise<LoginResult> {
      return checkCode(account, code, ip, unreported);
    },
  };
}
export type Login = ReturnType<typeof createLogin>;
