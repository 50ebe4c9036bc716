import type { LoginThrottle } from '../rate-limit/login-throttle.ts';
import { ValidationError } from '../../domain/errors.ts';
import { ACCOUNT_DISABLED_MESSAGE, type Account } from '../../domain/account.ts';
import type { AccountsService } from './accounts.service.ts';
import { codeMethodOf, type SecondFactorMethod, type TwoFactorService } from './two-factor.service.ts';
import type { AuditRecord, Provenance } from '../../domain/audit.ts';
import { accountActor } from '../audit/actors.ts';
import { MAX_TYPED_EMAIL, signInFailed, signInSucceeded, type SignInTrail } from '../audit/sign-in-events.ts';

export type LoginResult =
  | { ok: true; account: Account; secondFactor: boolean }
  | { ok: false; status: 401 | 403 | 429; message: string };

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
  /**
   * Where each sign-in's outcome is recorded. A throttled attempt (429) is not: it checked nothing,
   * and recording it would let anyone flood the trail at the rate they can send requests.
   */
  trail: SignInTrail,
  /** Hears each outcome (metrics): a sign-in with a second factor succeeds when that step does. */
  onOutcome: (result: 'success' | 'failure' | 'throttled') => void = () => {},
) {
  const { audit } = trail;
  type Report = typeof onOutcome;
  const secondFactorEvent = (
    type: 'second_factor.succeeded' | 'second_factor.failed',
    account: Account,
    method: SecondFactorMethod,
    by: Provenance,
  ) =>
    audit.event(
      type,
      {
        account: account.id,
        target: { type: 'account', id: account.id },
        actor: accountActor(account),
        data: { method },
      },
      by,
    );
  /** Re-checks of a signed-in account are not sign-ins: they stay out of the sign-in metrics. */
  const unreported: Report = () => {};

  /** The answer, and the account the email named (null: none), for the trail to say which failure it was. */
  async function checkPassword(
    email: string,
    password: unknown,
    ip: string,
    report: Report,
  ): Promise<{ result: LoginResult; named: Account | null }> {
    const candidate = await accounts.signInCandidate(email);
    const named = candidate.account;
    const admission = await throttle.admit(passwordKey(email, named), ip);
    if (!admission.allowed) {
      report('throttled');
      return { result: throttled(admission.retryAfterMs), named };
    }
    // Whatever was sent: anything but text is a wrong password, at the same cost.
    const presented = typeof password === 'string' ? password : '';
    const account = (await candidate.passwordMatches(presented)) ? named : null;
    if (!account) {
      report('failure');
      return { result: { ok: false, status: 401, message: 'Invalid email or password' }, named };
    }
    return { result: { ok: true, account, secondFactor: account.twoFactor }, named };
  }

  /** The answer, and which kind of code was presented (for the trail). */
  async function checkCode(
    account: Account,
    code: unknown,
    ip: string,
    report: Report,
  ): Promise<{ result: LoginResult; method: SecondFactorMethod }> {
    const presented = typeof code === 'string' ? code.slice(0, 64) : '';
    const admission = await throttle.admit(codeKey(account), ip);
    if (!admission.allowed) {
      report('throttled');
      return { result: throttled(admission.retryAfterMs), method: codeMethodOf(presented) };
    }
    const method = typeof code === 'string' ? await twoFactor.verify(account.id, presented) : null;
    if (!method) {
      report('failure');
      return { result: { ok: false, status: 401, message: 'That code is not valid' }, method: codeMethodOf(presented) };
    }
    return { result: { ok: true, account, secondFactor: false }, method };
  }

  /**
   * A disabled account is refused once its password (or code) was shown to be right, not before:
   * only someone who could otherwise sign in learns that the account is disabled, and the trail
   * shows that the credential was right, which an operator wants to know.
   */
  async function refuseDisabled(account: Account, records: AuditRecord[], by: Provenance): Promise<LoginResult> {
    await trail.append([...records, signInFailed(audit, by, account, 'password', 'account_disabled')]);
    onOutcome('failure');
    return { ok: false, status: 403, message: ACCOUNT_DISABLED_MESSAGE };
  }

  return {
    async attempt(emailInput: unknown, password: unknown, ip: string, by: Provenance): Promise<LoginResult> {
      const email = normaliseEmail(emailInput);
      const { result, named } = await checkPassword(email, password, ip, onOutcome);
      if (!result.ok) {
        if (result.status === 429) return result;
        const typed = typeof emailInput === 'string' ? emailInput.slice(0, MAX_TYPED_EMAIL) : '';
        await trail.append([
          named
            ? signInFailed(audit, by, named, 'password', 'wrong_password')
            : signInFailed(audit, by, null, 'password', 'unknown_account', { email: typed }),
        ]);
        return result;
      }
      if (result.account.disabled) return refuseDisabled(result.account, [], by);
      // With a second factor on, the sign-in is recorded (either way) by the code step.
      if (!result.secondFactor) {
        await accounts.recordSignIn(result.account.id, [
          signInSucceeded(audit, by, result.account, 'password', ['pwd']),
        ]);
        onOutcome('success');
      }
      return result;
    },

    /** A TOTP or recovery code for an account whose password was just accepted. */
    async attemptSecondFactor(userId: string, code: unknown, ip: string, by: Provenance): Promise<LoginResult> {
      const account = await accounts.findById(userId);
      if (!account) return { ok: false, status: 401, message: 'That code is not valid' };
      const { result, method } = await checkCode(account, code, ip, onOutcome);
      if (!result.ok) {
        if (result.status === 429) return result;
        await trail.append([
          secondFactorEvent('second_factor.failed', account, method, by),
          signInFailed(audit, by, account, 'password', 'wrong_second_factor', { second_factor: method }),
        ]);
        return result;
      }
      const passed = secondFactorEvent('second_factor.succeeded', account, method, by);
      // Disabled between the password and the code: refused all the same.
      if (account.disabled) return refuseDisabled(account, [passed], by);
      await accounts.recordSignIn(account.id, [
        passed,
        signInSucceeded(audit, by, account, 'password', ['pwd', 'otp']),
      ]);
      onOutcome('success');
      return result;
    },

    /** The signed-in account's password again (Settings, re-confirmation): throttled like sign-in. */
    async recheckPassword(account: Account, password: unknown, ip: string): Promise<LoginResult> {
      return (await checkPassword(account.email, password, ip, unreported)).result;
    },

    /**
     * The first code of a TOTP enrollment, counted with the account's other code checks: a wrong
     * code leaves the pending secret in place to try again, and guesses stop at the same allowance
     * (3 a minute, 10 an hour) as at sign-in.
     */
    async confirmEnrollment(account: Account, code: unknown, ip: string, by: Provenance): Promise<EnrollmentResult> {
      const admission = await throttle.admit(codeKey(account), ip);
      if (!admission.allowed) return throttled(admission.retryAfterMs, 'codes tried');
      try {
        return {
          ok: true,
          codes: await twoFactor.confirm(account.id, typeof code === 'string' ? code.slice(0, 64) : '', by),
        };
      } catch (err) {
        if (err instanceof ValidationError) return { ok: false, status: 400, message: err.message };
        throw err;
      }
    },

    /** A current code of the signed-in account (re-confirmation, turning 2FA off): throttled like sign-in. */
    async recheckCode(account: Account, code: unknown, ip: string): Promise<LoginResult> {
      return (await checkCode(account, code, ip, unreported)).result;
    },
  };
}
export type Login = ReturnType<typeof createLogin>;
