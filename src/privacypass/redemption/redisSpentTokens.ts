// Spent tokens in Redis or Valkey, shared by every gateway that uses the same server: one key per token,
//   SET cloister:pp:<token_key_id hex>:<nonce hex> 1 NX PXAT <key expiry, epoch ms>
// whose reply is OK when the key was absent (a fresh token) and nil when it exists (a replay); it expires with
// the issuer key, after which the key is refused anyway. Fail closed: when Redis cannot answer, spend throws
// SpentTokensUnavailable and the gateway refuses the request (503).
import { toHex } from '../../../attestation/bytes.js';
import { RespClient, type RespClientOptions } from './resp.js';
import { SpentTokensUnavailable, type SpendResult, type SpentTokenStore } from './spentTokens.js';

export const SPENT_TOKEN_KEY_PREFIX = 'cloister:pp:';

/** host and port of a redis://HOST:PORT URL (no credentials, database or TLS: the store is on a private network). */
export function parseRedisUrl(text: string): { host: string; port: number } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new SpentTokensUnavailable(`"${text}" is not a redis://HOST:PORT URL`);
  }
  if (url.protocol !== 'redis:' || url.hostname === '' || url.username !== '' || url.password !== '' || (url.pathname !== '' && url.pathname !== '/')) {
    throw new SpentTokensUnavailable(`"${text}" is not a redis://HOST:PORT URL`);
  }
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port === '' ? 6379 : Number(url.port) };
}

export class RedisSpentTokens implements SpentTokenStore {
  readonly client: RespClient;

  constructor(options: RespClientOptions) {
    this.client = new RespClient(options);
  }

  async spend(keyId: Uint8Array, nonce: Uint8Array, expiresAtMs: number): Promise<SpendResult> {
    const reply = await this.client.command(['SET', `${SPENT_TOKEN_KEY_PREFIX}${toHex(keyId)}:${toHex(nonce)}`, '1', 'NX', 'PXAT', String(Math.ceil(expiresAtMs))]);
    if (reply === 'OK') return 'fresh';
    if (reply === null) return 'replay';
    throw new SpentTokensUnavailable(`the spent-token store answered SET with ${JSON.stringify(reply)}`);
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
