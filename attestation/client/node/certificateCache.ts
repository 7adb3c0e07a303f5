// The attested client's memory of verified RA-TLS certificates, so that later connections to the same
// server skip re-verifying the evidence of the very same certificate bytes.
import { createHash } from 'node:crypto';
import { bytesEqual } from '../../bytes.js';
import type { RaTlsVerdict } from '../../ratls/verifyCertificate.js';
import { parseCertificate } from '../../x509.js';

interface CacheEntry {
  readonly der: Uint8Array;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly verdict: RaTlsVerdict;
}

/** Accepted certificates by DER SHA-256 (hex), each kept until its notAfter. */
export class AttestedCertificateCache {
  readonly #entries = new Map<string, CacheEntry>();

  /** The cached verdict for exactly these bytes, valid at `at`; undefined otherwise (an expired entry is dropped). */
  get(der: Uint8Array, at: Date): RaTlsVerdict | undefined {
    const key = fingerprint(der);
    const entry = this.#entries.get(key);
    if (entry === undefined || !bytesEqual(entry.der, der)) return undefined;
    const t = at.getTime();
    if (t > entry.notAfter) {
      this.#entries.delete(key);
      return undefined;
    }
    return t < entry.notBefore ? undefined : entry.verdict;
  }

  set(der: Uint8Array, verdict: RaTlsVerdict): void {
    const cert = parseCertificate(der);
    this.#entries.set(fingerprint(der), { der: der.slice(), notBefore: cert.notBefore.getTime(), notAfter: cert.notAfter.getTime(), verdict });
  }

  get size(): number {
    return this.#entries.size;
  }
}

const fingerprint = (der: Uint8Array): string => createHash('sha256').update(der).digest('hex');
