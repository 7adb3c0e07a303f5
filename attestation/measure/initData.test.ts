// Init-data digests against Kata Containers' own test vector: src/runtime/pkg/oci/utils_test.go (kata-containers at
// 7c6ba40c54, August 2026) gives an annotation and the digest its runtime computes from it (the bytes QEMU then gets as
// host-data, cut to 32, and mrconfigid, padded to 48). The metadata checks name the field and the code.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { ParseError } from '../errors.js';
import { fitToField, initDataBinding, initDataMetadata } from './initData.js';

const KATA_ANNOTATION = 'H4sIAFlC92cAAytLLSrOzM9TsFVQMtAz1DNQ4krMSc8vyizJyAWJFWckGpmaKXFFpySWJMZyKSUm6pXk5+YoAeXU1dW5QJhLKTklA4toQX5OZnKlXlFqej6yBABS/5JkcQAAAA==';
const KATA_DIGEST = 'c6694bb7a29d6f37ec72a15582e004b9f3142159682db8509a304407419a49e5';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('initDataBinding', () => {
  it('gives the digest Kata\'s runtime computes for its test annotation, as HOST_DATA and zero-padded MRCONFIGID', async () => {
    const toml = new Uint8Array(gunzipSync(Buffer.from(KATA_ANNOTATION, 'base64')));
    const b = await initDataBinding(toml);
    assert.equal(b.algorithm, 'sha256');
    assert.equal(Buffer.from(b.digest).toString('hex'), KATA_DIGEST);
    assert.equal(b.hostData, KATA_DIGEST);
    assert.equal(b.mrConfigId, KATA_DIGEST + '00'.repeat(16));
  });

  it('hashes with the algorithm the TOML names, the bytes as given, and cuts a longer digest for HOST_DATA', async () => {
    const text = 'algorithm = "sha384"\nversion = "0.1.0"\n\n[data]\n"policy.rego" = \'\'\'\npackage agent_policy\n\'\'\'\n';
    const b = await initDataBinding(bytes(text));
    const sha384 = createHash('sha384').update(text).digest('hex');
    assert.deepEqual([b.algorithm, b.mrConfigId, b.hostData], ['sha384', sha384, sha384.slice(0, 64)]);
    const other = await initDataBinding(bytes(text.replace('"sha384"', "'sha384'")));
    assert.notEqual(other.mrConfigId, b.mrConfigId, 'another encoding of the same data is another digest');
    const sha512 = await initDataBinding(bytes('version = "0.1.0"\nalgorithm = "sha512"\n[data]\n'));
    assert.equal(sha512.digest.length, 64);
    assert.equal(sha512.mrConfigId, Buffer.from(sha512.digest.subarray(0, 48)).toString('hex'));
  });

  it('refuses what the runtime refuses: another version or algorithm, missing metadata, text that is not UTF-8', async () => {
    const cases: [string | Uint8Array, string, string][] = [
      ['version = "0.2.0"\nalgorithm = "sha256"\n', 'UNSUPPORTED_VERSION', 'version'],
      ['version = "0.1.0"\nalgorithm = "md5"\n', 'UNSUPPORTED_ALGORITHM', 'algorithm'],
      ['version = "0.1.0"\n[data]\nalgorithm = "sha256"\n', 'MALFORMED_FIELD', 'algorithm'],
      ['algorithm = "sha256"\n', 'MALFORMED_FIELD', 'version'],
      [new Uint8Array([0x76, 0xff, 0xfe]), 'MALFORMED_FIELD', 'init-data'],
    ];
    for (const [input, code, field] of cases) {
      await assert.rejects(initDataBinding(typeof input === 'string' ? bytes(input) : input), (e: unknown) => e instanceof ParseError && e.code === code && e.field === field, `${code} ${field}`);
    }
    assert.deepEqual(initDataMetadata("# init-data\n\"version\" = '0.1.0' # spec\nalgorithm=\"sha256\"\n"), { version: '0.1.0', algorithm: 'sha256' });
  });

  it('fits a digest to a field: cut at the end, or padded with zero bytes', () => {
    assert.deepEqual([...fitToField(new Uint8Array([1, 2, 3]), 2)], [1, 2]);
    assert.deepEqual([...fitToField(new Uint8Array([1, 2]), 4)], [1, 2, 0, 0]);
  });
});
