// Certificate validity at an evaluation time, shared by the SEV-SNP and TDX chain checks.
import { VerificationError } from './errors.js';
import type { Certificate } from './x509.js';

export const certificateName = (c: Certificate): string => c.subjectCommonName ?? '(no CN)';

export function checkValidity(certs: readonly Certificate[], at: Date): void {
  for (const c of certs) {
    const name = certificateName(c);
    if (at < c.notBefore) {
      throw new VerificationError('CERT_NOT_YET_VALID', `${name} is valid from ${c.notBefore.toISOString()}, evaluated at ${at.toISOString()}`, {
        field: `${name}.notBefore`,
        expected: `>= ${c.notBefore.toISOString()}`,
        actual: at.toISOString(),
      });
    }
    if (at > c.notAfter) {
      throw new VerificationError('CERT_EXPIRED', `${name} expired ${c.notAfter.toISOString()}, evaluated at ${at.toISOString()}`, {
        field: `${name}.notAfter`,
        expected: `<= ${c.notAfter.toISOString()}`,
        actual: at.toISOString(),
      });
    }
  }
}
