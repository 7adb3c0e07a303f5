// Every error the server runtime (src/) raises that the verifier SDK does not: one registry, owned here, that
// docs/errors.md "Runtime codes" lists exactly (checked by src/base/runtimeErrors.test.ts). The SDK's codes are in
// attestation/errors.ts; src/ raises those too where the failure is the SDK's kind (a malformed field, a PEM
// block that is not one). HTTP problem codes are a third registry, src/base/problems.ts.
import { CloisterError, type ErrorDetails } from '../../attestation/errors.js';

export const RUNTIME_ERROR_CODES = {
  // evidence acquisition inside the VM (src/tee)
  NO_TEE: 'no TEE evidence source (configfs-tsm, /dev/sev-guest, /dev/tdx_guest) was found',
  TEE_DEVICE: 'the TEE device, configfs-tsm or the firmware returned an error',
  SIMULATED_LAUNCH_INVALID: 'the launch measurement stated for the simulated TEE (--simulated-measurement, or the host\'s SMBIOS OEM strings) is malformed',
  SMBIOS_INVALID: 'a raw SMBIOS OEM strings structure (/sys/firmware/dmi/entries/11-N/raw) is malformed',
  // request memory (src/base/memory)
  REQUEST_SCOPE_CLOSED: 'plaintext was handed to a request scope that had already been closed (and was wiped at once)',
  // the server (src/server)
  EVIDENCE_RATE_LIMITED: 'fresh evidence was asked for faster than the server\'s global budget',
  TLS_CERTIFICATE_UNAVAILABLE: 'the RA-TLS certificate could not be issued for the live OHTTP key configurations',
  // model packs and inference (src/inference)
  MODEL_PACK_INVALID: 'a model pack manifest is malformed, or names a file that cannot be read',
  MODEL_HASH_MISMATCH: 'a model pack file\'s SHA-256 differs from its manifest',
  QUEUE_FULL: 'the inference queue holds as many waiting requests as it may',
  QUEUE_CLOSED: 'the inference queue is closed (the server is shutting down)',
  ABORTED: 'an inference was cancelled before it finished',
  MALFORMED_TENSOR: 'a tensor list (application/vnd.cloister.tensors) could not be decoded',
  MALFORMED_IMAGE: 'an image is not a PNG or JPEG this server decodes, is corrupt, or is too large',
  MODEL_RUN_FAILED: 'ONNX Runtime failed a run (its message, which can carry shapes from the request, is dropped)',
  // OHTTP keys, the gateway and node:crypto (src/ohttp, src/base/crypto)
  TARGET_TIMEOUT: 'a target behind the OHTTP gateway did not answer within its deadline',
  OHTTP_KEY_IDS_EXHAUSTED: 'all 256 OHTTP key IDs are held, so no key can be added',
  OHTTP_SCHEDULE_UNWORKABLE: 'the OHTTP key rotation schedule cannot work (no overlap while keys rotate, or more live keys than key IDs)',
  INSTANCE_KEY_IDS_INVALID: 'serve --ohttp-key-ids instance: a source of the instance\'s key ID range (SMBIOS OEM string, GCE metadata, Azure IMDS) states it malformed',
  INSTANCE_KEY_IDS_UNAVAILABLE: 'serve --ohttp-key-ids instance: no source states the instance\'s key ID range, or its metadata server did not answer',
  CRYPTO_FAILED: 'node:crypto failed in a way it does not report with an Error',
  // Privacy Pass redemption (src/privacypass/redemption)
  SPENT_TOKENS_UNAVAILABLE: 'the spent-token store cannot say whether a Privacy Pass token was spent (Redis unreachable, or the in-memory bound reached)',
  ISSUER_DIRECTORY_UNAVAILABLE: 'the Privacy Pass issuer directory could not be fetched',
  // the relay (src/relay)
  GATEWAY_FAILED: 'the relay could not exchange a request with the gateway',
  FLEET_NODE_UNAVAILABLE: 'cloister fleet left a node out of the directory: it did not answer, served key configurations its certificate does not bind, or used key IDs outside its range',
  CLIENT_GONE: 'the client closed its connection before its answer was sent',
  REQUEST_TOO_LARGE: 'a request body exceeds the route\'s limit',
  // the Privacy Pass issuer (src/privacypass/issuer, cloister issuer)
  ISSUER_KEY_UNSAFE: 'an issuer private key file (of the issuer, or given to the gateway) is readable or writable by others than its owner, or owned by another user',
  ISSUER_KEY_INVALID: 'an issuer private key is not a private key of its token type (EC P-384 for type 0x0001, RSA-2048 for type 0x0002)',
  ISSUER_ACCOUNTS_INVALID: 'the issuer\'s accounts file is not valid JSON of the documented shape',
  // the transparency log and the witness (src/transparency)
  TLOG_STATE_INVALID: 'the tile log\'s directory disagrees with its checkpoint (a missing or altered tile, another key or origin), or an append failed half-way',
  TLOG_ENTRY_TOO_LARGE: 'a log entry is longer than the 65535 bytes an entry bundle\'s uint16 length holds',
  NOTE_KEY_INVALID: 'a log or witness key is not an Ed25519 private key, or its name is not a valid note key name',
  NOTE_KEY_UNSAFE: 'a witness or log key file is readable or writable by others than its owner, owned by another user, or not a regular file',
  SIGNING_KEY_INVALID: 'a statement signing key is not an EC P-256 or Ed25519 private key',
  SIGNING_KEY_UNSAFE: 'a statement signing key file is readable or writable by others than its owner, owned by another user, or not a regular file',
  WITNESS_UNKNOWN_LOG: 'the witness does not follow the log that the checkpoint\'s origin names',
  WITNESS_SIZE_CONFLICT: 'the old size of an add-checkpoint request is not the size of the witness\'s last cosigned checkpoint',
  WITNESS_REQUEST_INVALID: 'an add-checkpoint request\'s old size is larger than its checkpoint\'s size',
  WITNESS_COSIGNING_FAILED: 'fewer witnesses than the threshold returned a valid cosignature on the log\'s checkpoint',
  // command line (src/cli)
  USAGE: 'the command line is invalid',
  UNREADABLE_INPUT: 'an input file could not be read',
  UNWRITABLE_OUTPUT: 'an output file could not be written',
  INFERENCE_WORKER_FAILED: 'an inference worker thread failed a job (its error class and code are logged, never a message) or exited while running one',
  CHILD_EXITED: 'a process of the local stack (cloister local) or the local fleet (cloister fleet local) exited before it listened, or while it served',
  HAPROXY_MISSING: 'cloister fleet local found no haproxy on PATH or in /usr/sbin (Debian\'s package haproxy)',
  // the image build (scripts/image, cloister image)
  IMAGE_INPUT: 'the VM image\'s pins (image/inputs.json, a model pack) are missing, invalid, or differ from the files',
  IMAGE_BUILD: 'a step of the VM image build failed (a tool it runs, a file it extracts, the init it needs)',
  // the image and firmware builds (scripts/)
  PINNED_INPUT_UNAVAILABLE: 'a pinned build input could not be downloaded (the archive no longer serves it, or the network failed)',
  PINNED_INPUT_MISMATCH: 'a pinned build input has a sha256 (or npm integrity) other than its pin',
  TOOLCHAIN_MISMATCH: 'the build toolchain differs from the pinned one, or missing build dependencies could not be installed',
  FIRMWARE_BUILD_FAILED: 'a step of the edk2 firmware build (unpack, a patch, BaseTools, a platform) failed',
} as const;

