// TDX verification cost on real data (vector row T8: dcap-qvl's quote and its Intel PCS collateral, at a time
// inside the collateral's window), against the floor set by the bare P-256 verifies a cached verification
// cannot avoid: the QE report signature (PCK key) and the quote signature (attestation key), per quote.
//   raw     node:crypto verifies of those two signatures with pre-imported keys
//   cold    verifyTdxEvidence with a new TdxVerifier per call: parse, the PCK chain (3 signatures), the QE
//           report and quote signatures, the collateral (2 issuer chains, TCB info and QE identity signatures,
//           2 CRLs), the TCB evaluation, the policy
//   cached  verifyTdxEvidence with one shared TdxVerifier that has seen the chain and the collateral before
//           (node:crypto backend, as the CLI and server run it; and WebCrypto, the browser path)
import { createPublicKey, verify, X509Certificate, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ecdsaP1363ToDer, parseQuote, readTdxCollateral, TdxVerifier, verifyTdxEvidence, type TdxEvidence, type TdxVerdict } from '../attestation/index.js';
import { ATTESTATION_VECTORS } from '../attestation/testing/vectors.js';
import { nodeEcdsa, nodeHasher } from '../src/base/index.js';
import { measureInterleaved, type SuiteReport } from './measure.js';
import { verifierReport } from './verifierReport.js';

const AT = new Date('2025-06-25T00:00:00Z');
const OPTIONS = { budgetMs: 8000, minIterations: 200, warmup: 50 } as const;
const TARGET_CACHED_RATIO = 0.7;
const TARGET_COLD_MS = 10;

function assertAccepted(verdict: TdxVerdict, what: string): void {
  if (!verdict.accepted) throw new Error(`${what}: T8 rejected: ${JSON.stringify(verdict.error)}`);
}

/** The two per-quote signatures, verified with keys imported once. */
function rawVerifier(quoteBytes: Uint8Array): () => boolean {
  const q = parseQuote(quoteBytes);
  const pck: KeyObject = new X509Certificate(q.pckCertificates[0] ?? new Uint8Array()).publicKey;
  const attestationKey = createPublicKey({ key: Buffer.concat([Buffer.from('3059301306072a8648ce3d020106082a8648ce3d03010703420004', 'hex'), q.attestationKey]), format: 'der', type: 'spki' });
  // DER signatures with the bare KeyObject: node:crypto's fastest verify (a { key, dsaEncoding } object makes it prepare
  // the key again on every call), so the floor is not raised by a slower call than the verifier itself makes.
  const qeSignature = ecdsaP1363ToDer(q.qeReportSignature);
  const quoteSignature = ecdsaP1363ToDer(q.signature);
  return () => verify('sha256', q.qeReport.raw, pck, qeSignature) && verify('sha256', q.signedBytes, attestationKey, quoteSignature);
}

export async function tdxVerifySuite(): Promise<SuiteReport> {
  const quote = new Uint8Array(await readFile(`${ATTESTATION_VECTORS}dcap-qvl/tdx_quote`));
  const json = JSON.parse(await readFile(`${ATTESTATION_VECTORS}dcap-qvl/tdx_quote_collateral.json`, 'utf8')) as unknown;
  const collateral = readTdxCollateral(json, '$').collateral;
  if (collateral === undefined) throw new Error('T8 collateral does not read');
  const evidence: TdxEvidence = { quote, certificates: [], crls: [], simulated: false, collateral };
  const raw = rawVerifier(quote);
  const shared = new TdxVerifier({ ecdsa: nodeEcdsa, hasher: nodeHasher });
  const sharedWeb = new TdxVerifier();
  const cases = [
    { name: 'raw limit', fn: (): void => { if (!raw()) throw new Error('raw limit: a P-256 verify returned false'); } },
    { name: 'cold', fn: async (): Promise<void> => { assertAccepted(await verifyTdxEvidence(evidence, {}, { verifier: new TdxVerifier({ ecdsa: nodeEcdsa, hasher: nodeHasher }), at: AT }), 'cold'); } },
    { name: 'cached', fn: async (): Promise<void> => { assertAccepted(await verifyTdxEvidence(evidence, {}, { verifier: shared, at: AT }), 'cached'); } },
    { name: 'cached, WebCrypto', fn: async (): Promise<void> => { assertAccepted(await verifyTdxEvidence(evidence, {}, { verifier: sharedWeb, at: AT }), 'cached, WebCrypto'); } },
  ];
  const rows = await measureInterleaved(cases, OPTIONS);
  return verifierReport(
    `TDX verify with collateral (T8: dcap-qvl quote + Intel PCS collateral, at ${AT.toISOString()}; cases interleaved call by call)`,
    rows,
    { cachedRatio: TARGET_CACHED_RATIO, coldMs: TARGET_COLD_MS },
  );
}
