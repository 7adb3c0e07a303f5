// Progress lines for the long steps of the image build: each names its step and the time since the build began.
export type Log = (line: string) => void;

export interface Progress {
  /** Logs "[ 12.3s] message". */
  readonly say: (message: string) => void;
  /** Runs one step, logging its start and its end with the step's own duration. */
  readonly step: <T>(name: string, run: () => Promise<T>) => Promise<T>;
  /** Seconds since the build began. */
  readonly elapsed: () => number;
}

export function progress(log: Log, now: () => number = () => performance.now()): Progress {
  const start = now();
  const elapsed = (): number => (now() - start) / 1000;
  const say = (message: string): void => {
    log(`[${elapsed().toFixed(1).padStart(6)}s] ${message}`);
  };
  return {
    say,
    elapsed,
    step: async (name, run) => {
      const t = now();
      say(`${name} ...`);
      const value = await run();
      say(`${name}: done in ${((now() - t) / 1000).toFixed(1)}s`);
      return value;
    },
  };
}
