/** The time now, in epoch milliseconds. Passed in everywhere, so a test can say what time it is. */
export type Clock = () => number;

/** The real clock. */
export const systemClock: Clock = () => Date.now();

/** A clock for in-process tests: it stands still until told to move. */
export interface FakeClock extends Clock {
  /** Moves time forward by `ms` (never backwards). */
  advance(ms: number): void;
  /** Sets the time to `at` (epoch ms). */
  set(at: number): void;
}

export function fakeClock(start = Date.UTC(2030, 0, 1)): FakeClock {
  let now = start;
  const clock = (() => now) as FakeClock;
  clock.advance = (ms) => {
    if (ms < 0) throw new RangeError('a fake clock only moves forward');
    now += ms;
  };
  clock.set = (at) => {
    now = at;
  };
  return clock;
}
