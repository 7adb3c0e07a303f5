// Privacy Pass token type 0x0002 (blind RSA 2048, RFC 9578 section 6), the issuer's and the gateway's side, each
// beside the bare node:crypto RSA operation it cannot do without. Cases interleaved call by call.
//   issuance     raw: one RSA-2048 private-key operation (privateDecrypt without padding) on a real blinded message;
//                issueTokenResponse on the TokenRequest carrying it (parse, RSASP1, the RSAVP1 check); the issuer's
//                HTTP handler on loopback (POST /token-request with a bearer token over node:http keep-alive, the
//                client in this process: both ends share the CPU, and each answer writes its log line)
//   redemption   raw: one RSA-PSS verify (SHA-384, salt 48) of a token's authenticator; Redeemer.redeem with
//                MemorySpentTokens: the Authorization header parsed, key and challenge checked, the authenticator
//                verified, the nonce spent
// Redemption spends a pool of distinct tokens made as a client and our issuer make them. Each pass redeems every
// token of the pool once (warm-up included) through a fresh Redeemer, so every redemption timed is of a fresh,
// valid token that the store records.
import { constants, createHash, createPublicKey, generateKeyPairSync, privateDecrypt, verify, type KeyObject } from 'node:crypto';
import http from 'node:http';
import { Writable } from 'node:stream';
import { authenticatorInput, buildAuthorization, createTokenRequest, encodeToken, encodeTokenChallenge, encodeTokenRequest, finalizeToken } from '../attestation/protocols/index.js';
import {
  AccountsAuthorizer,
  createIssuerLogger,
  DEFAULT_REQUEST_PATH,
  ISSUER_TOKEN_TYPES,
  issuerKey,
  issueTokenResponse,
  KeyRing,
  MemorySpentTokens,
  Redeemer,
  startIssuer,
  TOKEN_REQUEST_MEDIA_TYPE,
  type IssuerKey,
} from '../src/privacypass/index.js';
import { measureInterleaved, pairedRatio, summarize, type Measurement, type Ratio, type SuiteReport } from './measure.js';

const ISSUANCE_OPTIONS = { budgetMs: 8000, minIterations: 200, warmup: 50 } as const;
const ISSUANCE_TARGET = 0.8;
const REDEMPTION_TARGET = 10_000;
/** Tokens made before timing (about a millisecond each); every pass spends all of them. */
const POOL = 2000;
const PASSES = 5;
const REDEMPTION_WARMUP = 100;
const BLOCK = 100;
const ISSUER_NAME = 'issuer.bench.example';
const CHALLENGE = encodeTokenChallenge({ tokenType: 2, issuerName: ISSUER_NAME, redemptionContext: new Uint8Array(), originInfo: [] });

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
const perSecond = (x: number): string => Math.round(x).toLocaleString('en-US');
const both = (r: Ratio): string => `${pct(r.perRound.value)} per round (95% CI ${pct(r.perRound.low)}-${pct(r.perRound.high)}) and ${pct(r.total.value)} in total over ${r.rounds} rounds`;
const verdict = (ok: boolean): string => (ok ? 'PASS' : 'MISS');
const newPrivateKey = (): KeyObject => generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 65537 }).privateKey;

/** The issuance baseline: RSASP1 alone, OpenSSL's private-key operation with nothing of ours around it. */
export function rawRsaSign(privateKey: KeyObject): (blindedMsg: Uint8Array) => Buffer {
  return (blindedMsg) => privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, blindedMsg);
}

/** The redemption baseline: a bare RSA-PSS verify (SHA-384, MGF1-SHA384, salt 48) with the issuer key's public half. */
export function rawPssVerify(privateKey: KeyObject): (msg: Uint8Array, signature: Uint8Array) => boolean {
  const options = { key: createPublicKey(privateKey), padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 48 };
  return (msg, signature) => verify('sha384', msg, options, signature);
}

export interface PooledToken {
  readonly authorization: string;
  /** token_authenticator_input and the authenticator, for the baseline. */
  readonly input: Uint8Array;
  readonly authenticator: Uint8Array;
}

