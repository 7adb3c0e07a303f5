// Private key files a process reads at start: a PEM file that only its owner may read (mode 0600 or 0400, owned by
// the user running the process), checked on the open descriptor. Shared by the Privacy Pass issuer and gateway
// (ISSUER_KEY_* codes), the witness and the log (NOTE_KEY_* codes) and the publisher of statements (SIGNING_KEY_*
// codes). Nothing here logs, and no error carries key bytes: a PEM that does not parse is "not a PEM private key",
// never quoted.
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { RuntimeError, type RuntimeErrorCode } from './runtimeErrors.js';

/** Permission bits a private key file must not have: any for group or others. */
const NOT_OWNER_ONLY = 0o077;
/** The largest key file read: an RSA-2048 PKCS#8 PEM is about 1.7 KiB. */
const MAX_KEY_FILE_BYTES = 64 * 1024;

export const octal = (mode: number): string => `0${(mode & 0o777).toString(8).padStart(3, '0')}`;

/** The codes a caller's key failures carry: `unsafe` for mode, owner and file kind, `invalid` for the content. */
export interface KeyFileCodes {
  readonly unsafe: RuntimeErrorCode;
  readonly invalid: RuntimeErrorCode;
}

/** Key files of the transparency log and its witnesses (Ed25519 note keys). */
export const NOTE_KEY_CODES: KeyFileCodes = { unsafe: 'NOTE_KEY_UNSAFE', invalid: 'NOTE_KEY_INVALID' };
/** Key files that sign in-toto statements (`cloister publish --key`). */
export const SIGNING_KEY_CODES: KeyFileCodes = { unsafe: 'SIGNING_KEY_UNSAFE', invalid: 'SIGNING_KEY_INVALID' };

/** `pem` as a private KeyObject; `invalid` otherwise (the PEM is never quoted). */
export function privateKeyFromPem(pem: string, source: string, invalid: RuntimeErrorCode): KeyObject {
  try {
    const key = createPrivateKey(pem);
    if (key.type === 'private') return key;
  } catch {
    // Its message can quote the input; only the fact is reported.
  }
  throw new RuntimeError(invalid, `${source} is not a PEM private key`, { field: source });
}

/**
 * Reads a private key file after checking, on the open descriptor (so the file checked is the file read), that it is
 * a regular file of user `uid` with no permission bits for group or others.
 */
export async function readPrivateKeyFile(path: string, codes: KeyFileCodes, uid: number | undefined = process.getuid?.()): Promise<KeyObject> {
  let file;
  try {
    // O_NONBLOCK: opening a named pipe would otherwise wait for a writer, forever; a regular file reads the same.
    file = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (cause) {
    throw new RuntimeError('UNREADABLE_INPUT', `cannot read key file "${path}": ${(cause as NodeJS.ErrnoException).code ?? 'error'}`, { field: path, cause });
  }
  try {
    const s = await file.stat();
    if (!s.isFile()) throw new RuntimeError(codes.unsafe, `key file "${path}" is not a regular file`, { field: path });
    if ((s.mode & NOT_OWNER_ONLY) !== 0) throw new RuntimeError(codes.unsafe, `key file "${path}" has mode ${octal(s.mode)}; a private key must be readable by its owner only (chmod 600)`, { field: path, expected: '0600', actual: octal(s.mode) });
    if (uid !== undefined && s.uid !== uid) throw new RuntimeError(codes.unsafe, `key file "${path}" is owned by uid ${s.uid}, not by the user running this process (uid ${uid})`, { field: path, expected: String(uid), actual: String(s.uid) });
    if (s.size > MAX_KEY_FILE_BYTES) throw new RuntimeError(codes.invalid, `key file "${path}" is ${s.size} bytes, too large for a private key`, { field: path });
    return privateKeyFromPem(await file.readFile('utf8'), `key file "${path}"`, codes.invalid);
  } finally {
    await file.close();
  }
}
