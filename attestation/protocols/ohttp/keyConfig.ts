// RFC 9458 section 3 key configurations and the application/ohttp-keys list (section 3.2):
//   KeyConfig = key_id(8) kem_id(16) public_key(8 * Npk) cipher_suites_length(16) [kdf_id(16) aead_id(16)]...
//   application/ohttp-keys = (u16be(len) || KeyConfig)...
import { concatBytes, toHex } from '../../bytes.js';
import { ParseError } from '../../errors.js';

export const KEM_X25519_HKDF_SHA256 = 0x0020;
export const KDF_HKDF_SHA256 = 0x0001;
export const AEAD_AES_128_GCM = 0x0001;
export const AEAD_CHACHA20_POLY1305 = 0x0003;

/** Npk of each DHKEM (RFC 9180 section 7.1); a config with another KEM cannot even be delimited. */
export const KEM_PUBLIC_KEY_SIZE: Readonly<Record<number, number>> = { 0x0010: 65, 0x0011: 97, 0x0012: 133, 0x0020: 32, 0x0021: 56 };

export interface SymmetricSuite {
  readonly kdfId: number;
  readonly aeadId: number;
}

export interface KeyConfig {
  readonly keyId: number;
  readonly kemId: number;
  readonly publicKey: Uint8Array;
  readonly suites: readonly SymmetricSuite[];
}

const u16 = (n: number): Uint8Array => new Uint8Array([n >> 8, n & 0xff]);
const readU16 = (b: Uint8Array, i: number): number => ((b[i] as number) << 8) | (b[i + 1] as number);

function malformed(message: string, field: string, offset?: number): never {
  throw new ParseError('MALFORMED_OHTTP', message, { field, ...(offset === undefined ? {} : { offset }) });
}

export function encodeKeyConfig(config: KeyConfig): Uint8Array {
  const npk = KEM_PUBLIC_KEY_SIZE[config.kemId];
  if (!Number.isInteger(config.keyId) || config.keyId < 0 || config.keyId > 0xff) malformed(`key ID must be 0..255, got ${config.keyId}`, 'key_id');
  if (npk === undefined) malformed(`unknown KEM 0x${config.kemId.toString(16).padStart(4, '0')}`, 'kem_id');
  if (config.publicKey.length !== npk) malformed(`public key must be ${npk} bytes for KEM 0x${config.kemId.toString(16)}, got ${config.publicKey.length}`, 'public_key');
  if (config.suites.length === 0 || config.suites.length > 0x3fff) malformed(`a key config needs 1..16383 symmetric suites, got ${config.suites.length}`, 'symmetric_algorithms');
  return concatBytes(new Uint8Array([config.keyId]), u16(config.kemId), config.publicKey, u16(config.suites.length * 4), ...config.suites.flatMap((s) => [u16(s.kdfId), u16(s.aeadId)]));
}

/** Decodes exactly one KeyConfig; the public key is a copy. */
export function decodeKeyConfig(bytes: Uint8Array): KeyConfig {
  if (bytes.length < 3) malformed(`key config of ${bytes.length} bytes is shorter than its key ID and KEM ID`, 'key_config', 0);
  const keyId = bytes[0] as number;
  const kemId = readU16(bytes, 1);
  const npk = KEM_PUBLIC_KEY_SIZE[kemId];
  if (npk === undefined) throw new ParseError('OHTTP_UNSUPPORTED_SUITE', `key config ${keyId} uses KEM 0x${kemId.toString(16).padStart(4, '0')}, whose public key size is unknown`, { field: 'kem_id', actual: `0x${kemId.toString(16)}` });
  let i = 3 + npk;
  if (bytes.length < i + 2) malformed(`key config ${keyId} is truncated in its public key or suite length`, 'public_key', 3);
  const publicKey = bytes.slice(3, i);
  const length = readU16(bytes, i);
  i += 2;
  if (length === 0 || length % 4 !== 0) malformed(`key config ${keyId} lists ${length} bytes of symmetric suites, not a positive multiple of 4`, 'symmetric_algorithms', i - 2);
  if (bytes.length !== i + length) malformed(`key config ${keyId} has ${bytes.length - i} bytes of symmetric suites, its length says ${length}`, 'symmetric_algorithms', i);
  const suites: SymmetricSuite[] = [];
  for (; i < bytes.length; i += 4) suites.push({ kdfId: readU16(bytes, i), aeadId: readU16(bytes, i + 2) });
  return { keyId, kemId, publicKey, suites };
}

/** application/ohttp-keys: each KeyConfig prefixed by its u16be length. */
export function encodeOhttpKeys(keyConfigs: readonly Uint8Array[]): Uint8Array {
  return concatBytes(
    ...keyConfigs.map((c, i) => {
      if (c.length === 0 || c.length > 0xffff) throw new RangeError(`keyConfigs[${i}] is ${c.length} bytes, must be 1..65535`);
      return concatBytes(u16(c.length), c);
    }),
  );
}

/** Splits application/ohttp-keys into KeyConfig byte strings (copies), without decoding them. */
export function decodeOhttpKeys(bytes: Uint8Array, field = 'ohttp-keys'): Uint8Array[] {
  const out: Uint8Array[] = [];
  let i = 0;
  while (i < bytes.length) {
    if (i + 2 > bytes.length) throw new ParseError('TRUNCATED', `${field}: length prefix truncated at offset ${i}`, { field, offset: i });
    const n = readU16(bytes, i);
    if (n === 0) throw new ParseError('MALFORMED_FIELD', `${field}: key config ${out.length} has length 0`, { field });
    if (i + 2 + n > bytes.length) throw new ParseError('TRUNCATED', `${field}: key config ${out.length} of ${n} bytes runs past the end at offset ${i}`, { field, offset: i });
    out.push(bytes.slice(i + 2, i + 2 + n));
    i += 2 + n;
  }
  return out;
}

export const describeKeyConfig = (c: KeyConfig): string =>
  `key ${c.keyId}, KEM 0x${c.kemId.toString(16).padStart(4, '0')}, suites ${c.suites.map((s) => `${s.kdfId}/${s.aeadId}`).join(' ')}, public key ${toHex(c.publicKey).slice(0, 16)}...`;