export type RuntimeErrorCode = keyof typeof RUNTIME_ERROR_CODES;

declare module '../../attestation/errors.js' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- merges the runtime's registry into the SDK's, so CloisterError.code is the union of both
  interface CloisterErrorCodes extends Readonly<typeof RUNTIME_ERROR_CODES> {}
}

/** An error of the runtime: a CloisterError (same shape, same CLI line) with a code of RUNTIME_ERROR_CODES. */
export class RuntimeError extends CloisterError {
  declare readonly code: RuntimeErrorCode;
  constructor(code: RuntimeErrorCode, message: string, details: ErrorDetails = {}) {
    super(code, message, details);
  }
}

/** Device and firmware failures, named (the native addon, the TEE devices, configfs-tsm); `errno` is the Linux errno name when the OS reported one. */
export class TeeDeviceError extends RuntimeError {
  readonly errno: string | undefined;
  readonly firmwareError: number | undefined;
  readonly vmmError: number | undefined;
  constructor(message: string, details: { errno?: string; firmwareError?: number; vmmError?: number; field?: string; cause?: unknown } = {}) {
    super('TEE_DEVICE', message, { ...(details.field === undefined ? {} : { field: details.field }), ...(details.cause === undefined ? {} : { cause: details.cause }) });
    this.errno = details.errno;
    this.firmwareError = details.firmwareError;
    this.vmmError = details.vmmError;
  }
}

/** The command line is invalid (code USAGE); the CLI prints it without the field part. */
export class UsageError extends RuntimeError {}

/** A pinned input of the image build (image/inputs.json) is missing, unreachable or changed; `field` names it. */
export class ImageInputError extends RuntimeError {
  constructor(message: string, input: string, cause?: unknown) {
    super('IMAGE_INPUT', message, { field: input, ...(cause === undefined ? {} : { cause }) });
  }
}

/** A step of the image build failed; the message names the step and what to do. */
export class ImageBuildError extends RuntimeError {
  constructor(message: string, cause?: unknown) {
    super('IMAGE_BUILD', message, cause === undefined ? {} : { cause });
  }
}
