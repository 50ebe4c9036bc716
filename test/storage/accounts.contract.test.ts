import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createAccountsRepo, createBrowserSessionsRepo } from '../../src/features/accounts/accounts.repo.ts';
import { createTwoFactorRepo } from '../../src/features/accounts/two-factor.repo.ts';
import { createApiKeysRepo } from '../../src/features/api-keys/api-keys.repo.ts';
import { createApplicationsRepo } from '../../src/features/applications/applications.repo.ts';
import { createConsentsRepo } from '../../src/features/consents/consents.repo.ts';
import { createProjectsRepo } from '../../src/features/projects/projects.repo.ts';
import { buildEvent } from '../../src/features/webhooks/events.ts';
import { createWebhooksRepo } from '../../src/features/webhooks/webhooks.repo.ts';
import { createPayloadsRepo } from '../../src/oidc/payloads.repo.ts';
import { sha256 } from '../../src/shared/secrets.ts';
import {
  AWKWARD,
  LATE,
  LONG,
  assertForeignKeyViolation,
  assertRefusesNul,
  assertUniqueViolation,
  describeStorage,
  freshId,
  type Storage,
} from './contract.ts';
import { activityRow, apiKeyRow, endpointRow, insertApplication, insertUser, projectRow, T0, userRow } from './rows.ts';

