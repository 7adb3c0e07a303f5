// Ed25519 checkpoint cosignatures, C2SP tlog-cosignature ("cosignature/v1", signed-note signature type 0x04).
// The signature of a line is a timestamped_signature:
//
//   struct {
//     u64 timestamp;                    POSIX seconds, big-endian, at most 2^63 - 1
//     opaque ed25519_signature[64];
//   } timestamped_signature;
//
// over the message "cosignature/v1\ntime <timestamp>\n" followed by the whole checkpoint text (extension lines
// included). The ML-DSA-44 subtree cosignature (type 0x06) is not implemented.
import { concatBytes } from '../bytes.js';
import { ED25519_SIGNATURE_SIZE } from '../ed25519.js';

export const TIMESTAMPED_SIGNATURE_SIZE = 8 + ED25519_SIGNATURE_SIZE;

export interface TimestampedSignature {
  /** POSIX seconds; this implementation handles up to 2^53 - 1. */
  readonly timestamp: number;
  readonly signature: Uint8Array;
}

/** The message an Ed25519 cosigner signs for `timestamp` over the checkpoint text. */
export function cosignedMessage(timestamp: number, text: Uint8Array): Uint8Array {
  return concatBytes(new TextEncoder().encode(`cosignature/v1\ntime ${timestamp}\n`), text);
}

export function encodeTimestampedSignature({ timestamp, signature }: TimestampedSignature): Uint8Array {
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) throw new RangeError(`cosignature timestamp ${timestamp} is not an integer in 0..2^53-1`);
  if (signature.length !== ED25519_SIGNATURE_SIZE) throw new RangeError(`an Ed25519 signature is ${ED25519_SIGNATURE_SIZE} bytes, got ${signature.length}`);
  const out = new Uint8Array(TIMESTAMPED_SIGNATURE_SIZE);
  new DataView(out.buffer).setBigUint64(0, BigInt(timestamp));
  out.set(signature, 8);
  return out;
}

/** The timestamp and signature of a cosignature line, or undefined when it has another size or a timestamp above 2^53 - 1. */
export function decodeTimestampedSignature(bytes: Uint8Array): TimestampedSignature | undefined {
  if (bytes.length !== TIMESTAMPED_SIGNATURE_SIZE) return undefined;
  const t = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0);
  if (t > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
  return { timestamp: Number(t), signature: bytes.subarray(8) };
}
