// The timers the server's schedules use (certificate and key rotation): unref'd, so they never keep the
// process alive, and clamped, because setTimeout fires at once for delays above 2^31 - 1 ms.
export interface TimerHandle {
  clear(): void;
}

export const MAX_TIMER_MS = 0x7fffffff;

export function unrefTimer(fn: () => void, ms: number): TimerHandle {
  const timer = setTimeout(fn, Math.min(MAX_TIMER_MS, Math.max(0, ms)));
  timer.unref();
  return {
    clear: () => {
      clearTimeout(timer);
    },
  };
}
