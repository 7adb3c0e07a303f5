// Privacy Pass token type 0x0001 (VOPRF(P-384, SHA-384), attestation/protocols/privacypass/type1.ts), each step
// of one issuance and one redemption, against a bare P-384 scalar multiplication in native code (node:crypto
// ECDH, synchronous: OpenSSL without a thread-pool round trip) to say what the BigInt arithmetic costs. Issuance runs about five scalar multiplications
// on the issuer (evaluation, composite, Z = k M, r G, r M) and six on the client (proof check: composites,
// two double multiplications; unblinding), plus hash to curve and a dozen SHA-384 calls each.
import { createECDH } from 'node:crypto';
import { privacyPassType1 } from '../attestation/protocols/index.js';
import { nodeHasher } from '../src/base/index.js';
import { measureInterleaved, type SuiteReport } from './measure.js';

const CHALLENGE = new TextEncoder().encode('\x00\x01\x00\x0eissuer.example\x00\x00\x0eorigin.example');

export async function privacyPassType1Suite(): Promise<SuiteReport> {
  const secret = globalThis.crypto.getRandomValues(new Uint8Array(48));
  secret[0] = 0x01;
  const key = await privacyPassType1.issuerKey(secret);
  const { request, pending } = await privacyPassType1.createTokenRequest(key, CHALLENGE);
  const response = await privacyPassType1.evaluateTokenRequest(key, request);
  const token = await privacyPassType1.finalizeToken(pending, response);
  const ecdh = createECDH('secp384r1');
  ecdh.generateKeys();
  const peer = createECDH('secp384r1').generateKeys();
  const cases = [
    { name: 'node:crypto ECDH P-384 (one native scalar multiplication)', fn: () => ecdh.computeSecret(peer) },
    { name: 'client createTokenRequest (hash to curve, blind)', fn: () => privacyPassType1.createTokenRequest(key, CHALLENGE) },
    { name: 'issuer evaluateTokenRequest (evaluate, DLEQ proof)', fn: () => privacyPassType1.evaluateTokenRequest(key, request) },
    { name: 'client finalizeToken (verify proof, unblind)', fn: () => privacyPassType1.finalizeToken(pending, response) },
    { name: 'client finalizeToken, node:crypto SHA-384', fn: () => privacyPassType1.finalizeToken(pending, response, { hasher: nodeHasher }) },
    { name: 'issuer verifyToken (hash to curve, evaluate)', fn: () => privacyPassType1.verifyToken(key, token) },
  ];
  const rows = await measureInterleaved(cases, { budgetMs: 10_000, minIterations: 100, warmup: 5 });
  const ms = (i: number): number => (rows[i]?.medianUs ?? Number.NaN) / 1e3;
  const perPair = ms(2) + ms(3);
  const start = performance.now();
  for (let i = 0; i < 100; i++) await privacyPassType1.finalizeToken(pending, await privacyPassType1.evaluateTokenRequest(key, request));
  const hundred = (performance.now() - start) / 1e3;
  return {
    title: 'Privacy Pass type 1 (VOPRF P-384, BigInt arithmetic)',
    rows,
    baseline: rows[0]?.name ?? '',
    notes: [
      `100 issuances (issuer evaluate + client finalize) in a row: ${hundred.toFixed(2)} s wall clock; from the medians ${perPair.toFixed(1)} ms each`,
      `one BigInt scalar multiplication about ${(ms(2) / 5).toFixed(2)} ms (issuer evaluate / 5), node:crypto ECDH ${ms(0).toFixed(2)} ms`,
    ],
  };
}
