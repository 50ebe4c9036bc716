import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Account } from '../domain/account.ts';
import {
  type LoginPrompt,
  dashboardSignInTooOld,
  hintNamesAnother,
  loginFromDashboardSession,
  providerLoginFromDashboard,
} from './dashboard-login.ts';

const NOW = 1_800_000_000_000;
const account: Account = {
  id: 'usr_1',
  email: 'ada@example.com',
  name: null,
  isAdmin: false,
  isAuditor: false,
  disabled: false,
  createdAt: 0,
  twoFactor: true,
  signInCount: 1,
  emailVerified: true,
  updatedAt: 0,
};
const session = { account, sessionId: 'raw', authenticatedAt: NOW - 60_000, sessionAmr: ['pwd', 'otp'] };
const prompt = (
  reasons: string[],
  params: Record<string, unknown> = {},
  lastSubmission?: LoginPrompt['lastSubmission'],
) => ({ prompt: { name: 'login', reasons }, params, lastSubmission }) as LoginPrompt;

// The rule without a server: which sign-in prompts a dashboard session answers, and with what.
describe('loginFromDashboardSession', () => {
  it("answers a provider with no session of its own, with the session's sign-in time and methods", () => {
    assert.deepEqual(loginFromDashboardSession(session, prompt(['no_session']), NOW), {
      accountId: 'usr_1',
      ts: Math.floor((NOW - 60_000) / 1000),
      amr: ['pwd', 'otp'],
      acr: '2',
    });
  });

  it('claims no method it did not record, and no level', () => {
    const result = loginFromDashboardSession({ ...session, sessionAmr: [] }, prompt(['no_session']), NOW);
    assert.equal(result && ('amr' in result || 'acr' in result), false);
    // A word that is no sign-in method Latchkey knows is not passed on.
    const odd = loginFromDashboardSession({ ...session, sessionAmr: ['pwd', 'sms'] }, prompt(['no_session']), NOW);
    assert.deepEqual(odd && [odd.amr, odd.acr], [['pwd'], '1']);
  });

  it('leaves the form to prompt=login, id_token_hint, a requested sub or ACR', () => {
    for (const reason of ['login_prompt', 'id_token_hint', 'claims_id_token_sub_value', 'essential_acr']) {
      assert.equal(loginFromDashboardSession(session, prompt(['no_session', reason]), NOW), null, reason);
    }
  });

  it('meets a max_age only with a sign-in that recent', () => {
    assert.ok(loginFromDashboardSession(session, prompt(['no_session', 'max_age'], { max_age: 61 }), NOW));
    assert.equal(loginFromDashboardSession(session, prompt(['no_session', 'max_age'], { max_age: 59 }), NOW), null);
    assert.equal(loginFromDashboardSession(session, prompt(['no_session', 'max_age'], { max_age: '0' }), NOW), null);
  });

  it('steps aside for a login_hint naming someone else (case aside)', () => {
    assert.equal(
      loginFromDashboardSession(session, prompt(['no_session'], { login_hint: 'eve@example.com' }), NOW),
      null,
    );
    assert.ok(loginFromDashboardSession(session, prompt(['no_session'], { login_hint: ' ADA@example.com ' }), NOW));
  });

  it('needs a signed-in session that authenticated, and answers once per interaction', () => {
    assert.equal(loginFromDashboardSession({ account: null }, prompt(['no_session']), NOW), null);
    assert.equal(loginFromDashboardSession({ ...session, sessionId: undefined }, prompt(['no_session']), NOW), null);
    assert.equal(loginFromDashboardSession({ ...session, authenticatedAt: 0 }, prompt(['no_session']), NOW), null);
    const answered = prompt(['no_session'], {}, { login: { accountId: 'usr_1' } });
    assert.equal(loginFromDashboardSession(session, answered, NOW), null, 'the provider asked again: the form');
    const consent = { ...prompt([]), prompt: { name: 'consent', reasons: ['op_scopes_missing'] } };
    assert.equal(loginFromDashboardSession(session, consent, NOW), null);
  });
});

// What the provider session takes from the dashboard session before the prompts are weighed.
describe('providerLoginFromDashboard', () => {
  it("gives the session's account, sign-in time (seconds) and methods; nothing when not signed in", () => {
    assert.deepEqual(providerLoginFromDashboard(session), {
      accountId: 'usr_1',
      loginTs: Math.floor((NOW - 60_000) / 1000),
      amr: ['pwd', 'otp'],
      acr: '2',
    });
    assert.equal(providerLoginFromDashboard({ account: null }), null);
    assert.equal(providerLoginFromDashboard({ ...session, sessionId: undefined }), null);
    assert.equal(providerLoginFromDashboard({ ...session, authenticatedAt: 0 }), null);
    assert.equal('amr' in providerLoginFromDashboard({ ...session, sessionAmr: [] })!, false);
  });
});

describe('dashboardSignInTooOld', () => {
  const request = (params: Record<string, unknown>, o: { accountId?: string; login?: unknown } = {}) => ({
    oidc: { params, session: { accountId: o.accountId ?? 'usr_1' }, result: o.login ? { login: o.login } : undefined },
    state: session,
  });

  it('counts max_age in milliseconds against the dashboard sign-in (60 s ago here)', () => {
    assert.equal(dashboardSignInTooOld(request({ max_age: '59' }), NOW), true);
    assert.equal(dashboardSignInTooOld(request({ max_age: '60' }), NOW), false);
    assert.equal(dashboardSignInTooOld(request({ max_age: '59' }), NOW - 1500), false, '58.5 s old');
    assert.equal(dashboardSignInTooOld(request({}), NOW), false, 'no max_age');
  });

  it('judges only its own account, and never a sign-in the interaction just handed back', () => {
    assert.equal(dashboardSignInTooOld(request({ max_age: '1' }, { accountId: 'usr_2' }), NOW), false);
    assert.equal(dashboardSignInTooOld(request({ max_age: '1' }, { login: { accountId: 'usr_1' } }), NOW), false);
  });
});

describe('hintNamesAnother', () => {
  it('compares the trimmed hint without case; a blank or absent hint names no one', () => {
    assert.equal(hintNamesAnother('eve@example.com', 'ada@example.com'), true);
    assert.equal(hintNamesAnother(' ADA@example.com ', 'ada@example.com'), false);
    assert.equal(hintNamesAnother('  ', 'ada@example.com'), false);
    assert.equal(hintNamesAnother(undefined, 'ada@example.com'), false);
  });
});
