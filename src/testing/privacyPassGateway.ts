// Test support for Privacy Pass redemption: real tokens (our client, our issuer's blind signing) and a gateway that
// redeems them in front of one counting target, reached through real OHTTP encapsulation.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { toBase64Url } from '../../attestation/bytes.js';
import { decodeResponse, encodeRequest, type BhttpRequest } from '../../attestation/protocols/bhttp.js';
import { encapsulateRequest, type GatewayKey } from '../../attestation/protocols/ohttp/encapsulation.js';
import { cipherSuite } from '../../attestation/protocols/ohttp/hpke.js';
import { AEAD_AES_128_GCM, KDF_HKDF_SHA256, KEM_X25519_HKDF_SHA256 } from '../../attestation/protocols/ohttp/keyConfig.js';
import { createTokenRequest, encodeTokenRequest, finalizeToken, parseWwwAuthenticate, type Token } from '../../attestation/protocols/index.js';
import { nodeHpke } from '../base/crypto/nodeHpke.js';
import { OhttpGateway } from '../ohttp/gateway.js';
import { targetRouter } from '../ohttp/target.js';
import { issuerKey, issueTokenResponse, type IssuerKey } from '../privacypass/blindSign.js';
import { parseIssuerDirectory } from '../../attestation/protocols/privacypass/issuerDirectory.js';
import { Redeemer } from '../privacypass/redemption/redeemer.js';
import { MemorySpentTokens, type SpentTokenStore } from '../privacypass/redemption/spentTokens.js';

export async function ohttpKey(): Promise<GatewayKey> {
  const suite = cipherSuite(nodeHpke, KEM_X25519_HKDF_SHA256, KDF_HKDF_SHA256, AEAD_AES_128_GCM);
  assert.ok(suite !== undefined);
  const pair = await suite.kem.generateKeyPair();
  return { config: { keyId: 1, kemId: KEM_X25519_HKDF_SHA256, publicKey: new Uint8Array(await suite.kem.serializePublicKey(pair.publicKey)), suites: [{ kdfId: KDF_HKDF_SHA256, aeadId: AEAD_AES_128_GCM }] }, privateKey: pair.privateKey };
}

export const newIssuerKey = (): Promise<IssuerKey> => issuerKey(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey);

/** A token for `challenge` from `key`, made the way a client and the issuer make it. */
export async function mintToken(key: IssuerKey, challenge: Uint8Array): Promise<Token> {
  const { request, state } = await createTokenRequest(challenge, key.tokenKey);
  return finalizeToken(state, await issueTokenResponse(key, encodeTokenRequest(request)));
}

export interface Fixture {
  readonly gateway: OhttpGateway;
  readonly redeemer: Redeemer;
  readonly ran: { count: number };
  send(headers?: [string, string][]): Promise<{ status: number; headers: [string, string][]; body: unknown }>;
}

export async function fixture(options: { keys: readonly IssuerKey[]; spent?: SpentTokenStore; now?: () => number; notBefore?: number | readonly number[]; ohttp?: GatewayKey }): Promise<Fixture> {
  const k = options.ohttp ?? (await ohttpKey());
  const directory = parseIssuerDirectory({ 'token-keys': options.keys.map((key, i) => {
    const notBefore = typeof options.notBefore === 'number' ? options.notBefore : options.notBefore?.[i];
    return { 'token-type': 2, 'token-key': toBase64Url(key.tokenKey), ...(notBefore === undefined ? {} : { 'not-before': notBefore }) };
  }) }).tokenKeys;
  const redeemer = await Redeemer.create({ issuerName: 'issuer.cloister.test', originInfo: ['gateway.cloister.test'], spent: options.spent ?? new MemorySpentTokens(), keyLifetimeSeconds: 3600, ...(options.now === undefined ? {} : { now: options.now }) }, directory);
  const ran = { count: 0 };
  const target = targetRouter([
    {
      method: 'POST',
      path: '/v1/infer',
      handler: () => {
        ran.count++;
        return Promise.resolve({ status: 200, informational: [], headers: [], content: new TextEncoder().encode('ran'), trailers: [] });
      },
    },
  ]);
  const gateway = new OhttpGateway({ keys: () => k, target, primitives: nodeHpke, admit: (r) => redeemer.admit(r) });
  const send = async (headers: [string, string][] = []): Promise<{ status: number; headers: [string, string][]; body: unknown }> => {
    const request: BhttpRequest = { method: 'POST', scheme: 'https', authority: 'gateway.cloister.test', path: '/v1/infer', headers, content: new Uint8Array([1]), trailers: [] };
    const sent = await encapsulateRequest(k.config, encodeRequest(request), { primitives: nodeHpke });
    const outcome = await gateway.handle(sent.bytes);
    assert.ok(outcome.kind === 'encapsulated', JSON.stringify(outcome));
    const r = decodeResponse(await sent.opener.open(new Uint8Array(Buffer.concat(outcome.body))));
    const text = new TextDecoder().decode(r.content);
    const json = r.headers.some(([n, v]) => n === 'content-type' && v === 'application/problem+json');
    return { status: r.status, headers: r.headers.map(([n, v]) => [n, v]), body: json ? (JSON.parse(text) as unknown) : text };
  };
  return { gateway, redeemer, ran, send };
}

export const header = (headers: readonly [string, string][], name: string): string | undefined => headers.find(([n]) => n === name)?.[1];

/** The challenge the gateway's 401 offers for `key`. */
export async function challengeFor(f: Fixture, key: IssuerKey): Promise<Uint8Array> {
  const refused = await f.send();
  const offered = parseWwwAuthenticate(header(refused.headers, 'www-authenticate') ?? '').find((c) => Buffer.from(c.tokenKey).equals(key.tokenKey));
  assert.ok(offered, 'no challenge for the key');
  return offered.challenge;
}

