// The issuer's log: JSON lines (pino) with allowlisted fields only. A line never carries key material, a
// bearer token, a client address, a header or a body byte; keys are named by their public key ID.
import { pino, type Logger } from 'pino';

export interface IssuerLogEntry {
  readonly route: 'directory' | 'token-request' | 'other';
  readonly status: number;
  readonly ms: number;
  /** The account that asked (its id from the accounts file), once authenticated. */
  readonly account?: string;
  /** The truncated_token_key_id a request named. */
  readonly keyId?: number;
  /** The problem code answered. */
  readonly problem?: string;
}

export function createIssuerLogger(options: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  return pino({ level: options.level ?? 'info', base: { service: 'cloister-issuer' }, timestamp: pino.stdTimeFunctions.isoTime }, options.destination ?? process.stdout);
}
