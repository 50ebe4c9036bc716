import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runNode } from './support/process.ts';

// On Node 20 the first AsyncLocalStorage#run (or any async hook) turns promise hooks on for every
// promise in the process, for good: each await then costs about 2.5 times as much. The server
// must serve its hot paths without turning them on. The check runs in a process of its own, since
// the test runner may turn hooks on in this one.
describe('promise hooks stay off while the server answers', () => {
  it('after pages, sign-ins, /oauth/token, introspection and /v2 requests, a promise has no async id', async () => {
    // On the backend this run tests (the probe's world starts the server the way every test does).
    const backend = ['TEST_DATABASE', 'TEST_POSTGRES_URL'].flatMap((k) =>
      process.env[k] ? [[k, process.env[k]!]] : [],
    );
    const run = await runNode(['--import', 'tsx', 'test/support/promise-hooks-probe.ts'], {
      env: Object.fromEntries(backend),
    });
    assert.equal(run.code, 0, run.stderr);
    const probe = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as {
      before: number;
      after: number;
      statuses: Record<string, number>;
    };
    assert.deepEqual(probe.statuses, { page: 200, 'v2 api key': 200, 'v2 oauth': 200, introspection: 200 });
    assert.equal(probe.before, 0, 'hooks were on before the server started');
    assert.equal(probe.after, 0, 'serving requests turned promise hooks on');
  });
});
