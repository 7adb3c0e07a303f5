import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { fromHex, toHex } from '../bytes.js';
import { ParseError } from '../errors.js';
import { applyEdits, edits, onlyParseErrors } from '../testing/parseErrors.js';
import { PROTOCOL_VECTORS } from '../testing/vectors.js';
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse, encodeResponseParts, isPadding, type BhttpFields, type BhttpRequest, type BhttpResponse } from './bhttp.js';
import { encodeVarint, VarintReader, varintSize } from './varint.js';

// RFC 9292 section 5 and RFC 9458 Appendix A, as hex (see the file's "source" and "notes").
const EXAMPLES = JSON.parse(readFileSync(`${PROTOCOL_VECTORS}bhttp-rfc9292/rfc9292-examples.json`, 'utf8')) as Record<
  'known_length_request' | 'indeterminate_length_request' | 'indeterminate_length_response_with_interim' | 'known_length_chunked_response' | 'rfc9458_tiny_request' | 'rfc9458_tiny_response',
  string
>;

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);
const hexOf = (s: string): string => toHex(ascii(s));

function isBhttpError(field?: string, offset?: number): (e: unknown) => boolean {
  return (e) => {
    assert.ok(e instanceof ParseError, `expected a ParseError, got ${String(e)}`);
    assert.equal(e.code, 'MALFORMED_BHTTP');
    if (field !== undefined) assert.equal(e.field, field, e.message);
    if (offset !== undefined) assert.equal(e.offset, offset, e.message);
    return true;
  };
}

function throwsOnlyBhttpErrors(fn: () => unknown): boolean {
  try {
    fn();
    return true;
  } catch (e) {
    isBhttpError()(e);
    return false;
  }
}

const HELLO_REQUEST: BhttpRequest = {
  method: 'GET',
  scheme: 'https',
  authority: '',
  path: '/hello.txt',
  headers: [
    ['user-agent', 'curl/7.16.3 libcurl/7.16.3 OpenSSL/0.9.7l zlib/1.2.3'],
    ['host', 'www.example.com'],
    ['accept-language', 'en, mi'],
  ],
  content: new Uint8Array(0),
  trailers: [],
};

const INTERIM_RESPONSE: BhttpResponse = {
  informational: [
    { status: 102, headers: [['running', '"sleep 15"']] },
    {
      status: 103,
      headers: [
        ['link', '</style.css>; rel=preload; as=style'],
        ['link', '</script.js>; rel=preload; as=script'],
      ],
    },
  ],
  status: 200,
  headers: [
    ['date', 'Mon, 27 Jul 2009 12:28:53 GMT'],
    ['server', 'Apache'],
    ['last-modified', 'Wed, 22 Jul 2009 19:15:56 GMT'],
    ['etag', '"34aa387-d-1568eb00"'],
    ['accept-ranges', 'bytes'],
    ['content-length', '51'],
    ['vary', 'Accept-Encoding'],
    ['content-type', 'text/plain'],
  ],
  content: ascii('Hello World! My content includes a trailing CRLF.\r\n'),
  trailers: [],
};

const CHUNKED_RESPONSE: BhttpResponse = {
  informational: [],
  status: 200,
  headers: [],
  content: ascii('This content contains CRLF.\r\n'),
  trailers: [['trailer', 'text']],
};

const TINY_REQUEST: BhttpRequest = { method: 'GET', scheme: 'https', authority: 'example.com', path: '/', headers: [], content: new Uint8Array(0), trailers: [] };
const TINY_RESPONSE: BhttpResponse = { status: 200, informational: [], headers: [], content: new Uint8Array(0), trailers: [] };

