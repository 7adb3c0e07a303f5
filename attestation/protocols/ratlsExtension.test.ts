import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { concatBytes, fromHex, toHex } from '../bytes.js';
import { encodeCbor, type CborValue } from './cbor.js';
import { ParseError } from '../errors.js';
import { decodeOhttpKeys, decodeRaTlsExtension, encodeOhttpKeys, encodeRaTlsExtension } from './ratlsExtension.js';

const octets = (cbor: Uint8Array): Uint8Array => concatBytes(new Uint8Array([0x04, cbor.length]), cbor);
const evidence = (value: Uint8Array = new Uint8Array([0x7b, 0x7d])): CborValue => ['application/vnd.cloister.evidence+json', value, 4];
const keys = (value: Uint8Array = new Uint8Array(0)): CborValue => ['application/ohttp-keys', value];

describe('RA-TLS extension (id-pe-cmw, cbor form)', () => {
  it('encodes a CMW collection of an evidence record and an ohttp-keys record, byte-exact', () => {
    const ext = encodeRaTlsExtension({ bundle: new TextEncoder().encode('{}'), keyConfigs: [new Uint8Array([1, 2])] });
    // 04 len | a2 | "evidence" [ "application/vnd.cloister.evidence+json", h'7b7d', 4 ] | "ohttp-keys" [ "application/ohttp-keys", h'00020102' ]
    const cbor = `a26865766964656e636583${toHex(encodeCbor('application/vnd.cloister.evidence+json'))}427b7d046a6f687474702d6b65797382${toHex(encodeCbor('application/ohttp-keys'))}4400020102`;
    assert.equal(toHex(ext), `04${(cbor.length / 2).toString(16)}${cbor}`);
  });

  it('round-trips, including large bundles (multi-byte DER lengths) and no key configs', () => {
    for (const size of [0, 2, 200, 70000]) {
      const bundle = new Uint8Array(size).map((_, i) => i & 0xff);
      const keyConfigs = size === 0 ? [] : [new Uint8Array([7]), new Uint8Array(300).fill(9)];
      assert.deepEqual(decodeRaTlsExtension(encodeRaTlsExtension({ bundle, keyConfigs })), { bundle, keyConfigs });
    }
  });

  it('round-trips the optional transparency record, and reads certificates without it as before', () => {
    const bundle = new TextEncoder().encode('{}');
    const transparencyBundle = new TextEncoder().encode('{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}');
    assert.deepEqual(decodeRaTlsExtension(encodeRaTlsExtension({ bundle, keyConfigs: [], transparencyBundle })), { bundle, keyConfigs: [], transparencyBundle });
    assert.equal('transparencyBundle' in decodeRaTlsExtension(encodeRaTlsExtension({ bundle, keyConfigs: [] })), false);
  });

  it('ignores collection members it does not know', () => {
    const cbor = encodeCbor(new Map<string, CborValue>([['evidence', evidence()], ['ohttp-keys', keys()], ['zzz', ['text/plain', new Uint8Array(1)]]]));
    assert.deepEqual(decodeRaTlsExtension(octets(cbor)).keyConfigs, []);
  });

  const bad: [string, Uint8Array, string][] = [
    ['the json form', concatBytes(new Uint8Array([0x0c, 2]), new TextEncoder().encode('{}')), 'json form'],
    ['a non-CMW DER type', new Uint8Array([0x02, 1, 0]), 'not the cbor form'],
    ['a record instead of a collection', octets(encodeCbor(evidence())), 'not a collection'],
    ['no evidence record', octets(encodeCbor(new Map([['ohttp-keys', keys()]]))), 'no "evidence" record'],
    ['no ohttp-keys record', octets(encodeCbor(new Map([['evidence', evidence()]]))), 'no "ohttp-keys" record'],
    ['a wrong media type', octets(encodeCbor(new Map([['evidence', ['application/json', new Uint8Array(1), 4]], ['ohttp-keys', keys()]]))), 'type is "application/json"'],
    ['a wrong indicator', octets(encodeCbor(new Map([['evidence', ['application/vnd.cloister.evidence+json', new Uint8Array(1), 2]], ['ohttp-keys', keys()]]))), 'indicator is 2'],
    ['a text value', octets(encodeCbor(new Map([['evidence', ['application/vnd.cloister.evidence+json', 'x', 4]], ['ohttp-keys', keys()]]))), 'not a byte string'],
    ['a short record', octets(encodeCbor(new Map([['evidence', ['application/vnd.cloister.evidence+json']], ['ohttp-keys', keys()]]))), 'not a CMW record'],
    ['a zero-length key config', octets(encodeCbor(new Map([['evidence', evidence()], ['ohttp-keys', keys(new Uint8Array([0, 0]))]]))), 'length 0'],
    ['a truncated key config', octets(encodeCbor(new Map([['evidence', evidence()], ['ohttp-keys', keys(new Uint8Array([0, 5, 1]))]]))), 'runs past the end'],
    ['a truncated length prefix', octets(encodeCbor(new Map([['evidence', evidence()], ['ohttp-keys', keys(new Uint8Array([0]))]]))), 'length prefix truncated'],
    ['a transparency record of another type', octets(encodeCbor(new Map([['evidence', evidence()], ['ohttp-keys', keys()], ['transparency', ['application/json', new Uint8Array(1), 1]]]))), 'cmw.transparency type'],
    ['an oversized transparency record', encodeRaTlsExtension({ bundle: new Uint8Array(1), keyConfigs: [], transparencyBundle: new Uint8Array(64 * 1024 + 1) }), 'more than 65536'],
    ['trailing DER bytes', concatBytes(octets(encodeCbor(0)), new Uint8Array(1)), 'trailing'],
  ];
  for (const [what, bytes, text] of bad) {
    it(`rejects ${what} with a ParseError`, () => {
      assert.throws(() => decodeRaTlsExtension(bytes), (e: unknown) => e instanceof ParseError && e.message.includes(text));
    });
  }

  it('encodes application/ohttp-keys as RFC 9458 does and refuses empty configs', () => {
    assert.equal(toHex(encodeOhttpKeys([fromHex('aa'), fromHex('bbcc')])), '0001aa0002bbcc');
    assert.deepEqual(decodeOhttpKeys(fromHex('0001aa0002bbcc')), [fromHex('aa'), fromHex('bbcc')]);
    assert.throws(() => encodeOhttpKeys([new Uint8Array(0)]), RangeError);
  });

  it('arbitrary extension bytes either decode or throw ParseError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
      try {
        decodeRaTlsExtension(bytes);
      } catch (e) {
        if (!(e instanceof ParseError)) throw e;
      }
    }), { numRuns: 1000 });
  });
});
