// RA-TLS client cost on loopback: a new TLS connection to an in-process HTTPS server presenting a simulated
// SEV-SNP RA-TLS certificate (2048-bit development chain), measured as
//   plain TLS       tls.connect + full handshake, certificate not checked (the floor)
//   attested, cold  the same handshake, then verifyAttestedCertificate with an empty certificate cache
//                   (the SnpVerifier's chain cache stays warm, as in a long-lived client)
//   attested, cached  the same handshake, then the certificate cache: SHA-256 of the DER, exact bytes, validity
//   plain TLS, resumed / attested, resumed  TLS 1.3 session resumption (the attested client's session store;
//                   the certificate of the original handshake then goes through the certificate cache)
// Client and server share this process.
import tls from 'node:tls';
import { attestedConnect, AttestedCertificateCache, createAttestedVerifier } from '../attestation/client/node/index.js';
import { SnpVerifier } from '../attestation/index.js';
import { nodeEcdsa } from '../src/base/index.js';
import { createDevChain, simulatedMeasurementPolicy, startAttestedServer } from '../src/tee/index.js';
import { measureInterleaved, type SuiteReport } from './measure.js';

const OPTIONS = { budgetMs: 6000, minIterations: 100, warmup: 20 } as const;
const TARGET_RATIO = 2;

/** A full handshake (or a resumption of `session`); with `keepTicket`, waits for the TLS 1.3 ticket and returns it. */
function plainHandshake(port: number, options: { session?: Buffer; keepTicket?: boolean } = {}): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...(options.session === undefined ? {} : { session: options.session }) });
    socket.once('error', reject);
    if (options.keepTicket === true) {
      socket.once('session', (ticket: Buffer) => {
        socket.destroy();
        resolve(ticket);
      });
      return;
    }
    socket.once('secureConnect', () => {
      if (options.session === undefined ? socket.getPeerCertificate(true).raw.length === 0 : !socket.isSessionReused()) reject(new Error(options.session === undefined ? 'no certificate' : 'not resumed'));
      socket.destroy();
      resolve(undefined);
    });
  });
}

export async function ratlsHandshakeSuite(): Promise<SuiteReport> {
  const chain = await createDevChain({ product: 'Milan', tcb: { bootloader: 4, tee: 0, snp: 24, microcode: 219 }, hwId: new Uint8Array(64).fill(3) }, 2048);
  const server = await startAttestedServer(chain, { keyConfigs: [] });
  const snpVerifier = new SnpVerifier({ ecdsa: nodeEcdsa, trustedRoots: [chain.ark] });
  const policy = await simulatedMeasurementPolicy();
  const warm = createAttestedVerifier({ policy, snpVerifier, cache: new AttestedCertificateCache(), resumeSessions: false });
  const resuming = createAttestedVerifier({ policy, snpVerifier });
  const attested = async (verify: ReturnType<typeof createAttestedVerifier>, want: { cached: boolean; resumed: boolean }): Promise<void> => {
    const c = await attestedConnect({ host: '127.0.0.1', port: server.port }, verify);
    c.socket.destroy();
    if (c.cached !== want.cached || c.resumed !== want.resumed) throw new Error(`expected ${JSON.stringify(want)}, got cached=${c.cached} resumed=${c.resumed}`);
  };
  try {
    await attested(warm, { cached: false, resumed: false }); // fills the cache: every timed "cached" call is a hit
    await attested(resuming, { cached: false, resumed: false });
    await new Promise((r) => setTimeout(r, 50)); // its session ticket
    const ticket = await plainHandshake(server.port, { keepTicket: true });
    if (ticket === undefined) throw new Error('no session ticket');
    const rows = await measureInterleaved(
      [
        { name: 'plain TLS', fn: async () => { await plainHandshake(server.port); } },
        { name: 'attested, cold', fn: () => attested(createAttestedVerifier({ policy, snpVerifier, resumeSessions: false }), { cached: false, resumed: false }) },
        { name: 'attested, cached', fn: () => attested(warm, { cached: true, resumed: false }) },
        { name: 'plain TLS, resumed', fn: async () => { await plainHandshake(server.port, { session: ticket }); } },
        { name: 'attested, resumed', fn: () => attested(resuming, { cached: true, resumed: true }) },
      ],
      OPTIONS,
    );
    const [plainRow, coldRow, cachedRow, plainResumedRow, resumedRow] = rows;
    if (plainRow === undefined || coldRow === undefined || cachedRow === undefined || plainResumedRow === undefined || resumedRow === undefined) throw new Error('missing rows');
    const ratio = cachedRow.medianUs / plainRow.medianUs;
    const resumedRatio = resumedRow.medianUs / plainResumedRow.medianUs;
    return {
      title: `RA-TLS handshake (loopback, simulated SEV-SNP certificate ${server.certificateDer.length} bytes; cases interleaved call by call)`,
      rows,
      baseline: plainRow.name,
      notes: [
        `evidence verification adds ${((coldRow.medianUs - plainRow.medianUs) / 1e3).toFixed(2)} ms per new certificate (cold - plain median)`,
        `attested handshake with cached chain within ${TARGET_RATIO}x of plain TLS: ${ratio.toFixed(2)}x ${ratio <= TARGET_RATIO ? 'PASS' : 'MISS'}`,
        `attested resumed handshake vs plain resumed: ${resumedRatio.toFixed(2)}x`,
      ],
    };
  } finally {
    await server.close();
  }
}