/** Test-only indeterminate-length encoder (framing 2 and 3), content split at `cuts`, then `padding` zeros. */
function indeterminate(m: BhttpRequest | BhttpResponse, cuts: readonly number[] = [], padding = 0): Uint8Array {
  const text = (s: string): number[] => [...encodeVarint(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
  const section = (fields: BhttpFields): number[] => [...fields.flatMap(([n, v]) => [...text(n), ...text(v)]), 0];
  const out: number[] = [];
  if ('method' in m) out.push(2, ...text(m.method), ...text(m.scheme), ...text(m.authority), ...text(m.path));
  else {
    out.push(3);
    for (const i of m.informational) out.push(...encodeVarint(i.status), ...section(i.headers));
    out.push(...encodeVarint(m.status));
  }
  out.push(...section(m.headers));
  let at = 0;
  for (const cut of [...new Set(cuts)].filter((c) => c > 0 && c < m.content.length).sort((a, b) => a - b).concat(m.content.length)) {
    if (cut > at) out.push(...encodeVarint(cut - at), ...m.content.subarray(at, cut));
    at = cut;
  }
  out.push(0, ...section(m.trailers), ...new Array<number>(padding).fill(0));
  return new Uint8Array(out);
}

describe('QUIC varints (RFC 9000 section 16)', () => {
  const boundaries: [number, string][] = [
    [0, '00'],
    [63, '3f'],
    [64, '4040'],
    [16383, '7fff'],
    [16384, '80004000'],
    [2 ** 30 - 1, 'bfffffff'],
    [2 ** 30, 'c000000040000000'],
    [2 ** 32 + 5, 'c000000100000005'],
    [Number.MAX_SAFE_INTEGER, 'c01fffffffffffff'],
  ];
  for (const [n, hex] of boundaries) {
    it(`encodes ${n} as ${hex} and reads it back`, () => {
      assert.equal(toHex(encodeVarint(n)), hex);
      assert.equal(varintSize(n), hex.length / 2);
      const r = new VarintReader(fromHex(hex));
      assert.equal(r.varint('n'), n);
      assert.ok(r.atEnd());
    });
  }

  it('decodes the RFC 9000 Appendix A.1 examples, refusing the one above 2^53 - 1', () => {
    for (const [hex, n] of [['9d7f3e7d', 494878333], ['7bbd', 15293], ['25', 37], ['4025', 37]] as const) assert.equal(new VarintReader(fromHex(hex)).varint('n'), n);
    assert.throws(() => new VarintReader(fromHex('c2197c5eff14e88c')).varint('n'), isBhttpError('n', 0));
  });

  it('accepts non-minimal encodings on decode, as RFC 9000 section 16 allows', () => {
    for (const hex of ['4001', '80000001', 'c000000000000001']) assert.equal(new VarintReader(fromHex(hex)).varint('n'), 1);
    assert.equal(new VarintReader(fromHex('c000000000000000')).varint('n'), 0);
  });

  it('refuses values above 2^53 - 1, and numbers that are not unsigned safe integers on encode', () => {
    for (const hex of ['c020000000000000', 'ffffffffffffffff']) assert.throws(() => new VarintReader(fromHex(hex)).varint('n'), isBhttpError('n', 0));
    for (const n of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
      assert.throws(() => encodeVarint(n), isBhttpError('varint'));
      assert.throws(() => varintSize(n), isBhttpError('varint'));
    }
  });

  it('reports truncated varints and byte runs with the field and offset', () => {
    assert.throws(() => new VarintReader(new Uint8Array(0)).varint('n'), isBhttpError('n', 0));
    for (const hex of ['40', '800000', 'c0000000000000']) assert.throws(() => new VarintReader(fromHex(hex)).varint('n'), isBhttpError('n', 0));
    const r = new VarintReader(fromHex('0501020304'), 'test');
    assert.throws(() => r.lengthPrefixed('blob'), (e) => isBhttpError('blob', 1)(e) && /^test: blob needs 5 bytes, only 4 remain/.test((e as Error).message));
    assert.throws(() => new VarintReader(fromHex('00')).bytes(-1, 'x'), isBhttpError('x'));
  });

  it('returns byte runs as views into the input, advancing offset and remaining', () => {
    const input = fromHex('0203aabbcc01ff');
    const r = new VarintReader(input);
    assert.equal(r.varint('a'), 2);
    const view = r.lengthPrefixed('b');
    assert.equal(toHex(view), 'aabbcc');
    assert.equal(view.buffer, input.buffer);
    assert.equal(view.byteOffset, 2);
    assert.equal(r.offset, 5);
    assert.equal(r.remaining, 2);
    assert.equal(toHex(r.bytes(2, 'c')), '01ff');
    assert.ok(r.atEnd());
  });

  it('round-trips every safe integer it is given', () => {
    fc.assert(
      fc.property(fc.oneof(fc.nat({ max: 2 ** 31 }), fc.maxSafeNat()), (n) => {
        const bytes = encodeVarint(n);
        assert.equal(bytes.length, varintSize(n));
        assert.equal(new VarintReader(bytes).varint('n'), n);
      }),
      { numRuns: 500 },
    );
  });
});

describe('Binary HTTP examples (RFC 9292 section 5, RFC 9458 Appendix A)', () => {
  it('decodes the known-length request', () => {
    assert.deepEqual(decodeRequest(fromHex(EXAMPLES.known_length_request)), HELLO_REQUEST);
  });

  it('decodes the indeterminate-length request and its 10 bytes of padding, the same message', () => {
    const bytes = fromHex(EXAMPLES.indeterminate_length_request);
    assert.equal(toHex(bytes.subarray(-10)), '00'.repeat(10));
    assert.deepEqual(decodeRequest(bytes), HELLO_REQUEST);
  });

  it('decodes the indeterminate-length response with interim responses 102 and 103', () => {
    const m = decodeResponse(fromHex(EXAMPLES.indeterminate_length_response_with_interim));
    assert.deepEqual(m.informational, INTERIM_RESPONSE.informational);
    assert.deepEqual(m.informational.map((i) => i.status), [102, 103]);
    assert.equal(m.status, 200);
    assert.deepEqual(m.headers, INTERIM_RESPONSE.headers);
    assert.equal(m.content.length, 51);
    assert.equal(new TextDecoder().decode(m.content), 'Hello World! My content includes a trailing CRLF.\r\n');
    assert.deepEqual(m.trailers, []);
    assert.deepEqual(m, INTERIM_RESPONSE);
  });

  it('decodes the known-length response from chunked HTTP/1.1, with its trailer', () => {
    assert.deepEqual(decodeResponse(fromHex(EXAMPLES.known_length_chunked_response)), CHUNKED_RESPONSE);
  });

  it('decodes RFC 9458\'s tiny request and response, which end after their control data', () => {
    assert.deepEqual(decodeRequest(fromHex(EXAMPLES.rfc9458_tiny_request)), TINY_REQUEST);
    assert.deepEqual(decodeResponse(fromHex(EXAMPLES.rfc9458_tiny_response)), TINY_RESPONSE);
  });

  // RFC 9292 section 3.8: "If the trailers of a message are empty, they MAY be omitted by the encoder in
  // place of adding a length field equal to zero. An encoder MAY omit empty content in the same way if the
  // trailers are also empty. A message that is truncated at any other point is invalid". The encoder
  // truncates nothing: the header section may not be omitted by that text (RFC 9458 Appendix A does it
  // anyway, and we decode that), and an untruncated message is valid for every decoder.
  it('encodes the known-length examples byte for byte, empty content and trailer sections included', () => {
    assert.equal(toHex(encodeRequest(decodeRequest(fromHex(EXAMPLES.known_length_request)))), EXAMPLES.known_length_request);
    assert.ok(EXAMPLES.known_length_request.endsWith('0000'));
    assert.equal(toHex(encodeResponse(decodeResponse(fromHex(EXAMPLES.known_length_chunked_response)))), EXAMPLES.known_length_chunked_response);
  });

  it('encodes the indeterminate-length request as the known-length example', () => {
    assert.equal(toHex(encodeRequest(decodeRequest(fromHex(EXAMPLES.indeterminate_length_request)))), EXAMPLES.known_length_request);
  });

  it('writes the empty sections RFC 9458\'s tiny messages leave out', () => {
    assert.equal(toHex(encodeRequest(TINY_REQUEST)), `${EXAMPLES.rfc9458_tiny_request}000000`);
    assert.equal(toHex(encodeResponse(TINY_RESPONSE)), `${EXAMPLES.rfc9458_tiny_response}000000`);
  });

  it('encodes the interim response as known-length, each 1xx before the final status', () => {
    const bytes = encodeResponse(INTERIM_RESPONSE);
    const expectedStart = `01${toHex(encodeVarint(102))}${toHex(encodeVarint(1 + 7 + 1 + 10))}07${hexOf('running')}0a${hexOf('"sleep 15"')}${toHex(encodeVarint(103))}`;
    assert.ok(toHex(bytes).startsWith(expectedStart));
    assert.deepEqual(decodeResponse(bytes), INTERIM_RESPONSE);
  });

  for (const name of ['known_length_request', 'indeterminate_length_request', 'rfc9458_tiny_request'] as const) {
    it(`${name}: our encoding decodes back to the same message`, () => {
      const m = decodeRequest(fromHex(EXAMPLES[name]));
      assert.deepEqual(decodeRequest(encodeRequest(m)), m);
    });
  }
  for (const name of ['indeterminate_length_response_with_interim', 'known_length_chunked_response', 'rfc9458_tiny_response'] as const) {
    it(`${name}: our encoding decodes back to the same message`, () => {
      const m = decodeResponse(fromHex(EXAMPLES[name]));
      assert.deepEqual(decodeResponse(encodeResponse(m)), m);
    });
  }
});

const finalStatusEnd = 111;

describe('Binary HTTP truncation and padding (RFC 9292 section 3.8)', () => {
  const cases: [keyof typeof EXAMPLES, (b: Uint8Array) => unknown, number[]][] = [
    // ends after the control data (23 bytes), the header section, the content, the trailer section
    ['known_length_request', decodeRequest, [23, 133, 134, 135]],
    // the same, then 10 bytes of padding: "anything up to 12 bytes can be removed" (section 5.1)
    ['indeterminate_length_request', decodeRequest, [23, ...Array.from({ length: 13 }, (_, i) => 132 + i)]],
    // the final status ends at 111; then 1 header terminator, 53 bytes of content chunk and terminator, 1 trailer terminator
    ['indeterminate_length_response_with_interim', decodeResponse, [finalStatusEnd, 314, 367, 368]],
    ['known_length_chunked_response', decodeResponse, [3, 4, 34, 48]],
    ['rfc9458_tiny_request', decodeRequest, [25]],
    ['rfc9458_tiny_response', decodeResponse, [3]],
  ];
  for (const [name, decode, valid] of cases) {
    it(`${name}: only the prefixes RFC 9292 allows decode, every other throws MALFORMED_BHTTP`, () => {
      const bytes = fromHex(EXAMPLES[name]);
      assert.equal(bytes.length, valid.at(-1));
      const decoded: number[] = [];
      for (let n = 0; n <= bytes.length; n++) if (throwsOnlyBhttpErrors(() => decode(bytes.slice(0, n)))) decoded.push(n);
      assert.deepEqual(decoded, valid);
    });
  }

  it('reads a truncated message as one with empty sections', () => {
    const full = fromHex(EXAMPLES.indeterminate_length_response_with_interim);
    assert.equal(toHex(full.subarray(finalStatusEnd - 2, finalStatusEnd)), '40c8');
    const noBody = decodeResponse(full.subarray(0, finalStatusEnd));
    assert.deepEqual(noBody, { ...INTERIM_RESPONSE, headers: [], content: new Uint8Array(0) });
    const noContent = decodeResponse(full.subarray(0, 314));
    assert.deepEqual(noContent, { ...INTERIM_RESPONSE, content: new Uint8Array(0) });
    const known = fromHex(EXAMPLES.known_length_chunked_response);
    assert.deepEqual(decodeResponse(known.subarray(0, 34)), { ...CHUNKED_RESPONSE, trailers: [] });
  });

  it('accepts zero padding after any message', () => {
    const pad = new Uint8Array(7);
    for (const hex of [EXAMPLES.known_length_request, EXAMPLES.rfc9458_tiny_request]) {
      assert.deepEqual(decodeRequest(fromHex(hex + toHex(pad))), decodeRequest(fromHex(hex)));
    }
    assert.deepEqual(decodeResponse(fromHex(EXAMPLES.known_length_chunked_response + toHex(pad))), CHUNKED_RESPONSE);
    assert.deepEqual(decodeResponse(indeterminate(INTERIM_RESPONSE, [10, 20], 100)), INTERIM_RESPONSE);
  });

  it('rejects a non-zero byte anywhere in the padding, naming its offset', () => {
    const bytes = fromHex(EXAMPLES.indeterminate_length_request);
    for (let at = bytes.length - 10; at < bytes.length; at++) {
      for (const v of [0x01, 0x80, 0xff]) {
        const b = bytes.slice();
        b[at] = v;
        assert.throws(() => decodeRequest(b), isBhttpError('Padding', at));
      }
    }
    assert.throws(() => decodeResponse(fromHex(`${EXAMPLES.known_length_chunked_response}000001`)), isBhttpError('Padding', 50));
  });

  it('rejects a known-length message cut inside a section, or whose section overruns the input', () => {
    assert.throws(() => decodeResponse(fromHex('0140c8050000')), isBhttpError('Header Section', 4));
    assert.throws(() => decodeRequest(fromHex(`${EXAMPLES.rfc9458_tiny_request}0005aabb`)), isBhttpError('Content'));
    assert.throws(() => decodeRequest(fromHex(`${EXAMPLES.rfc9458_tiny_request}00c01fffffffffffff`)), isBhttpError('Content'));
    assert.throws(() => decodeRequest(fromHex(`${EXAMPLES.rfc9458_tiny_request}ffffffffffffffff`)), isBhttpError('Header Section Length'));
  });
});

describe('Binary HTTP padding on encode (RFC 9292 section 3.8)', () => {
  const to = (total: number) => ({ padTo: () => total });
  const TINY_LENGTH = encodeRequest(TINY_REQUEST).length;
  const tail = (b: Uint8Array, n: number): boolean => b.subarray(b.length - n).every((x) => x === 0);

  it('pads the known-length example with the indeterminate-length example\'s 10 zero bytes: both decode to one message', () => {
    const known = fromHex(EXAMPLES.known_length_request);
    const padded = encodeRequest(HELLO_REQUEST, to(known.length + 10));
    assert.equal(toHex(padded), `${EXAMPLES.known_length_request}${'00'.repeat(10)}`);
    assert.deepEqual(decodeRequest(padded), decodeRequest(fromHex(EXAMPLES.indeterminate_length_request)));
  });

  it('pads a request and a response to exactly the length asked for, with zeros after the trailer section', () => {
    const request = encodeRequest(HELLO_REQUEST, { padTo: (n) => n + 1000 });
    assert.equal(request.length, fromHex(EXAMPLES.known_length_request).length + 1000);
    assert.ok(tail(request, 1000));
    assert.deepEqual(decodeRequest(request), HELLO_REQUEST);
    const response = encodeResponse(INTERIM_RESPONSE, to(4096));
    assert.equal(response.length, 4096);
    assert.deepEqual(decodeResponse(response), INTERIM_RESPONSE);
    assert.equal(toHex(encodeResponse(CHUNKED_RESPONSE, { padTo: (n) => n })), EXAMPLES.known_length_chunked_response, 'a length equal to the message\'s adds nothing');
  });

  it('gives the response\'s padding as a last part of its own, after the caller\'s own content array', () => {
    const content = ascii('the answer');
    const message: BhttpResponse = { ...TINY_RESPONSE, content };
    const plain = encodeResponseParts(message);
    const parts = encodeResponseParts(message, to(1024));
    assert.equal(parts.length, plain.length + 1);
    assert.ok(parts.includes(content), 'the content is passed through, not copied');
    const padding = parts.at(-1) as Uint8Array;
    assert.equal(padding.length, 1024 - plain.reduce((n, p) => n + p.length, 0));
    assert.ok(padding.every((b) => b === 0));
    assert.ok(isPadding(padding) && !parts.slice(0, -1).some(isPadding), 'only the padding is a view of the shared zero block');
    assert.ok(padding.byteLength < padding.buffer.byteLength, 'never the whole block, so no owner can free it');
    const larger = encodeResponseParts(message, to(1 << 20)).at(-1) as Uint8Array;
    assert.ok(isPadding(larger) && larger.every((b) => b === 0), 'the block grows for a larger class, still zeros');
    assert.deepEqual(Buffer.concat(parts), Buffer.from(encodeResponse(message, to(1024))));
    assert.equal(encodeResponseParts(message, { padTo: (n) => n }).length, plain.length, 'no empty padding part');
  });

  it('refuses a padded length below the message\'s, or not a whole number of bytes (MALFORMED_BHTTP, field Padding)', () => {
    for (const padTo of [(n: number) => n - 1, () => 0, (n: number) => n + 0.5, () => Number.NaN, () => Number.POSITIVE_INFINITY]) {
      assert.throws(() => encodeRequest(TINY_REQUEST, { padTo }), isBhttpError('Padding'));
      assert.throws(() => encodeResponseParts(TINY_RESPONSE, { padTo }), isBhttpError('Padding'));
    }
  });

  it('finds a non-zero byte anywhere in long padding, at any alignment of the input, and names its offset', () => {
    const message = encodeRequest(TINY_REQUEST, to(TINY_LENGTH + 1000));
    for (const shift of [0, 1, 2, 3]) {
      const input = new Uint8Array(message.length + shift).subarray(shift);
      input.set(message);
      assert.deepEqual(decodeRequest(input), TINY_REQUEST);
      for (const at of [0, 1, 2, 3, 4, 5, 255, 256, 257, 258, 259, 511, 512, 997, 998, 999].map((i) => TINY_LENGTH + i)) {
        const bad = input.slice();
        bad[at] = 0x80;
        assert.throws(() => decodeRequest(new Uint8Array(bad.buffer, 0, bad.length)), isBhttpError('Padding', at), `shift ${shift}, offset ${at}`);
        input[at] = 0x01;
        assert.throws(() => decodeRequest(input), isBhttpError('Padding', at), `shift ${shift}, offset ${at}, in place`);
        input[at] = 0;
      }
    }
  });

  it('decodes padding after a message truncated at any point RFC 9292 allows: the zeros read as the sections left out', () => {
    const pad = '00'.repeat(9);
    assert.deepEqual(decodeRequest(fromHex(EXAMPLES.rfc9458_tiny_request + pad)), TINY_REQUEST);
    assert.deepEqual(decodeResponse(fromHex(EXAMPLES.rfc9458_tiny_response + pad)), TINY_RESPONSE);
    const known = fromHex(EXAMPLES.known_length_chunked_response);
    assert.deepEqual(decodeResponse(fromHex(toHex(known.subarray(0, 34)) + pad)), { ...CHUNKED_RESPONSE, trailers: [] });
    const indeterminate = fromHex(EXAMPLES.indeterminate_length_response_with_interim);
    assert.deepEqual(decodeResponse(fromHex(toHex(indeterminate.subarray(0, finalStatusEnd)) + pad)), { ...INTERIM_RESPONSE, headers: [], content: new Uint8Array(0) });
    assert.deepEqual(decodeResponse(fromHex(toHex(indeterminate.subarray(0, 314)) + pad)), { ...INTERIM_RESPONSE, content: new Uint8Array(0) });
    assert.throws(() => decodeRequest(fromHex(`${EXAMPLES.rfc9458_tiny_request}0000000001`)), isBhttpError('Padding', 29));
  });
});

describe('Binary HTTP content buffers', () => {
  it('returns known-length content as a view into the input, so wiping the input wipes it', () => {
    const input = fromHex(EXAMPLES.known_length_chunked_response);
    const m = decodeResponse(input);
    assert.equal(m.content.buffer, input.buffer);
    assert.equal(m.content.byteOffset, 5);
    input.fill(0);
    assert.ok(m.content.every((b) => b === 0));
  });

  it('copies indeterminate-length content out of its chunks', () => {
    const input = fromHex(EXAMPLES.indeterminate_length_response_with_interim);
    const m = decodeResponse(input);
    assert.notEqual(m.content.buffer, input.buffer);
    input.fill(0);
    assert.equal(m.content.length, 51);
    assert.equal(m.content[0], 0x48);
  });

  it('zeroes its copy of indeterminate-length content when the message fails after it (a malformed trailer)', () => {
    const text = (s: string): number[] => [s.length, ...new TextEncoder().encode(s)];
    const secret = 'SECRET-PLAINTEXT';
    // Framing 2, control data, no headers, one chunk, the content terminator, then a trailer field cut short.
    const input = Uint8Array.from([2, ...text('POST'), ...text('https'), ...text('cloister'), ...text('/v1/echo'), 0, ...text(secret), 0, 5, 0x61]);
    const made: Uint8Array[] = [];
    const Original = globalThis.Uint8Array;
    // Records the arrays the decoder makes: its joined copy is not otherwise reachable once it throws.
    globalThis.Uint8Array = class extends Original {
      constructor(...args: ConstructorParameters<typeof Uint8Array>) {
        super(...args);
        made.push(this);
      }
    };
    try {
      assert.throws(() => decodeRequest(input), (e: unknown) => e instanceof ParseError && e.code === 'MALFORMED_BHTTP');
    } finally {
      globalThis.Uint8Array = Original;
    }
    const copies = made.filter((m) => m.length === secret.length && m.buffer !== input.buffer);
    assert.ok(copies.length >= 1, 'the decoder joined the chunk into a copy');
    assert.ok(copies.every((c) => c.every((b) => b === 0)), 'and zeroed it before throwing');
  });

  it('returns frozen messages', () => {
    const m = decodeResponse(fromHex(EXAMPLES.indeterminate_length_response_with_interim));
    assert.ok(Object.isFrozen(m) && Object.isFrozen(m.headers) && Object.isFrozen(m.headers[0]) && Object.isFrozen(m.informational[0]));
  });
});

describe('Binary HTTP rejections', () => {
  const known = fromHex(EXAMPLES.known_length_request);

  it('rejects unknown framing indicators, and requests and responses given to the other decoder', () => {
    for (const framing of [4, 5, 63, 64, 2 ** 40]) {
      const b = fromHex(toHex(encodeVarint(framing)) + EXAMPLES.known_length_request.slice(2));
      assert.throws(() => decodeRequest(b), isBhttpError('Framing Indicator', 0));
      assert.throws(() => decodeResponse(b), isBhttpError('Framing Indicator', 0));
    }
    assert.throws(() => decodeResponse(known), isBhttpError('Framing Indicator', 0));
    assert.throws(() => decodeResponse(fromHex(EXAMPLES.indeterminate_length_request)), isBhttpError('Framing Indicator', 0));
    assert.throws(() => decodeRequest(fromHex(EXAMPLES.known_length_chunked_response)), isBhttpError('Framing Indicator', 0));
    assert.throws(() => decodeRequest(fromHex(EXAMPLES.indeterminate_length_response_with_interim)), isBhttpError('Framing Indicator', 0));
    assert.throws(() => decodeRequest(new Uint8Array(0)), isBhttpError('Framing Indicator', 0));
  });

  it('accepts a non-minimal framing indicator', () => {
    assert.deepEqual(decodeRequest(fromHex(`4000${EXAMPLES.known_length_request.slice(2)}`)), HELLO_REQUEST);
  });

  it('rejects an uppercase field name on decode, in either framing, and on encode', () => {
    for (const hex of [EXAMPLES.known_length_request, EXAMPLES.indeterminate_length_request]) {
      const b = fromHex(hex.replace(hexOf('user-agent'), hexOf('User-Agent')));
      assert.throws(() => decodeRequest(b), (e) => isBhttpError('Header Section Name', hex.indexOf(hexOf('user-agent')) / 2)(e) && /not lowercase/.test((e as Error).message));
    }
    assert.throws(() => encodeRequest({ ...HELLO_REQUEST, headers: [['User-Agent', 'x']] }), isBhttpError('Header Section Name'));
    assert.throws(() => encodeResponse({ ...CHUNKED_RESPONSE, trailers: [['Trailer', 'text']] }), isBhttpError('Trailer Section Name'));
  });

  it('rejects field names that are not tokens: empty, pseudo-fields, spaces, non-ASCII', () => {
    for (const name of ['', ':path', ':protocol', 'a b', 'caf\u00e9', 'a\u0100', 'x(y)']) {
      assert.throws(() => encodeRequest({ ...TINY_REQUEST, headers: [[name, 'v']] }), isBhttpError('Header Section Name'), JSON.stringify(name));
    }
    // known length: a section of one field line whose Name Length is 0
    assert.throws(() => decodeResponse(fromHex('0140c8020000')), isBhttpError('Header Section Name Length', 4));
    assert.throws(() => decodeResponse(fromHex(`0340c805${hexOf(':path')}012f00`)), isBhttpError('Header Section Name', 4));
  });

  it('rejects field values with NUL, CR, LF or surrounding whitespace, and chars above U+00FF on encode', () => {
    for (const value of ['a\0b', 'a\rb', 'a\nb', ' a', 'a\t', '\u20ac']) {
      assert.throws(() => encodeRequest({ ...TINY_REQUEST, headers: [['x', value]] }), isBhttpError('Header Section Value'), JSON.stringify(value));
    }
    for (const byte of ['00', '0a', '0d']) assert.throws(() => decodeResponse(fromHex(`0140c80501780261${byte}`)), isBhttpError('Header Section Value', 6));
    assert.throws(() => decodeResponse(fromHex('0140c805017802206100')), isBhttpError('Header Section Value', 6));
  });

  it('keeps field values as bytes: each one char, 0x80..0xff included', () => {
    const value = Array.from({ length: 0xff }, (_, i) => String.fromCharCode(i + 1)).join('').replace(/[\n\r]/g, '');
    const m: BhttpResponse = { ...TINY_RESPONSE, headers: [['x-bytes', value]] };
    const bytes = encodeResponse(m);
    assert.deepEqual(decodeResponse(bytes), m);
    assert.ok(toHex(bytes).includes('7e7f808182'));
  });

  it('rejects a field line that overruns its known-length section', () => {
    // section length 4, but the field line x: "abc" needs 6 bytes
    assert.throws(() => decodeResponse(fromHex('0140c804017803616263000000')), isBhttpError('Header Section Value'));
  });

  it('rejects invalid control data on decode and encode', () => {
    const request = (method: string, scheme: string, authority: string, path: string): Uint8Array =>
      new Uint8Array([0, ...[method, scheme, authority, path].flatMap((s) => [s.length, ...Array.from(s, (c) => c.charCodeAt(0))])]);
    assert.deepEqual(decodeRequest(request('CONNECT', '', 'example.com:443', '')), { ...TINY_REQUEST, method: 'CONNECT', scheme: '', authority: 'example.com:443', path: '' });
    const bad: [string, string, string, string, string][] = [
      ['Method', '', 'https', 'a', '/'],
      ['Method', 'G T', 'https', 'a', '/'],
      ['Method', 'G\u00c9T', 'https', 'a', '/'],
      ['Scheme', 'GET', '1http', 'a', '/'],
      ['Scheme', 'GET', 'ht/tp', 'a', '/'],
      ['Authority', 'GET', 'https', 'a b', '/'],
      ['Authority', 'GET', 'https', 'caf\u00e9', '/'],
      ['Path', 'GET', 'https', 'a', '/a b'],
      ['Path', 'GET', 'https', 'a', '/\u007f'],
    ];
    for (const [field, method, scheme, authority, path] of bad) {
      assert.throws(() => decodeRequest(request(method, scheme, authority, path)), isBhttpError(field), field);
      assert.throws(() => encodeRequest({ ...TINY_REQUEST, method, scheme, authority, path }), isBhttpError(field), field);
    }
    assert.throws(() => encodeRequest({ ...TINY_REQUEST, path: '/\u0100' }), isBhttpError('Path'));
  });

  it('rejects a 1xx final status: a response that ends after its informational responses', () => {
    assert.throws(() => decodeResponse(fromHex('01406700')), isBhttpError('Final Response Control Data', 4));
    assert.throws(() => decodeResponse(fromHex('03406600406700')), isBhttpError('Final Response Control Data', 7));
    assert.throws(() => decodeResponse(fromHex('014067')), isBhttpError('Informational Header Section Length', 3));
    assert.throws(() => encodeResponse({ ...TINY_RESPONSE, status: 103 }), isBhttpError('Status Code'));
  });

  it('rejects statuses outside 100..599 on decode, and out-of-range ones on encode', () => {
    for (const status of [0, 99, 600, 999, 2 ** 40]) assert.throws(() => decodeResponse(fromHex(`01${toHex(encodeVarint(status))}`)), isBhttpError('Status Code', 1));
    assert.throws(() => decodeResponse(fromHex(`01406600${toHex(encodeVarint(600))}`)), isBhttpError('Status Code', 4), 'a 102 then a 600');
    for (const status of [99, 600, 200.5, Number.NaN]) assert.throws(() => encodeResponse({ ...TINY_RESPONSE, status }), isBhttpError('Status Code'));
    for (const status of [99, 200, 204]) assert.throws(() => encodeResponse({ ...TINY_RESPONSE, informational: [{ status, headers: [] }] }), isBhttpError('Informational Status Code'));
  });
});

const tokenChar = fc.constantFrom(...Array.from('!#$%&\'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz'));
const fieldName = fc.string({ unit: tokenChar, minLength: 1, maxLength: 12 });
const latin1Char = fc.integer({ min: 1, max: 0xff }).filter((c) => c !== 0x0a && c !== 0x0d).map((c) => String.fromCharCode(c));
const fieldValue = fc.string({ unit: latin1Char, maxLength: 24 }).map((v) => v.replace(/^[ \t]+|[ \t]+$/g, ''));
const fields = fc.array(fc.tuple(fieldName, fieldValue), { maxLength: 6 });
const visible = fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 20 });
const method = fc.oneof(fc.constantFrom('GET', 'POST', 'PUT', 'CONNECT'), fc.string({ unit: fc.constantFrom(...Array.from('!#$%&\'*+-.^_`|~09AZaz')), minLength: 1, maxLength: 8 }));
const scheme = fc.oneof(fc.constantFrom('https', 'http', ''), fc.stringMatching(/^[a-z][a-z0-9+.-]{0,6}$/));
const content = fc.uint8Array({ maxLength: 64 });

