// Where the issuer's private keys come from: a PEM file that only its owner may read (mode 0600 or 0400, owned
// by the user running the issuer), an environment variable, or a key directory the issuer fills itself
// (--key-dir: one file per key, named by its token type and not-before time, written 0600). Nothing here logs,
// and no error carries key bytes: a PEM that does not parse is "not a PEM private key", never quoted.
import type { KeyObject } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { octal, privateKeyFromPem as pemKey, readPrivateKeyFile, type KeyFileCodes } from '../../base/keyFile.js';
import { RuntimeError } from '../../base/runtimeErrors.js';

const ISSUER_KEY_CODES: KeyFileCodes = { unsafe: 'ISSUER_KEY_UNSAFE', invalid: 'ISSUER_KEY_INVALID' };

/** `pem` as a private KeyObject; ISSUER_KEY_INVALID otherwise (the PEM is never quoted). */
export function privateKeyFromPem(pem: string, source: string): KeyObject {
  return pemKey(pem, source, 'ISSUER_KEY_INVALID');
}

/** An issuer key file (src/base/keyFile.ts): ISSUER_KEY_UNSAFE unless it is a regular file of `uid`, mode 0600 or 0400. */
export function readKeyFile(path: string, uid: number | undefined = process.getuid?.()): Promise<KeyObject> {
  return readPrivateKeyFile(path, ISSUER_KEY_CODES, uid);
}

/** A key as --key-dir keeps it: its file and the not-before time (unix seconds) its name carries. */
export interface StoredKey {
  readonly tokenType: number;
  readonly notBefore: number;
  readonly path: string;
}

const KEY_FILE_NAME = /^token-key-([0-9a-f]{4})-(\d{1,12})\.pem$/;

/** A --key-dir directory: `token-key-TTTT-NOTBEFORE.pem`, TTTT the token type in hex, NOTBEFORE unix seconds. */
export class KeyDirectory {
  readonly dir: string;
  readonly #uid: number | undefined;

  constructor(dir: string, uid: number | undefined = process.getuid?.()) {
    this.dir = dir;
    this.#uid = uid;
  }

  /** Creates the directory (0700) when absent; refuses one that group or others may write to, or another user's. */
  async open(): Promise<void> {
    const s = await this.#fs('UNREADABLE_INPUT', 'open', async () => {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      return stat(this.dir);
    });
    if (!s.isDirectory()) throw new RuntimeError('ISSUER_KEY_UNSAFE', `--key-dir "${this.dir}" is not a directory`, { field: this.dir });
    if ((s.mode & 0o022) !== 0) throw new RuntimeError('ISSUER_KEY_UNSAFE', `--key-dir "${this.dir}" has mode ${octal(s.mode)}: group or others may replace its keys (chmod 700)`, { field: this.dir, actual: octal(s.mode) });
    if (this.#uid !== undefined && s.uid !== this.#uid) throw new RuntimeError('ISSUER_KEY_UNSAFE', `--key-dir "${this.dir}" is owned by uid ${s.uid}, not by the issuer's user (uid ${this.#uid})`, { field: this.dir });
  }

  /** The keys in the directory, oldest first; other files are ignored. */
  async list(): Promise<StoredKey[]> {
    const keys: StoredKey[] = [];
    for (const name of await this.#fs('UNREADABLE_INPUT', 'list', () => readdir(this.dir))) {
      const m = KEY_FILE_NAME.exec(name);
      if (m?.[1] === undefined || m[2] === undefined) continue;
      keys.push({ tokenType: Number.parseInt(m[1], 16), notBefore: Number(m[2]), path: join(this.dir, name) });
    }
    return keys.sort((a, b) => a.notBefore - b.notBefore);
  }

  read(key: StoredKey): Promise<KeyObject> {
    return readKeyFile(key.path, this.#uid);
  }

  /** Writes a new key, 0600, through a temporary file renamed into place (a reader never sees half a key). */
  async save(tokenType: number, notBefore: number, pem: string): Promise<StoredKey> {
    const name = `token-key-${tokenType.toString(16).padStart(4, '0')}-${notBefore}.pem`;
    const path = join(this.dir, name);
    const temporary = join(this.dir, `.${name}.tmp`);
    await this.#fs('UNWRITABLE_OUTPUT', 'write a key to', async () => {
      await writeFile(temporary, pem, { mode: 0o600, flag: 'wx' });
      await rename(temporary, path);
    });
    return { tokenType, notBefore, path };
  }

  /** Deletes a retired key's file: its tokens stay verifiable with the public key, which origins already hold. */
  async remove(key: StoredKey): Promise<void> {
    await this.#fs('UNWRITABLE_OUTPUT', 'delete a key from', () => rm(key.path, { force: true }));
  }

  /** A file system step whose failure becomes one line naming the directory and the errno code. */
  async #fs<T>(code: 'UNREADABLE_INPUT' | 'UNWRITABLE_OUTPUT', what: string, step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (cause) {
      throw new RuntimeError(code, `cannot ${what} --key-dir "${this.dir}": ${(cause as NodeJS.ErrnoException).code ?? 'error'}`, { field: this.dir, cause });
    }
  }
}
