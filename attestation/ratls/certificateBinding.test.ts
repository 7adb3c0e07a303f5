import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { fromHex, toHex } from '../bytes.js';
import { CloisterError } from '../errors.js';
import { PROTOCOL_VECTORS } from '../testing/vectors.js';
import { raTlsBindingInput, raTlsReportData } from './certificateBinding.js';

// The vector of docs/ra-tls.md "Test vector". The SPKI is the P-256 key whose point is the curve's
// generator G (private key 1); the first key config is the one shown in RFC 9458 Appendix A (key id 1,
// DHKEM(X25519, HKDF-SHA256), HKDF-SHA256 with AES-128-GCM and ChaCha20Poly1305), the second a made-up
// one (key id 2, public key 32 x 0x22, HKDF-SHA256 with AES-128-GCM). The expected value was also
// computed independently with Python's hashlib (struct.pack('>H', ...) prefixes).
const RATLS_VECTOR = {
  spki: '3059301306072a8648ce3d020106082a8648ce3d030107034200046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c2964fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5',
  keyConfigs: ['01002031e1f05a740102115220e9af918f738674aec95f54db6e04eb705aae8e79815500080001000100010003', `020020${'22'.repeat(32)}000400010001`],
  reportData: '65b9da64ca4d6decb2a775b6b11ea367e616bb911535da85ea6e3672b8bea35a91b9b23e5b8db9a2ec582ab564a7bb06b87a14719d1f4d18b0a34fb82a42815f',
} as const;

const spki = fromHex(RATLS_VECTOR.spki);
const keyConfigs = RATLS_VECTOR.keyConfigs.map((k) => fromHex(k));

describe('RA-TLS binding', () => {
  it('hashes exactly label || 0x00 || u16be(len spki) || spki || u16be(n) || (u16be(len) || config)*', () => {
    const input = raTlsBindingInput(spki, keyConfigs);
    const expected = `${toHex(new TextEncoder().encode('cloister/ra-tls/v1'))}00005b${RATLS_VECTOR.spki}0002002d${RATLS_VECTOR.keyConfigs[0]}0029${RATLS_VECTOR.keyConfigs[1]}`;
    assert.equal(toHex(input), expected);
  });

  it('uses RFC 9458 Appendix A\'s key configuration as the first config', () => {
    const rfc = JSON.parse(readFileSync(`${PROTOCOL_VECTORS}ohttp-rfc9458/rfc9458-appendix-a.json`, 'utf8')) as { key_config: string };
    assert.equal(RATLS_VECTOR.keyConfigs[0], rfc.key_config);
  });

  it('matches the test vector, which docs/ra-tls.md states', async () => {
    assert.equal(toHex(await raTlsReportData(spki, keyConfigs)), RATLS_VECTOR.reportData);
    const doc = readFileSync(fileURLToPath(new URL('../../../docs/ra-tls.md', import.meta.url)), 'utf8');
    for (const hex of [RATLS_VECTOR.spki, ...RATLS_VECTOR.keyConfigs, RATLS_VECTOR.reportData]) assert.ok(doc.replace(/\s+/g, '').includes(hex), `docs/ra-tls.md lacks ${hex.slice(0, 16)}...`);
  });

  it('changes with the key, the configs, their order and their number', async () => {
    const base = toHex(await raTlsReportData(spki, keyConfigs));
    const other = spki.slice();
    other[90] = (other[90] as number) ^ 1;
    const variants = [
      await raTlsReportData(other, keyConfigs),
      await raTlsReportData(spki, [keyConfigs[1] as Uint8Array, keyConfigs[0] as Uint8Array]),
      await raTlsReportData(spki, keyConfigs.slice(0, 1)),
      await raTlsReportData(spki, []),
    ].map(toHex);
    assert.equal(new Set([base, ...variants]).size, 5);
  });

  it('refuses empty or oversized parts', () => {
    assert.throws(() => raTlsBindingInput(new Uint8Array(0), []), (e: unknown) => e instanceof CloisterError && e.code === 'MALFORMED_FIELD' && e.field === 'spki');
    assert.throws(() => raTlsBindingInput(spki, [new Uint8Array(0x10000)]), (e: unknown) => e instanceof CloisterError && e.code === 'MALFORMED_FIELD');
    assert.throws(() => raTlsBindingInput(spki, [new Uint8Array(0)]), /keyConfigs\[0\] is empty/);
  });
});
