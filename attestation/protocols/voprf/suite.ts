// The ciphersuite P384-SHA384 of RFC 9497 (section 4.4) in one mode: its context string, which every domain
// separation tag carries, and the hash and randomness the protocol draws on (injected, so tests replay the
// specification's blinds and proof nonces).
import { concatBytes } from '../../bytes.js';
import { webCryptoHasher, type Hasher } from '../../hash.js';
import { hashToCurve, hashToField } from './hashToCurve.js';
import { bytesToBigint, N, SCALAR_LENGTH, type Point } from './p384.js';

/** RFC 9497 section 3.1 modes; POPRF (0x02) is not implemented. */
export const OPRF_MODE = { oprf: 0x00, voprf: 0x01 } as const;
export type OprfMode = (typeof OPRF_MODE)[keyof typeof OPRF_MODE];

export const SUITE_IDENTIFIER = 'P384-SHA384';
/** Nh: SHA-384 output, the length of an OPRF output. */
export const OUTPUT_LENGTH = 48;

export type RandomBytes = (length: number) => Uint8Array;

export interface OprfSuite {
  readonly mode: OprfMode;
  /** "OPRFV1-" || I2OSP(mode, 1) || "-" || "P384-SHA384" */
  readonly contextString: Uint8Array;
  readonly hasher: Hasher;
  readonly randomBytes: RandomBytes;
}

export interface SuiteOptions {
  readonly hasher?: Hasher;
  readonly randomBytes?: RandomBytes;
}

export const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

const cryptoRandomBytes: RandomBytes = (length) => globalThis.crypto.getRandomValues(new Uint8Array(length));

export function p384Sha384(mode: OprfMode, options: SuiteOptions = {}): OprfSuite {
  return Object.freeze({
    mode,
    contextString: concatBytes(ascii('OPRFV1-'), Uint8Array.of(mode), ascii(`-${SUITE_IDENTIFIER}`)),
    hasher: options.hasher ?? webCryptoHasher,
    randomBytes: options.randomBytes ?? cryptoRandomBytes,
  });
}

export function dst(suite: OprfSuite, prefix: string): Uint8Array {
  return concatBytes(ascii(prefix), suite.contextString);
}

export function hashToGroup(suite: OprfSuite, input: Uint8Array): Promise<Point> {
  return hashToCurve(suite.hasher, input, dst(suite, 'HashToGroup-'));
}

export async function hashToScalar(suite: OprfSuite, input: Uint8Array, tag: Uint8Array = dst(suite, 'HashToScalar-')): Promise<bigint> {
  const [k] = (await hashToField(suite.hasher, input, tag, 1, N)) as [bigint];
  return k;
}

/** RandomScalar by rejection: 48 random bytes until they fall in 1..n-1 (a retry is needed with probability about 2^-190). */
export function randomScalar(suite: OprfSuite): bigint {
  for (;;) {
    const k = bytesToBigint(suite.randomBytes(SCALAR_LENGTH));
    if (k !== 0n && k < N) return k;
  }
}

/** I2OSP(len(x), 2) || x, the framing of every transcript. */
export function lengthPrefixed(...parts: readonly Uint8Array[]): Uint8Array[] {
  return parts.flatMap((p) => [Uint8Array.of(p.length >> 8, p.length & 0xff), p]);
}

export function i2osp2(v: number): Uint8Array {
  return Uint8Array.of(v >> 8, v & 0xff);
}
