import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { keysDigest, keysDigestInput } from './reportData.js';
import { fromHex, toHex } from '../bytes.js';
import { CloisterError } from '../errors.js';

// docs/evidence-bundle.md "REPORT_DATA bindings": the SPKI and key configs of the RA-TLS binding vector
// (docs/ra-tls.md); the digests were also computed with Python's hashlib (struct.pack('>H', ...) prefixes).
const SPKI = '3059301306072a8648ce3d020106082a8648ce3d030107034200046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c2964fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5';
const CONFIGS = ['01002031e1f05a740102115220e9af918f738674aec95f54db6e04eb705aae8e79815500080001000100010003', `020020${'22'.repeat(32)}000400010001`];
const DIGEST_BOTH = 'd8d174ae2cd62030c1b3186768c4cce39f5718da895d48e6a83c9c64bd2f0b61';
const DIGEST_NONE = '8a6f87400af566f3cc35e25537b6f888c14abf56708bdacd1e5cb2a0f01e427f';

const spki = fromHex(SPKI);
const configs = CONFIGS.map((c) => fromHex(c));

describe('keysDigest', () => {
  it('hashes exactly "cloister/keys/v1" || 0x00 || u16be(len spki) || spki || u16be(n) || (u16be(len) || config)*', () => {
    const label = toHex(new TextEncoder().encode('cloister/keys/v1'));
    assert.equal(toHex(keysDigestInput(spki, configs)), `${label}00005b${SPKI}0002002d${CONFIGS[0] ?? ''}0029${CONFIGS[1] ?? ''}`);
    assert.equal(toHex(keysDigestInput(spki, [])), `${label}00005b${SPKI}0000`);
  });

  it('matches the test vector, which docs/evidence-bundle.md states', async () => {
    assert.equal(toHex(await keysDigest(spki, configs)), DIGEST_BOTH);
    assert.equal(toHex(await keysDigest(spki, [])), DIGEST_NONE);
    const doc = readFileSync(fileURLToPath(new URL('../../../docs/evidence-bundle.md', import.meta.url)), 'utf8');
    for (const hex of [DIGEST_BOTH, DIGEST_NONE]) assert.ok(doc.includes(hex), `docs/evidence-bundle.md lacks ${hex.slice(0, 16)}...`);
  });

  it('changes with the key and the configs and refuses empty parts', async () => {
    const other = spki.slice();
    other[90] = (other[90] as number) ^ 1;
    const all = [await keysDigest(spki, configs), await keysDigest(other, configs), await keysDigest(spki, configs.slice().reverse()), await keysDigest(spki, [])].map(toHex);
    assert.equal(new Set(all).size, 4);
    assert.throws(() => keysDigestInput(new Uint8Array(0), []), (e: unknown) => e instanceof CloisterError && e.code === 'MALFORMED_FIELD' && e.field === 'spki');
    assert.throws(() => keysDigestInput(spki, [new Uint8Array(0x10000)]), (e: unknown) => e instanceof CloisterError && e.code === 'MALFORMED_FIELD');
  });
});
