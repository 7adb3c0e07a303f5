// Privacy Pass redemption for the server (docs/privacy-pass.md "Redemption"): the issuer keys from a directory
// given at boot or fetched from the issuer (and fetched again at its max-age), the private keys of type 0x0001
// issuer keys the operator shares with this gateway, the spent-token store (in memory, or Redis shared by several
// gateways), and the Redeemer the gateway calls before any target. One owner: close() stops the refresh and
// closes the store. Private keys are never logged: only public token key IDs are.
import type { Logger } from 'pino';
import { toBase64Url } from '../../attestation/bytes.js';
import { errorFields } from '../base/log.js';
import { RuntimeError, UsageError } from '../base/runtimeErrors.js';
import { unrefTimer, type TimerHandle } from '../base/timer.js';
import { ParseError } from '../../attestation/errors.js';
import type { FetchLike } from '../../attestation/client/httpFetch.js';
import { fetchIssuerDirectory } from '../../attestation/client/privacyPass/issuerClient.js';
import { issuerDirectoryUrl, type DirectoryKey } from '../../attestation/protocols/privacypass/issuerDirectory.js';
import { Redeemer } from '../privacypass/redemption/redeemer.js';
import { parseRedisUrl, RedisSpentTokens } from '../privacypass/redemption/redisSpentTokens.js';
import { TOKEN_TYPE } from '../../attestation/protocols/index.js';
import { MemorySpentTokens, type SpentTokenStore } from '../privacypass/redemption/spentTokens.js';
import { redeemedTokenTypes, whyNotRedeemed, type TokenTypeVerifier } from '../privacypass/redemption/verifiers.js';
import type { VoprfIssuerKey } from '../privacypass/voprfKey.js';

export interface PrivacyPassConfig {
  /** issuer_name of the TokenChallenge. */
  readonly issuerName: string;
  /** origin_info of the TokenChallenge (default: none, any origin). */
  readonly originInfo?: readonly string[];
  /** redemption_context: empty (default) or 32 bytes, the same at every gateway sharing a spent-token store. */
  readonly redemptionContext?: Uint8Array;
  /** The issuer's keys as given (a directory file), or the issuer whose directory is fetched. */
  readonly directory: { readonly kind: 'keys'; readonly keys: readonly DirectoryKey[] } | { readonly kind: 'issuer'; readonly url: string; readonly fetch?: FetchLike };
  /** The issuer's private keys for token type 0x0001 (VOPRF), which only they verify; without any, type 0x0001 is not redeemed. */
  readonly privateKeys?: readonly VoprfIssuerKey[];
  /** Default: in memory, bounded. */
  readonly spentTokens?: { readonly kind: 'memory'; readonly maxEntries?: number } | { readonly kind: 'redis'; readonly url: string; readonly timeoutMs?: number };
  /** How long a key is accepted from its not-before (default 30 days). */
  readonly keyLifetimeSeconds?: number;
  readonly now?: () => number;
  /** Schedules the directory refresh (tests); default an unref'd setTimeout. */
  readonly setTimer?: (fn: () => void, ms: number) => TimerHandle;
}

export interface PrivacyPassGate {
  readonly redeemer: Redeemer;
  readonly spent: SpentTokenStore;
  close(): Promise<void>;
}

const DEFAULT_DIRECTORY_MAX_AGE_S = 3600;
const MIN_REFRESH_S = 10;

/**
 * The issuer's keys and how long until they are fetched again (the directory's max-age, at least 10 s, 3600 s when
 * it gives none); ISSUER_DIRECTORY_UNAVAILABLE when they cannot be fetched, MALFORMED_PRIVACY_PASS when the answer is
 * not a directory.
 */
async function fetchDirectory(url: string, fetch: FetchLike | undefined): Promise<{ keys: readonly DirectoryKey[]; maxAgeSeconds: number }> {
  try {
    const fetched = await fetchIssuerDirectory(url, fetch === undefined ? {} : { fetch });
    return { keys: fetched.directory.tokenKeys, maxAgeSeconds: Math.max(MIN_REFRESH_S, fetched.maxAgeSeconds ?? DEFAULT_DIRECTORY_MAX_AGE_S) };
  } catch (e) {
    if (e instanceof ParseError) throw e;
    throw new RuntimeError('ISSUER_DIRECTORY_UNAVAILABLE', `the Privacy Pass issuer directory ${url} could not be fetched: ${(e as Error).message}`, { cause: e });
  }
}

const RETRY_S = 60;

