/** What `within` answers for a promise that had not settled in time. */
export const LATE = Symbol('late');

/**
 * The promise's value, or LATE when it has not settled within `ms`: for shutdown steps that must
 * not wait for ever on a database or a receiver that does not answer. The timer is cleared either
 * way, so nothing is left to hold the process open.
 */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | typeof LATE> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<typeof LATE>((resolve) => (timer = setTimeout(resolve, Math.max(0, ms), LATE)));
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}
