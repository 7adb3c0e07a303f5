// The relay's logger. A relay exists to separate who asks from what is asked (RFC 9458 section 7), so a
// line carries only the allowlisted fields of RelayLogEntry: never a client address, header, path
// beyond the gateway name, or body byte. Plain pino: the relay runs no TEE, so the server's logger
// base (platform, tee) does not apply.
import { pino, type Logger } from 'pino';

export type RelayKind = 'request' | 'keys' | 'attestation' | 'fleet';

export interface RelayLogEntry {
  /** Absent when the path names no configured gateway (the client's text is never logged). */
  readonly gateway?: string;
  readonly kind?: RelayKind;
  /** Absent when the client went away before an answer. */
  readonly status?: number;
  readonly ms: number;
  /** Request body size rounded up to a power of two: enough for capacity planning, too coarse to match a request. */
  readonly bytes?: number;
  readonly cached?: boolean;
  /** Why the gateway exchange failed: an errno code, "timeout" or "too-large". */
  readonly error?: string;
  readonly aborted?: true;
}

export function createRelayLogger(options: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      // Replaces pino's default base (pid, hostname) as well.
      base: { service: 'cloister-relay' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination ?? process.stdout,
  );
}

export function logExchange(logger: Logger, entry: RelayLogEntry): void {
  logger.info(entry, 'answered');
}
