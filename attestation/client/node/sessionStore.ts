// TLS sessions of accepted servers, for resumption (docs/ra-tls.md "Client").
import { parseCertificate } from '../../x509.js';

const MAX_SESSIONS = 64;

/** A TLS session and the certificate of the handshake it came from (a resumed handshake carries none). */
export interface StoredSession {
  readonly session: Buffer;
  readonly der: Uint8Array;
  readonly notAfter: number;
}

/**
 * The latest TLS session per server, for resumption, kept only while the certificate of its original
 * handshake is valid; beyond 64 servers the oldest is dropped.
 */
export class SessionStore {
  readonly #sessions = new Map<string, StoredSession>();

  get(key: string, at: Date): StoredSession | undefined {
    const entry = this.#sessions.get(key);
    if (entry !== undefined && entry.notAfter <= at.getTime()) {
      this.#sessions.delete(key);
      return undefined;
    }
    return entry;
  }

  set(key: string, session: Buffer, der: Uint8Array): void {
    this.#sessions.delete(key);
    this.#sessions.set(key, { session, der, notAfter: parseCertificate(der).notAfter.getTime() });
    if (this.#sessions.size > MAX_SESSIONS) this.#sessions.delete(this.#sessions.keys().next().value as string);
  }

  delete(key: string): void {
    this.#sessions.delete(key);
  }

  get size(): number {
    return this.#sessions.size;
  }
}
