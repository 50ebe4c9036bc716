import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createDoorkeeper } from './doorkeeper.ts';

const ids = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}${i.toString(36)}`);

describe('doorkeeper', () => {
  it('answers no the first time an id is shown and yes from the second', () => {
    const door = createDoorkeeper(1000);
    assert.equal(door.seenBefore('a7Kq2mZpX0bC'), false);
    assert.equal(door.seenBefore('a7Kq2mZpX0bC'), true);
    assert.equal(door.seenBefore('a7Kq2mZpX0bC'), true);
    assert.equal(door.seenBefore('a7Kq2mZpX0bD'), false, 'a neighbour is a different id');
  });

  it('lets a sweep of ids shown once pass, and still knows the ids shown twice', () => {
    const door = createDoorkeeper(30_000);
    const hot = ids(50, 'hot-');
    for (const id of hot) door.seenBefore(id);
    // 20,000 ids never seen before: taken for second sights at most at the filter's error rate.
    const passed = ids(20_000, 'sweep-').filter((id) => door.seenBefore(id)).length;
    assert.ok(passed < 20_000 * 0.02, `${passed} of 20,000 new ids taken as seen`);
    assert.deepEqual(
      hot.filter((id) => !door.seenBefore(id)),
      [],
    );
  });

  it('forgets everything after `capacity` new ids, so it never fills up', () => {
    const door = createDoorkeeper(100);
    door.seenBefore('first');
    for (const id of ids(99, 'fill-')) door.seenBefore(id); // the hundredth new id: all forgotten
    assert.equal(door.seenBefore('first'), false);
    // Over many generations the error rate stays that of a filter holding at most `capacity` ids.
    const big = createDoorkeeper(30_000);
    let wrong = 0;
    for (let round = 0; round < 5; round++)
      for (const id of ids(30_000, `r${round}-`)) if (big.seenBefore(id)) wrong += 1;
    assert.ok(wrong < 150_000 * 0.02, `${wrong} of 150,000 new ids taken as seen`);
  });
});