const requests: fc.Arbitrary<BhttpRequest> = fc.record({ method, scheme, authority: visible, path: visible, headers: fields, content, trailers: fields }, { noNullPrototype: true });
const responses: fc.Arbitrary<BhttpResponse> = fc.record({
  informational: fc.array(fc.record({ status: fc.integer({ min: 100, max: 199 }), headers: fields }, { noNullPrototype: true }), { maxLength: 3 }),
  status: fc.integer({ min: 200, max: 599 }),
  headers: fields,
  content,
  trailers: fields,
}, { noNullPrototype: true });
const cuts = fc.array(fc.nat({ max: 64 }), { maxLength: 5 });

describe('Binary HTTP properties', () => {
  it('decoders throw nothing but ParseError on arbitrary bytes, framed or not', () => {
    const framed = fc.tuple(fc.nat({ max: 3 }), fc.uint8Array({ maxLength: 200 })).map(([f, b]) => new Uint8Array([f, ...b]));
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), framed), (b) => {
        onlyParseErrors(() => decodeRequest(b));
        onlyParseErrors(() => decodeResponse(b));
        throwsOnlyBhttpErrors(() => decodeRequest(b));
        throwsOnlyBhttpErrors(() => decodeResponse(b));
      }),
      { numRuns: 2000 },
    );
  });

  it('decoders throw nothing but ParseError on mutated examples', () => {
    const names = Object.keys(EXAMPLES).filter((k) => k !== 'source' && k !== 'notes' && k !== 'request_http1') as (keyof typeof EXAMPLES)[];
    fc.assert(
      fc.property(fc.constantFrom(...names), edits(368), (name, list) => {
        const base = fromHex(EXAMPLES[name]);
        const b = applyEdits(base, list.map(([at, v]) => [at % base.length, v]));
        throwsOnlyBhttpErrors(() => decodeRequest(b));
        throwsOnlyBhttpErrors(() => decodeResponse(b));
      }),
      { numRuns: 1000 },
    );
  });

  it('random requests round-trip through both framings, and every prefix decodes or throws ParseError', () => {
    fc.assert(
      fc.property(requests, cuts, fc.nat({ max: 4 }), (m, c, padding) => {
        const bytes = encodeRequest(m);
        assert.deepEqual(decodeRequest(bytes), m);
        assert.deepEqual(decodeRequest(indeterminate(m, c, padding)), m);
        for (let n = 0; n < bytes.length; n++) throwsOnlyBhttpErrors(() => decodeRequest(bytes.subarray(0, n)));
      }),
      { numRuns: 300 },
    );
  });

  it('random requests and responses padded by any amount decode to the same message; a non-zero padding byte is refused at its offset', () => {
    fc.assert(
      fc.property(fc.oneof(requests, responses), fc.nat({ max: 300 }), fc.nat(), fc.integer({ min: 1, max: 255 }), (m, extra, where, byte) => {
        const options = { padTo: (n: number) => n + extra };
        const isRequest = 'method' in m;
        const unpadded = isRequest ? encodeRequest(m) : encodeResponse(m);
        const padded = isRequest ? encodeRequest(m, options) : new Uint8Array(Buffer.concat(encodeResponseParts(m, options)));
        assert.equal(padded.length, unpadded.length + extra);
        assert.deepEqual(Buffer.from(padded.subarray(0, unpadded.length)), Buffer.from(unpadded));
        const decode = isRequest ? decodeRequest : decodeResponse;
        assert.deepEqual(decode(padded), m);
        if (extra === 0) return;
        const at = unpadded.length + (where % extra);
        const bad = new Uint8Array(padded);
        bad[at] = byte;
        assert.throws(() => decode(bad), isBhttpError('Padding', at));
      }),
      { numRuns: 300 },
    );
  });

  it('random responses round-trip through both framings', () => {
    fc.assert(
      fc.property(responses, cuts, fc.nat({ max: 4 }), (m, c, padding) => {
        assert.deepEqual(decodeResponse(encodeResponse(m)), m);
        assert.deepEqual(decodeResponse(indeterminate(m, c, padding)), m);
      }),
      { numRuns: 300 },
    );
  });
});
