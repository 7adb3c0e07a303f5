// The log schema shared by the server and the relay: the server's logger (pino with a fixed base that
// says which TEE runs, so every line of a simulated server says SIMULATED), sizeClass, the only form in
// which a size may be logged, and errorFields, the only form in which an error may be (its message can
// carry data).
import { pino, type Logger } from 'pino';

export function createLogger(options: { simulated: boolean; platform: string; level?: string; destination?: NodeJS.WritableStream }): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: 'cloister', platform: options.platform, tee: options.simulated ? 'SIMULATED' : 'hardware' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination ?? process.stdout,
  );
}

/**
 * The smallest power of two >= n (0 stays 0). Padded messages are a size class on the wire already
 * (attestation/protocols/padding.ts; the default classes are powers of two, so they are logged as they are);
 * this still rounds what a client that does not pad sends.
 */
export function sizeClass(n: number): number {
  if (n === 0) return 0;
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** An error as a log line may hold it: its class and its code, never its message. */
export function errorFields(e: unknown): { err: { type: string; code: string | undefined } } {
  const code = (e as { code?: unknown } | null)?.code;
  return { err: { type: e instanceof Error ? e.name : typeof e, code: typeof code === 'string' ? code : undefined } };
}
