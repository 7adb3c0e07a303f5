// Test support for the Privacy Pass issuer: a running issuer on a free port with two accounts (alice, bob), its
// captured log, and helpers to fetch its directory and POST token requests as alice.
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { toArrayBufferView } from '../../attestation/bytes.js';
import { AccountsAuthorizer, parseAccounts, type IssuanceAuthorizer } from '../privacypass/issuer/authorizer.js';
import type { IssuerDirectoryJson } from '../../attestation/protocols/privacypass/issuerDirectory.js';
import { DIRECTORY_PATH } from '../privacypass/issuer/directory.js';
import { createIssuerLogger } from '../privacypass/issuer/issuerLog.js';
import type { KeyRing } from '../privacypass/issuer/keyRing.js';
import { startIssuer, type RunningIssuer } from '../privacypass/issuer/server.js';

export const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');
export const ACCOUNTS = parseAccounts(JSON.stringify({ accounts: [{ id: 'alice', 'token-sha256': sha256('alice-secret') }, { id: 'bob', 'token-sha256': sha256('bob-secret') }] }));

/** Log lines as parsed JSON, plus the raw text. */
export function capture(): { stream: Writable; lines: () => Record<string, unknown>[]; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  return { stream, text: () => text, lines: () => text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>) };
}

export interface Harness {
  readonly issuer: RunningIssuer;
  readonly log: ReturnType<typeof capture>;
  readonly directory: () => Promise<IssuerDirectoryJson>;
  readonly post: (body: Uint8Array, headers?: Record<string, string>) => Promise<Response>;
}

export async function harness(keys: KeyRing, authorizer: IssuanceAuthorizer = new AccountsAuthorizer(ACCOUNTS, { tokens: 1000, periodSeconds: 1 })): Promise<Harness> {
  const log = capture();
  const issuer = await startIssuer({ keys, authorizer, logger: createIssuerLogger({ destination: log.stream }), port: 0 });
  return {
    issuer,
    log,
    directory: async () => (await (await fetch(issuer.url + DIRECTORY_PATH)).json()) as IssuerDirectoryJson,
    post: (body, headers = {}) => fetch(`${issuer.url}/token-request`, { method: 'POST', body: toArrayBufferView(body), headers: { 'content-type': 'application/private-token-request', authorization: 'Bearer alice-secret', ...headers } }),
  };
}

/** The problem code of a problem+json answer. */
export const problemCodeOf = async (res: Response): Promise<string> => ((await res.json()) as { code: string }).code;
