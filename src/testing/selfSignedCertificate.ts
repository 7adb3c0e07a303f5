// Test support: a throwaway self-signed P-256 certificate and key (PEM) for a TLS server in a test, made
// by the RA-TLS issuer without evidence.
import { generateKeyPairSync } from 'node:crypto';
import { encodePem } from '../../attestation/bytes.js';
import { createRaTlsCertificate } from '../tee/ratls/issue.js';

export async function selfSignedCertificate(): Promise<{ cert: string; key: string }> {
  const k = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const now = new Date();
  const der = await createRaTlsCertificate({ publicKey: k.publicKey, signingKey: k.privateKey, cmw: undefined, notBefore: now, notAfter: new Date(now.getTime() + 3600_000) });
  return { cert: encodePem('CERTIFICATE', der), key: k.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
}
