/**
 * Runs `work` every `everyMs`, counted from the end of the last run (runs never overlap), until
 * `stop()`. The timer does not hold the process open.
 */
export function startPolling(work: () => Promise<unknown>, everyMs: number): { stop(): void } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const schedule = () => {
    timer = setTimeout(poll, everyMs);
    timer.unref();
  };
  const poll = () => {
    void work().finally(() => {
      if (!stopped) schedule();
    });
  };
  schedule();
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