/** `count` distinct tokens for CHALLENGE from `key`, made by our client and issuer. */
export async function tokenPool(key: IssuerKey, count: number): Promise<PooledToken[]> {
  const pool: PooledToken[] = [];
  for (let i = 0; i < count; i++) {
    const { request, state } = await createTokenRequest(CHALLENGE, key.tokenKey);
    const token = await finalizeToken(state, await issueTokenResponse(key, encodeTokenRequest(request)));
    pool.push({ authorization: buildAuthorization(encodeToken(token)), input: authenticatorInput(token), authenticator: token.authenticator });
  }
  return pool;
}

/** A Redeemer for CHALLENGE's issuer with `key` and an empty in-memory store. */
export const freshRedeemer = (key: IssuerKey): Promise<Redeemer> => Redeemer.create({ issuerName: ISSUER_NAME, spent: new MemorySpentTokens() }, [{ tokenType: 2, tokenKey: key.tokenKey }]);

/** POSTs a TokenRequest; resolves with the TokenResponse of a 200, rejects on anything else. */
function postTokenRequest(agent: http.Agent, url: string, bearer: string, body: Uint8Array): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const headers = { 'content-type': TOKEN_REQUEST_MEDIA_TYPE, authorization: `Bearer ${bearer}`, 'content-length': body.length };
    const req = http.request(url, { method: 'POST', agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode === 200) resolve(Buffer.concat(chunks));
        else reject(new Error(`the issuer answered ${String(res.statusCode)}: ${Buffer.concat(chunks).toString()}`));
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

export async function privacyPassIssuanceSuite(): Promise<SuiteReport> {
  const privateKey = newPrivateKey();
  const key = await issuerKey(privateKey);
  const type = ISSUER_TOKEN_TYPES[2];
  if (type === undefined) throw new Error('no issuer row for token type 2');
  const bearer = crypto.randomUUID();
  const issuer = await startIssuer({
    keys: KeyRing.fixed([{ key: await type.load(privateKey), notBefore: 0 }]),
    authorizer: new AccountsAuthorizer([{ id: 'bench', tokenSha256: createHash('sha256').update(bearer).digest() }], { tokens: 1e9, periodSeconds: 1 }),
    logger: createIssuerLogger({ destination: new Writable({ write: (_chunk, _encoding, done) => { done(); } }) }),
    port: 0,
  });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const { request, state } = await createTokenRequest(CHALLENGE, key.tokenKey);
    const body = encodeTokenRequest(request);
    const url = `${issuer.url}${DEFAULT_REQUEST_PATH}`;
    // Both answers must finalize into tokens: the rows time working issuance, not a refusal.
    await finalizeToken(state, await issueTokenResponse(key, body));
    await finalizeToken(state, await postTokenRequest(agent, url, bearer, body));
    const rawSign = rawRsaSign(privateKey);
    const rows = await measureInterleaved(
      [
        { name: 'raw node:crypto RSA-2048 private-key op', fn: () => rawSign(request.blindedMsg) },
        { name: 'issueTokenResponse', fn: () => issueTokenResponse(key, body) },
        { name: 'issuer HTTP handler, loopback', fn: () => postTokenRequest(agent, url, bearer, body) },
      ],
      ISSUANCE_OPTIONS,
    );
    const [raw, issue, overHttp] = rows;
    if (raw === undefined || issue === undefined || overHttp === undefined) throw new Error('missing rows');
    const ratio = pairedRatio(raw, issue);
    const httpRatio = pairedRatio(raw, overHttp);
    return {
      title: 'Privacy Pass type 0x0002 issuance (blind RSA 2048) beside a bare RSA-2048 private-key operation; cases interleaved call by call',
      rows,
      baseline: raw.name,
      notes: [
        `issueTokenResponse: ${perSecond(issue.opsPerSec)} tokens/s; of the raw rate ${both(ratio)} (target >= ${pct(ISSUANCE_TARGET)}: ${verdict(ratio.perRound.value >= ISSUANCE_TARGET && ratio.total.value >= ISSUANCE_TARGET)})`,
        `the HTTP handler, one request at a time: ${perSecond(overHttp.opsPerSec)} tokens/s; of the raw rate ${both(httpRatio)}`,
      ],
    };
  } finally {
    agent.destroy();
    await issuer.close();
  }
}

