import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeOid, decodeOne, encodeOid, encodeSequence, encodeSmallInteger, encodeTlv, readTlv, TAG } from './der.js';

describe('the DER encoders', () => {
  it('encodeOid writes what decodeOid reads, multi-byte arcs included', () => {
    for (const oid of ['1.2.840.113741.1.13.1.2.18', '2.5.29.20', '0.9', '2.39.1', '1.3.6.1.4.1.311.21.7']) assert.equal(decodeOid(decodeOne(encodeOid(oid))), oid);
    assert.deepEqual([...encodeOid('1.2.840.113741.1.13.1')], [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01]);
    for (const bad of ['1', '3.1', '1.40', '1.2.x', '1.-2']) assert.throws(() => encodeOid(bad), RangeError, bad);
  });

  it('encodeTlv uses the short form below 128 bytes and the long form above, up to 2^24 - 1', () => {
    for (const n of [0, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000]) {
      const der = encodeTlv(TAG.OCTET_STRING, new Uint8Array(n).fill(7));
      const { tlv, next } = readTlv(der, 0);
      assert.equal(tlv.value.length, n);
      assert.equal(next, der.length);
    }
    assert.deepEqual([...encodeTlv(TAG.OCTET_STRING, new Uint8Array(0x80)).subarray(0, 3)], [0x04, 0x81, 0x80]);
    assert.throws(() => encodeTlv(TAG.OCTET_STRING, new Uint8Array(0x1000000)), RangeError);
  });

  it('encodeSequence joins its elements', () => {
    assert.deepEqual([...encodeSequence(encodeSmallInteger(1), encodeSmallInteger(255))], [0x30, 0x07, 0x02, 0x01, 0x01, 0x02, 0x02, 0x00, 0xff]);
  });
});
