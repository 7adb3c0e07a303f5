// RA-TLS client cost on loopback: a new TLS connection to an in-process HTTPS server presenting a simulated
// SEV-SNP RA-TLS certificate (2048-bit development chain), measured as
//   plain TLS       tls.connect + full handshake, certificate not checked (the floor)
//   attested, cold  the same handshake, then verifyAttestedCertificate with an empty certificate cache
//                   (the SnpVerifier's chain cache stays warm, as in a long-lived client)
//   attested, cached  the same handshake, then the certificate cache: SHA-256 of the DER, exact bytes, validity
// Every connection is a full handshake (no session resumption); client and server share this process.
import tls from 'node:tls';
import { attestedConnect, AttestedCertificateCache, createAttestedVerifier } from '../attestation/node/index.js';
import { SnpVerifier } from '../attestation/snp/verify.js';
import { nodeEcdsa } from '../src/crypto/nodeEcdsa.js';
import { createDevChain } from '../src/tee/sim/devChain.js';
import { startAttestedServer } from '../src/tee/sim/ratlsServer.js';
import { measureInterleaved, type SuiteReport } from './measure.js';

const OPTIONS = { budgetMs: 6000, minIterations: 100, warmup: 20 } as const;
const TARGET_RATIO = 2;

function plainHandshake(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    socket.once('error', reject);
    socket.once('secureConnect', () => {
      if (socket.getPeerCertificate(true).raw.length === 0) reject(new Error('no certificate'));
      socket.destroy();
      resolve();
    });
  });
}

export async function ratlsHandshakeSuite(): Promise<SuiteReport> {
  const chain = await createDevChain({ product: 'Milan', tcb: { bootloader: 4, tee: 0, snp: 24, microcode: 219 }, hwId: new Uint8Array(64).fill(3) }, 2048);
  const server = await startAttestedServer(chain, { keyConfigs: [] });
  const snpVerifier = new SnpVerifier({ ecdsa: nodeEcdsa, trustedRoots: [chain.ark] });
  const warm = createAttestedVerifier({ snpVerifier, cache: new AttestedCertificateCache() });
  const attested = async (verify: ReturnType<typeof createAttestedVerifier>, wantCached: boolean): Promise<void> => {
    const c = await attestedConnect({ host: '127.0.0.1', port: server.port }, verify);
    c.socket.destroy();
    if (c.cached !== wantCached) throw new Error(`expected cached=${wantCached}`);
  };
  try {
    await attested(warm, false); // fills the cache: every timed "cached" call is a hit
    const rows = await measureInterleaved(
      [
        { name: 'plain TLS', fn: () => plainHandshake(server.port) },
        { name: 'attested, cold', fn: () => attested(createAttestedVerifier({ snpVerifier }), false) },
        { name: 'attested, cached', fn: () => attested(warm, true) },
      ],
      OPTIONS,
    );
    const [plainRow, coldRow, cachedRow] = rows;
    if (plainRow === undefined || coldRow === undefined || cachedRow === undefined) throw new Error('missing rows');
    const ratio = cachedRow.medianUs / plainRow.medianUs;
    return {
      title: `RA-TLS handshake (loopback, simulated SEV-SNP certificate ${server.certificateDer.length} bytes, full handshakes; cases interleaved call by call)`,
      rows,
      baseline: plainRow.name,
      notes: [
        `evidence verification adds ${((coldRow.medianUs - plainRow.medianUs) / 1e3).toFixed(2)} ms per new certificate (cold - plain median)`,
        `attested handshake with cached chain within ${TARGET_RATIO}x of plain TLS: ${ratio.toFixed(2)}x ${ratio <= TARGET_RATIO ? 'PASS' : 'MISS'}`,
      ],
    };
  } finally {
    await server.close();
  }
}