export async function privacyPassRedemptionSuite(): Promise<SuiteReport> {
  const privateKey = newPrivateKey();
  const key = await issuerKey(privateKey);
  const rawVerify = rawPssVerify(privateKey);
  const pool = await tokenPool(key, POOL);
  const passes: Measurement[][] = [];
  for (let p = 0; p < PASSES; p++) {
    const redeemer = await freshRedeemer(key);
    let verified = 0;
    let redeemed = 0;
    passes.push(
      await measureInterleaved(
        [
          {
            name: 'raw node:crypto RSA-PSS verify',
            fn: () => {
              const t = pool[verified++] as PooledToken;
              if (!rawVerify(t.input, t.authenticator)) throw new Error('raw verify refused a token');
            },
          },
          {
            name: 'Redeemer.redeem, memory store',
            fn: async () => {
              const v = await redeemer.redeem([(pool[redeemed++] as PooledToken).authorization]);
              if (!v.ok) throw new Error(`redeem refused a fresh token: ${v.code}`);
            },
          },
        ],
        // No time budget: exactly the pool, each token once.
        { budgetMs: 0, minIterations: POOL - REDEMPTION_WARMUP, warmup: REDEMPTION_WARMUP },
      ),
    );
  }
  const rows = [0, 1].map((i) => summarize(passes[0]?.[i]?.name ?? '', passes.flatMap((pass) => pass[i]?.samples ?? [])));
  const [raw, redeem] = rows;
  if (raw === undefined || redeem === undefined) throw new Error('missing rows');
  const ratio = pairedRatio(raw, redeem);
  // The whole pool again, back to back in blocks that alternate with the raw verify of the same tokens, once per
  // pass: rates with their tails (collections, the store's growth) in them, a slow stretch falling on both sides.
  const backToBack: { redeem: number; verify: number }[] = [];
  for (let p = 0; p < PASSES; p++) {
    const redeemer = await freshRedeemer(key);
    let redeemMs = 0;
    let verifyMs = 0;
    for (let at = 0; at < POOL; at += BLOCK) {
      const block = pool.slice(at, at + BLOCK);
      let start = performance.now();
      for (const t of block) if (!(await redeemer.redeem([t.authorization])).ok) throw new Error('redeem refused a fresh token');
      redeemMs += performance.now() - start;
      start = performance.now();
      for (const t of block) rawVerify(t.input, t.authenticator);
      verifyMs += performance.now() - start;
    }
    backToBack.push({ redeem: POOL / (redeemMs / 1e3), verify: POOL / (verifyMs / 1e3) });
  }
  const median = (xs: number[]): number => xs.sort((a, b) => a - b)[xs.length >> 1] ?? Number.NaN;
  const redeemAll = median(backToBack.map((r) => r.redeem));
  const verifyAll = median(backToBack.map((r) => r.verify));
  const ratioAll = median(backToBack.map((r) => r.redeem / r.verify));
  return {
    title: `Privacy Pass type 0x0002 redemption (verify + spend) beside a bare RSA-PSS verify; ${PASSES} passes over ${POOL} distinct tokens, interleaved call by call`,
    rows,
    baseline: raw.name,
    notes: [
      `Redeemer.redeem: ${perSecond(redeem.opsPerSec)} tokens/s from the median (target >= ${perSecond(REDEMPTION_TARGET)}: ${verdict(redeem.opsPerSec >= REDEMPTION_TARGET)}); of the raw verify rate ${both(ratio)}`,
      `all ${POOL} tokens back to back through a fresh Redeemer, in blocks of ${BLOCK} alternating with the raw verify, median of ${PASSES} passes: ${perSecond(redeemAll)} tokens/s (target: ${verdict(redeemAll >= REDEMPTION_TARGET)}), ${pct(ratioAll)} of the raw verify's rate (${perSecond(verifyAll)}/s)`,
    ],
  };
}
