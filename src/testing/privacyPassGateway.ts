// Test support for Privacy Pass redemption: real tokens (our client, our issuer's blind signing or VOPRF evaluation)
// and a gateway that redeems them in front of one counting target, reached through real OHTTP encapsulation.
import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { toBase64Url } from '../../attestation/bytes.js';
import { decodeResponse, encodeRequest, type BhttpRequest } from '../../attestation/protocols/bhttp.js';
import { encapsulateRequest, type GatewayKey } from '../../attestation/protocols/ohttp/encapsulation.js';
import { cipherSuite } from '../../attestation/protocols/ohttp/hpke.js';
import { AEAD_AES_128_GCM, KDF_HKDF_SHA256, KEM_X25519_HKDF_SHA256 } from '../../attestation/protocols/ohttp/keyConfig.js';
import { createTokenRequest, decodeToken, encodeTokenRequest, finalizeToken, parseWwwAuthenticate, privacyPassType1, type Token } from '../../attestation/protocols/index.js';
import { nodeHpke } from '../base/crypto/nodeHpke.js';
import { OhttpGateway } from '../ohttp/gateway.js';
import { targetRouter } from '../ohttp/target.js';
import { issuerKey, issueTokenResponse, type IssuerKey } from '../privacypass/blindSign.js';
import { parseIssuerDirectory } from '../../attestation/protocols/privacypass/issuerDirectory.js';
import { Redeemer, type SkippedKey } from '../privacypass/redemption/redeemer.js';
import { MemorySpentTokens, type SpentTokenStore } from '../privacypass/redemption/spentTokens.js';
import { redeemedTokenTypes } from '../privacypass/redemption/verifiers.js';
import { generateVoprfKey, issueVoprfTokenResponse, voprfIssuerKey, type VoprfIssuerKey } from '../privacypass/voprfKey.js';

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

export const newVoprfKey = (): Promise<VoprfIssuerKey> => voprfIssuerKey(createPrivateKey(generateVoprfKey()));

/** A type 0x0001 token for `challenge` from `key`: our client's request, the issuer's evaluation, the client's finalization. */
export async function mintVoprfToken(key: VoprfIssuerKey, challenge: Uint8Array): Promise<Token> {
  const { request, pending } = await privacyPassType1.createTokenRequest(await privacyPassType1.issuerPublicKey(key.publicKeyBytes), challenge);
  return decodeToken(await privacyPassType1.finalizeToken(pending, await issueVoprfTokenResponse(key, request)));
}

/** The directory's token-key of an issuer key of either type. */
export const tokenKeyOf = (key: IssuerKey | VoprfIssuerKey): Uint8Array => ('publicKeyBytes' in key ? key.publicKeyBytes : key.tokenKey);

export interface Fixture {
  readonly gateway: OhttpGateway;
  readonly redeemer: Redeemer;
  readonly ran: { count: number };
  /** The directory keys the redeemer skipped, as it reported them. */
  readonly skipped: SkippedKey[];
  send(headers?: [string, string][]): Promise<{ status: number; headers: [string, string][]; body: unknown }>;
}

/**
 * A gateway redeeming tokens of `keys` (type 0x0002) and `voprfKeys` (type 0x0001, listed after them), holding the
 * private keys `privateKeys` (default: those of `voprfKeys`).
 */
export async function fixture(options: { keys: readonly IssuerKey[]; voprfKeys?: readonly VoprfIssuerKey[]; privateKeys?: readonly VoprfIssuerKey[]; spent?: SpentTokenStore; now?: () => number; notBefore?: number | readonly number[]; ohttp?: GatewayKey }): Promise<Fixture> {
  const k = options.ohttp ?? (await ohttpKey());
  const listed = [...options.keys.map((key) => ({ tokenType: 2, key: key.tokenKey })), ...(options.voprfKeys ?? []).map((key) => ({ tokenType: 1, key: key.publicKeyBytes }))];
  const directory = parseIssuerDirectory({ 'token-keys': listed.map((key, i) => {
    const notBefore = typeof options.notBefore === 'number' ? options.notBefore : options.notBefore?.[i];
    return { 'token-type': key.tokenType, 'token-key': toBase64Url(key.key), ...(notBefore === undefined ? {} : { 'not-before': notBefore }) };
  }) }).tokenKeys;
  const skipped: SkippedKey[] = [];
  const tokenTypes = redeemedTokenTypes(options.privateKeys ?? options.voprfKeys ?? []);
  const redeemer = await Redeemer.create({ issuerName: 'issuer.cloister.test', originInfo: ['gateway.cloister.test'], spent: options.spent ?? new MemorySpentTokens(), keyLifetimeSeconds: 3600, tokenTypes, onSkippedKey: (s) => skipped.push(s), ...(options.now === undefined ? {} : { now: options.now }) }, directory);
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
  return { gateway, redeemer, ran, skipped, send };
}

export const header = (headers: readonly [string, string][], name: string): string | undefined => headers.find(([n]) => n === name)?.[1];

/** The challenge the gateway's 401 offers for `key`. */
export async function challengeFor(f: Fixture, key: IssuerKey | VoprfIssuerKey): Promise<Uint8Array> {
  const refused = await f.send();
  const offered = parseWwwAuthenticate(header(refused.headers, 'www-authenticate') ?? '').find((c) => Buffer.from(c.tokenKey).equals(tokenKeyOf(key)));
  assert.ok(offered, 'no challenge for the key');
  return offered.challenge;
}