/** The accounts repository: users, keyset listing, sign-in counter, deletion with everything owned. */
export function accountsRepoContract(s: Storage): void {
  const repo = () => createAccountsRepo(s.db);

  it('returns every column as written: text, unicode, long text, booleans as 0/1, epoch ms past 2^32', async () => {
    const row = userRow({
      name: AWKWARD,
      is_admin: 1,
      created_at: LATE,
      updated_at: LATE + 1,
      totp_secret_enc: LONG,
      totp_pending_secret_enc: 'v1.pending',
      totp_enabled_at: LATE + 2,
      totp_last_step: 58_907_520,
      sign_in_count: 7,
    });
    await repo().insert(row);
    const found = await repo().findById(row.id);
    assert.deepEqual(found, row);
    assert.equal(typeof found!.created_at, 'number', 'bigint columns read back as numbers');
    assert.deepEqual(await repo().findByEmail(row.email), row);
  });

  it('keeps nullable columns null and defaults the sign-in count to 0', async () => {
    const { sign_in_count: _omitted, ...row } = userRow();
    await repo().insert(row);
    const found = await repo().findById(row.id);
    assert.equal(found!.name, null);
    assert.equal(found!.totp_secret_enc, null);
    assert.equal(found!.totp_last_step, null);
    assert.equal(found!.sign_in_count, 0);
  });

  it('answers undefined for an unknown id or email', async () => {
    assert.equal(await repo().findById('usr_nobody'), undefined);
    assert.equal(await repo().findByEmail('nobody@example.test'), undefined);
  });

  it('matches emails exactly on both backends (callers lower-case them first)', async () => {
    const row = await insertUser(s.db, { email: `${freshId('mixed')}@example.test` });
    assert.equal(await repo().findByEmail(row.email.toUpperCase()), undefined);
    assert.equal(await repo().findByEmail(` ${row.email}`), undefined);
    assert.equal((await repo().findByEmail(row.email))?.id, row.id);
  });

  it('refuses a second account with the same email, and the failed insert leaves no event behind', async () => {
    const first = await insertUser(s.db);
    const second = userRow({ email: first.email });
    const event = buildEvent('user.signed_up', second.id, { id: second.id }, T0);
    await assertUniqueViolation(repo().insert(second, [event]));
    assert.equal(await repo().findById(second.id), undefined);
    const events = await s.db.selectFrom('webhook_events').select('id').where('id', '=', event.id).execute();
    assert.deepEqual(events, []);
  });

  it('writes the events given with the insert in the same transaction', async () => {
    const row = userRow();
    const event = buildEvent('user.signed_up', row.id, { id: row.id, email: row.email }, T0);
    await repo().insert(row, [event]);
    const stored = await s.db.selectFrom('webhook_events').selectAll().where('id', '=', event.id).executeTakeFirst();
    assert.equal(stored?.body, event.body);
  });

  it('lists users a page at a time: every user exactly once, in one consistent order', async () => {
    // Mixed case and punctuation: byte order and a locale's order differ on these, and pages must
    // still follow on from one another whatever order the database sorts text in.
    const tag = freshId('page');
    for (const suffix of ['a', 'B', 'b', 'Z', '_', '-', '0', 'é']) await insertUser(s.db, { id: `${tag}${suffix}` });
    const whole = await repo().list(10_000);
    const paged: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await repo().list(3, after);
      assert.ok(page.length <= 3);
      if (page.length === 0) break;
      paged.push(...page.map((u) => u.id));
      after = page.at(-1)!.id;
    }
    assert.deepEqual(
      paged,
      whole.map((u) => u.id),
    );
    assert.equal(new Set(paged).size, paged.length, 'no user twice');
    assert.equal(paged.filter((id) => id.startsWith(tag)).length, 8);
  });

  it('updates only the columns given, and an unknown id changes nothing', async () => {
    const row = await insertUser(s.db, { name: 'Before' });
    await repo().update(row.id, { name: '🦊 After', updated_at: LATE });
    assert.deepEqual(await repo().findById(row.id), { ...row, name: '🦊 After', updated_at: LATE });
    await repo().update('usr_nobody', { name: 'ghost' });
    assert.equal(await repo().findById('usr_nobody'), undefined);
  });

  it('counts concurrent sign-ins without losing one', async () => {
    const row = await insertUser(s.db);
    await Promise.all(Array.from({ length: 25 }, () => repo().countSignIn(row.id)));
    assert.equal((await repo().findById(row.id))!.sign_in_count, 25);
  });

  it('refuses NUL in what it writes and in what it looks up', async () => {
    const row = userRow({ name: 'a\u0000b' });
    await assertRefusesNul(repo().insert(row));
    assert.equal(await repo().findById(row.id), undefined);
    await assertRefusesNul(repo().findByEmail('x\u0000@example.test'));
  });

  it('deletes the user with its sessions, apps, keys and their log, projects, consents, granted tokens', async () => {
    const db = s.db;
    const user = await insertUser(db);
    const other = await insertUser(db);
    const ownApp = await insertApplication(db, user.id);
    const othersApp = await insertApplication(db, other.id);
    const key = apiKeyRow(user.id);
    const othersKey = apiKeyRow(other.id);
    const keys = createApiKeysRepo(db);
    await keys.insert(key, []);
    await keys.insert(othersKey, []);
    await keys.recordUsage([activityRow(key.id, T0), activityRow(othersKey.id, T0)]);
    const project = projectRow(user.id);
    await createProjectsRepo(db).insert(project);
    const endpoint = endpointRow(user.id);
    await createWebhooksRepo(db).insertEndpointWithin(endpoint, 10);
    const sessionHash = sha256(freshId('ses'));
    await createBrowserSessionsRepo(db).insert({
      id_hash: sessionHash,
      user_id: user.id,
      created_at: T0,
      expires_at: LATE,
      authenticated_at: T0,
    });
    await createTwoFactorRepo(db).enable(user.id, 'v1.s', 1, [sha256(freshId('rc'))], T0);
    // The user granted the other user's application; the other user granted the user's application.
    const grantId = freshId('grant');
    const consents = createConsentsRepo(db);
    await consents.upsert(
      {
        user_id: user.id,
        client_id: othersApp.client_id,
        grant_id: grantId,
        scopes: '[]',
        created_at: T0,
        updated_at: T0,
      },
      [],
    );
    const payloads = createPayloadsRepo(db);
    const write = (idHash: string, over: { clientId: string; grantIdHash: string | null }) =>
      payloads.upsert({
        type: 'AccessToken',
        idHash,
        payload: '{}',
        uidHash: null,
        userCodeHash: null,
        expiresAt: LATE,
        accountId: null,
        ...over,
      });
    const issuedToOwnApp = sha256(freshId('tok'));
    const grantedByUser = sha256(freshId('tok'));
    const unrelated = sha256(freshId('tok'));
    await write(issuedToOwnApp, { clientId: ownApp.client_id, grantIdHash: null });
    await write(grantedByUser, { clientId: othersApp.client_id, grantIdHash: sha256(grantId) });
    await write(unrelated, { clientId: othersApp.client_id, grantIdHash: sha256(freshId('grant')) });

    await repo().delete(user.id);

    assert.equal(await repo().findById(user.id), undefined);
    assert.equal(await createBrowserSessionsRepo(db).findUser(sessionHash, T0), undefined);
    assert.equal(await createApplicationsRepo(db).findById(ownApp.client_id), undefined);
    assert.equal(await keys.findById(key.id), undefined);
    assert.deepEqual(await keys.activity(key.id, 10), []);
    assert.equal(await createProjectsRepo(db).findById(project.id), undefined);
    assert.equal(await createWebhooksRepo(db).findEndpoint(endpoint.id), undefined);
    assert.equal(await consents.findByGrant(grantId), undefined);
    assert.equal(await createTwoFactorRepo(db).unusedRecoveryCodes(user.id), 0);
    assert.equal(await payloads.findById('AccessToken', issuedToOwnApp), undefined);
    assert.equal(await payloads.findById('AccessToken', grantedByUser), undefined);
    // What belongs to someone else stays.
    assert.ok(await repo().findById(other.id));
    assert.ok(await createApplicationsRepo(db).findById(othersApp.client_id));
    assert.ok(await payloads.findById('AccessToken', unrelated));
    assert.equal((await keys.activity(othersKey.id, 10)).length, 1);
  });
}

