/**
 * What a step on the request path returns: nothing when it finished at once, a promise when it had
 * to wait for something (a read, a shared store). A request whose every step answers at once then
 * runs from the first step to its answer without an async frame or a promise of its own (an async
 * function makes one per call, and each `await` a turn of the microtask queue).
 */
export type Step = void | Promise<void>;

/** Whether a middleware's result is a promise to wait for (a step that finished at once returns none). */
export const waits = (result: unknown): result is Promise<unknown> =>
  typeof (result as { then?: unknown } | null)?.then === 'function';

/**
 * Runs `done` once `step` has finished: at once when it returned nothing (no promise made), else
 * when its promise settles; `failed` hears a failure instead (and throws it on if it should).
 */
export function afterStep(step: unknown, done: () => void, failed?: (err: unknown) => void): Step {
  return waits(step) ? step.then(done, failed) : done();
}