export async function openPrivacyPass(config: PrivacyPassConfig, logger: Logger): Promise<PrivacyPassGate> {
  const directory = config.directory;
  const fetched = directory.kind === 'issuer' ? await fetchDirectory(issuerDirectoryUrl(directory.url), directory.fetch) : undefined;
  const bootKeys = directory.kind === 'keys' ? directory.keys : (fetched?.keys ?? []);
  const tokenTypes = redeemedTokenTypes(config.privateKeys);
  checkPrivateKeys(bootKeys, config.privateKeys ?? [], tokenTypes);
  const spentConfig = config.spentTokens ?? { kind: 'memory' };
  const spent: SpentTokenStore =
    spentConfig.kind === 'memory'
      ? new MemorySpentTokens(spentConfig.maxEntries === undefined ? {} : { maxEntries: spentConfig.maxEntries })
      : new RedisSpentTokens({
          ...parseRedisUrl(spentConfig.url),
          ...(spentConfig.timeoutMs === undefined ? {} : { timeoutMs: spentConfig.timeoutMs }),
          onStateChange: (connected, e) => {
            if (connected) logger.info({ spentTokens: spentConfig.url }, 'spent-token store connected');
            else logger.error({ spentTokens: spentConfig.url, ...(e === undefined ? {} : errorFields(e)) }, 'spent-token store lost: Privacy Pass requests are refused (503) until it is back');
          },
        });
  const redeemer = await Redeemer.create(
    {
      issuerName: config.issuerName,
      spent,
      ...(config.originInfo === undefined ? {} : { originInfo: config.originInfo }),
      ...(config.redemptionContext === undefined ? {} : { redemptionContext: config.redemptionContext }),
      ...(config.keyLifetimeSeconds === undefined ? {} : { keyLifetimeSeconds: config.keyLifetimeSeconds }),
      ...(config.now === undefined ? {} : { now: config.now }),
      onUnavailable: (e) => {
        logger.warn(errorFields(e), 'a Privacy Pass token was refused: the spent-token store cannot answer');
      },
      tokenTypes,
      onSkippedKey: (k) => {
        logger.warn({ tokenType: k.tokenType, tokenKeyId: k.tokenKeyId, reason: k.reason }, 'Privacy Pass issuer key skipped: its tokens are refused');
      },
    },
    bootKeys,
  );
  logger.info({ tokenKeyIds: redeemer.keyIds, spentTokens: spentConfig.kind }, 'Privacy Pass redemption on');
  let timer: TimerHandle | undefined;
  let closed = false;
  if (directory.kind === 'issuer' && fetched !== undefined) {
    const url = issuerDirectoryUrl(directory.url);
    const schedule = (seconds: number): void => {
      if (closed) return;
      timer = (config.setTimer ?? unrefTimer)(() => {
        fetchDirectory(url, directory.fetch)
          .then(async (next) => {
            await redeemer.setKeys(next.keys);
            logger.info({ tokenKeyIds: redeemer.keyIds, maxAge: next.maxAgeSeconds }, 'Privacy Pass issuer directory refreshed');
            schedule(next.maxAgeSeconds);
          })
          .catch((e: unknown) => {
            logger.error(errorFields(e), 'Privacy Pass issuer directory refresh failed; the keys held stay until the retry');
            schedule(RETRY_S);
          });
      }, seconds * 1000);
    };
    schedule(fetched.maxAgeSeconds);
  }
  return {
    redeemer,
    spent,
    close: async () => {
      closed = true;
      timer?.clear();
      await spent.close();
    },
  };
}

/**
 * USAGE at boot when the keys cannot work together: private keys of which none is a type 0x0001 key of the directory
 * (the wrong key, or another issuer's), or a directory whose keys are all of type 0x0001 and none verifiable here.
 */
function checkPrivateKeys(keys: readonly DirectoryKey[], privateKeys: readonly VoprfIssuerKey[], tokenTypes: ReadonlyMap<number, TokenTypeVerifier>): void {
  const typeOne = keys.filter((k) => k.tokenType === TOKEN_TYPE.VOPRF_P384);
  const redeemable = keys.filter((k) => whyNotRedeemed(tokenTypes, k.tokenType, k.tokenKey) === undefined);
  if (privateKeys.length > 0 && !redeemable.some((k) => k.tokenType === TOKEN_TYPE.VOPRF_P384)) {
    throw new UsageError('USAGE', `no --privacy-pass-private-key key (token key IDs ${privateKeys.map((k) => toBase64Url(k.tokenKeyId)).join(', ')}) is a token type 0x0001 key of the issuer directory`);
  }
  if (typeOne.length > 0 && redeemable.length === 0) {
    throw new UsageError('USAGE', 'the issuer directory lists only token type 0x0001 keys, whose tokens verify only with the issuer\'s private key: give it with --privacy-pass-private-key FILE');
  }
}
