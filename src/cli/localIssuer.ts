// What `cloister local` gives its Privacy Pass issuer: a fresh private temporary directory (mkdtemp, so 0700 and
// nobody else's) that serves as its --key-dir, and beside the keys an accounts file (0600) with one account,
// "local", whose bearer token is drawn here at start. The file holds only the token's SHA-256, as any accounts file
// does; the token itself goes to whoever runs the stack. The directory is removed when the stack stops.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const LOCAL_ACCOUNT = 'local';

export class LocalIssuerFiles {
  readonly dir: string;
  readonly accountsFile: string;
  /** The bearer token of LOCAL_ACCOUNT. */
  readonly bearer: string;
  #removed: Promise<void> | undefined;

  private constructor(dir: string, bearer: string) {
    this.dir = dir;
    this.accountsFile = join(dir, 'accounts.json');
    this.bearer = bearer;
  }

  static async create(): Promise<LocalIssuerFiles> {
    const files = new LocalIssuerFiles(await mkdtemp(join(tmpdir(), 'cloister-local-issuer-')), randomBytes(32).toString('base64url'));
    try {
      const accounts = { accounts: [{ id: LOCAL_ACCOUNT, 'token-sha256': createHash('sha256').update(files.bearer).digest('hex') }] };
      await writeFile(files.accountsFile, JSON.stringify(accounts), { mode: 0o600, flag: 'wx' });
    } catch (e) {
      await files.remove();
      throw e;
    }
    return files;
  }

  /** The `cloister issuer` command line for these files, listening on `port`. */
  issuerArgv(port: string): string[] {
    return ['issuer', '--key-dir', this.dir, '--accounts', this.accountsFile, '--port', port];
  }

  /** Removes the directory with its keys; once, however often it is called. */
  remove(): Promise<void> {
    this.#removed ??= rm(this.dir, { recursive: true, force: true });
    return this.#removed;
  }
}
