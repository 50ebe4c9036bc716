import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runNode } from '../../../test/support/process.ts';

/** Two real cluster workers counting one key through the primary (test/support/cluster-counting.ts). */
async function countInCluster(hits: number, perTurn: number, limit: number) {
  const r = await runNode(
    ['--import', 'tsx', 'test/support/cluster-counting.ts', String(hits), String(perTurn), String(limit)],
    {
      timeoutMs: 60_000,
    },
  );
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as { messages: number; counts: number[][] };
}

describe('rate limits shared by the workers of a cluster (SQLite: counted in the primary)', () => {
  it('a busy key costs a message now and then, and no count is handed to two requests', async () => {
    // 300 hits per worker, two per turn: one message per turn would be 150 per worker.
    const { messages, counts } = await countInCluster(300, 2, 100_000);
    const all = counts.flat();
    assert.equal(all.length, 600);
    assert.equal(new Set(all).size, 600, 'every count handed out once');
    assert.ok(messages <= 40, `${messages} reservation messages for 600 hits`);
    // Numbers reserved and not used are lost to the window: a few leases' worth at most.
    assert.ok(Math.max(...all) <= 600 + 2 * 256, `highest count ${Math.max(...all)}`);
  });

  it('a small limit is counted exactly across workers', async () => {
    // 20 hits per worker at once against a limit of 10: exactly 10 counts at or under it.
    const { counts } = await countInCluster(20, 20, 10);
    const all = counts.flat();
    assert.equal(new Set(all).size, 40);
    assert.equal(all.filter((c) => c <= 10).length, 10);
  });
});