/** Dashboard browser sessions: lookup with expiry, re-authentication, sign-out (one, others, expired). */
export function browserSessionsRepoContract(s: Storage): void {
  const repo = () => createBrowserSessionsRepo(s.db);
  const session = (userId: string, over: Partial<{ expires_at: number; authenticated_at: number }> = {}) => ({
    id_hash: sha256(freshId('ses')),
    user_id: userId,
    created_at: T0,
    expires_at: LATE,
    authenticated_at: T0,
    ...over,
  });

  it("finds the session's user and when it last authenticated, until (not at) its expiry", async () => {
    const user = await insertUser(s.db, { name: AWKWARD });
    const row = session(user.id, { expires_at: LATE, authenticated_at: LATE - 5 });
    await repo().insert(row);
    assert.deepEqual(await repo().findUser(row.id_hash, LATE - 1), {
      ...user,
      authenticated_at: LATE - 5,
      last_seen_at: null,
      provider_session_uid_hash: null,
      amr: null,
    });
    assert.equal(await repo().findUser(row.id_hash, LATE), undefined, 'expired at expires_at');
    assert.equal(await repo().findUser(sha256('unknown'), T0), undefined);
  });

  it('keeps how the session was authenticated (amr), as written', async () => {
    const user = await insertUser(s.db);
    const row = { ...session(user.id), amr: 'pwd otp' };
    await repo().insert(row);
    assert.equal((await repo().findUser(row.id_hash, T0))?.amr, 'pwd otp');
  });

  it('records a re-authentication', async () => {
    const user = await insertUser(s.db);
    const row = session(user.id);
    await repo().insert(row);
    await repo().markAuthenticated(row.id_hash, LATE - 100);
    assert.equal((await repo().findUser(row.id_hash, T0))?.authenticated_at, LATE - 100);
  });

  it('refuses a second session with the same id and a session for no user', async () => {
    const user = await insertUser(s.db);
    const row = session(user.id);
    await repo().insert(row);
    await assertUniqueViolation(repo().insert(row));
    await assertForeignKeyViolation(repo().insert(session('usr_nobody')));
  });

  it('signs out one session, or every other session of the account', async () => {
    const user = await insertUser(s.db);
    const bystander = await insertUser(s.db);
    const [keep, drop1, drop2] = [session(user.id), session(user.id), session(user.id)];
    const theirs = session(bystander.id);
    for (const row of [keep, drop1, drop2, theirs]) await repo().insert(row);
    await repo().deleteOthers(user.id, keep.id_hash);
    assert.ok(await repo().findUser(keep.id_hash, T0));
    assert.equal(await repo().findUser(drop1.id_hash, T0), undefined);
    assert.equal(await repo().findUser(drop2.id_hash, T0), undefined);
    assert.ok(await repo().findUser(theirs.id_hash, T0), "another account's session stays");
    await repo().delete(keep.id_hash);
    assert.equal(await repo().findUser(keep.id_hash, T0), undefined);
  });

  it('deletes sessions expired at or before now, and only those', async () => {
    const user = await insertUser(s.db);
    const now = LATE + 1_000_000;
    const expired = session(user.id, { expires_at: now - 1 });
    const expiringNow = session(user.id, { expires_at: now });
    const live = session(user.id, { expires_at: now + 1 });
    for (const row of [expired, expiringNow, live]) await repo().insert(row);
    await repo().deleteExpired(now);
    const left = await s.db
      .selectFrom('browser_sessions')
      .select('id_hash')
      .where('id_hash', 'in', [expired.id_hash, expiringNow.id_hash, live.id_hash])
      .execute();
    assert.deepEqual(
      left.map((r) => r.id_hash),
      [live.id_hash],
    );
  });
  it('keeps what Settings → Sessions shows: handle, user agent, address, last seen, past 2^32', async () => {
    const user = await insertUser(s.db);
    const bystander = await insertUser(s.db);
    const shown = {
      ...session(user.id, { expires_at: LATE + 10 }),
      created_at: LATE - 50,
      public_id: freshId('ses'),
      user_agent: AWKWARD,
      ip: '2001:db8::1',
      last_seen_at: LATE - 1,
    };
    // Never seen since sign-in: listed by when it was created.
    const older = { ...session(user.id, { expires_at: LATE + 10 }), public_id: freshId('ses'), created_at: LATE - 20 };
    const expired = { ...session(user.id, { expires_at: LATE }), public_id: freshId('ses') };
    for (const row of [shown, older, expired, { ...session(bystander.id), public_id: freshId('ses') }]) {
      await repo().insert(row);
    }
    assert.deepEqual(await repo().listOf(user.id, LATE), [
      {
        public_id: shown.public_id,
        id_hash: shown.id_hash,
        created_at: LATE - 50,
        last_seen_at: LATE - 1,
        user_agent: AWKWARD,
        ip: '2001:db8::1',
      },
      {
        public_id: older.public_id,
        id_hash: older.id_hash,
        created_at: LATE - 20,
        last_seen_at: null,
        user_agent: null,
        ip: null,
      },
    ]);
    assert.equal(typeof (await repo().listOf(user.id, LATE))[0]!.last_seen_at, 'number');
    assert.equal((await repo().findUser(shown.id_hash, LATE))?.last_seen_at, LATE - 1);
  });

  it('records a use once per window, however many come at once', async () => {
    const user = await insertUser(s.db);
    const row = { ...session(user.id), last_seen_at: LATE - 60_000 };
    await repo().insert(row);
    await repo().markSeen(row.id_hash, LATE - 30_000, '192.0.2.1', LATE - 90_000 + 1);
    assert.equal((await repo().findUser(row.id_hash, T0))?.last_seen_at, LATE - 60_000, 'seen within the window');
    await Promise.all(
      ['192.0.2.2', '192.0.2.3', '192.0.2.4'].map((ip, i) => repo().markSeen(row.id_hash, LATE + i, ip, LATE - 59_999)),
    );
    const [listed] = await repo().listOf(user.id, T0);
    assert.ok(listed!.last_seen_at! >= LATE && listed!.last_seen_at! <= LATE + 2);
    assert.equal(listed!.ip, `192.0.2.${2 + listed!.last_seen_at! - LATE}`, 'one write won, whole');
    const fresh = session(user.id); // no last_seen_at yet: the first use is recorded
    await repo().insert(fresh);
    await repo().markSeen(fresh.id_hash, LATE, '::1', LATE);
    assert.equal((await repo().findUser(fresh.id_hash, T0))?.last_seen_at, LATE);
  });

  it("links a provider session only to the account's own session, and returns it when ended", async () => {
    const user = await insertUser(s.db);
    const other = await insertUser(s.db);
    const [keep, one, two] = [session(user.id), session(user.id), session(user.id)].map((r) => ({
      ...r,
      public_id: freshId('ses'),
    }));
    const theirs = { ...session(other.id), public_id: freshId('ses') };
    for (const row of [keep!, one!, two!, theirs]) await repo().insert(row);
    await repo().linkProviderSession(one!.id_hash, user.id, 'uid-one');
    await repo().linkProviderSession(theirs.id_hash, user.id, 'hijack'); // not the user's session: no change
    assert.equal((await repo().findUser(one!.id_hash, T0))?.provider_session_uid_hash, 'uid-one');
    assert.equal((await repo().findUser(theirs.id_hash, T0))?.provider_session_uid_hash, null);

    // By handle: never another account's session, never the kept one.
    assert.equal(await repo().deleteOneOf(user.id, theirs.public_id, keep!.id_hash), undefined);
    assert.equal(await repo().deleteOneOf(user.id, keep!.public_id, keep!.id_hash), undefined);
    assert.equal(await repo().deleteOneOf(user.id, 'ses_unknown', keep!.id_hash), undefined);
    assert.ok(await repo().findUser(theirs.id_hash, T0));
    assert.deepEqual(await repo().deleteOneOf(user.id, one!.public_id, keep!.id_hash), {
      provider_session_uid_hash: 'uid-one',
    });
    assert.equal(await repo().findUser(one!.id_hash, T0), undefined);
    await repo().linkProviderSession(two!.id_hash, user.id, 'uid-two');
    assert.deepEqual(await repo().deleteOthers(user.id, keep!.id_hash), [{ provider_session_uid_hash: 'uid-two' }]);
    assert.ok(await repo().findUser(keep!.id_hash, T0));
    assert.ok(await repo().findUser(theirs.id_hash, T0));
  });

  it("ends one provider Session of the account by its uid hash, and nobody else's", async () => {
    const payloads = createPayloadsRepo(s.db);
    const user = await insertUser(s.db);
    const other = await insertUser(s.db);
    const write = (idHash: string, uidHash: string, accountId: string) =>
      payloads.upsert({
        type: 'Session',
        idHash,
        payload: '{}',
        grantIdHash: null,
        clientId: null,
        uidHash,
        userCodeHash: null,
        expiresAt: LATE,
        accountId,
      });
    const [mine, mineToo, theirs] = [sha256(freshId('s')), sha256(freshId('s')), sha256(freshId('s'))];
    const uid = sha256(freshId('uid'));
    await write(mine, uid, user.id);
    await write(mineToo, sha256(freshId('uid')), user.id);
    await write(theirs, uid, other.id); // the same uid hash under another account: not the user's to end
    await payloads.deleteSessionOf(user.id, uid);
    assert.equal(await payloads.findById('Session', mine), undefined);
    assert.ok(await payloads.findById('Session', mineToo));
    assert.ok(await payloads.findById('Session', theirs));
  });

  it("ends every provider Session of the account but the one kept, and nobody else's", async () => {
    const payloads = createPayloadsRepo(s.db);
    const user = await insertUser(s.db);
    const other = await insertUser(s.db);
    const write = (idHash: string, uidHash: string | null, accountId: string) =>
      payloads.upsert({
        type: 'Session',
        idHash,
        payload: '{}',
        grantIdHash: null,
        clientId: null,
        uidHash,
        userCodeHash: null,
        expiresAt: LATE,
        accountId,
      });
    const keptUid = sha256(freshId('uid'));
    const [kept, otherBrowser, noUid, theirs] = [1, 2, 3, 4].map(() => sha256(freshId('s')));
    await write(kept!, keptUid, user.id);
    await write(otherBrowser!, sha256(freshId('uid')), user.id);
    await write(noUid!, null, user.id);
    await write(theirs!, sha256(freshId('uid')), other.id);
    await payloads.deleteSessionsOfExcept(user.id, keptUid);
    assert.ok(await payloads.findById('Session', kept!));
    assert.equal(await payloads.findById('Session', otherBrowser!), undefined);
    assert.equal(await payloads.findById('Session', noUid!), undefined);
    assert.ok(await payloads.findById('Session', theirs!));
    await payloads.deleteSessionsOfExcept(user.id, null);
    assert.equal(await payloads.findById('Session', kept!), undefined, 'none kept');
    assert.ok(await payloads.findById('Session', theirs!));
  });
}

describeStorage('accounts repository', accountsRepoContract);
describeStorage('browser sessions repository', browserSessionsRepoContract);
