// The issuer for token type 0x0001 (VOPRF(P-384, SHA-384), RFC 9578 section 5): EC P-384 keys read as node:crypto
// holds them (checked against an RFC vector), the directory's token-key, tokens issued over HTTP to our client that
// finalize (the DLEQ proof checks) and verify, bad requests answered 400, rotation in a key directory, and a log
// that never holds the private key.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createHash, createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fromHex, parseBase64Url, toBase64, toBase64Url, toHex } from '../../../attestation/bytes.js';
import { encodeTokenChallenge, privacyPassType1 as type1 } from '../../../attestation/protocols/index.js';
import { deserializeElement, toAffine, bigintToBytes } from '../../../attestation/protocols/voprf/p384.js';
import { PROTOCOL_VECTORS } from '../../../attestation/testing/vectors.js';
import { harness, problemCodeOf, type Harness } from '../../testing/issuerHarness.js';
import { voprfIssuerKey, type VoprfIssuerKey } from '../voprfKey.js';
import { KeyDirectory } from './keyFiles.js';
import { KeyRing } from './keyRing.js';
import { ISSUER_TOKEN_TYPES, type IssuerTokenType } from './tokenTypes.js';

const TYPE1 = ISSUER_TOKEN_TYPES[1] as IssuerTokenType;
const b64u = (text: string): Uint8Array => parseBase64Url(text) ?? new Uint8Array();
const challenge = (): Uint8Array => encodeTokenChallenge({ tokenType: 1, issuerName: 'issuer.example', redemptionContext: crypto.getRandomValues(new Uint8Array(32)), originInfo: ['origin.example'] });

/** An EC P-384 private KeyObject holding the scalar `skS` (hex), its public point taken from `pkS` (compressed, hex). */
function ecKeyOf(skS: string, pkS: string): KeyObject {
  const { x, y } = toAffine(deserializeElement(fromHex(pkS)));
  const coordinate = (v: bigint): string => toBase64Url(bigintToBytes(v, 48));
  return createPrivateKey({ key: { kty: 'EC', crv: 'P-384', d: toBase64Url(fromHex(skS)), x: coordinate(x), y: coordinate(y) }, format: 'jwk' });
}

/** Our client against the issuer: a type 1 request for the directory key `tokenKey`, POSTed, finalized, verified with `key`. */
async function obtainToken(h: Harness, tokenKey: Uint8Array, key: VoprfIssuerKey): Promise<void> {
  const { request, pending } = await type1.createTokenRequest(await type1.issuerPublicKey(tokenKey), challenge());
  const res = await h.post(request);
  assert.equal(res.status, 200, await res.clone().text());
  assert.equal(res.headers.get('content-type'), 'application/private-token-response');
  const token = await type1.finalizeToken(pending, new Uint8Array(await res.arrayBuffer()));
  assert.deepEqual((await type1.verifyToken(key, token)).tokenKeyId, key.tokenKeyId);
}

describe('Privacy Pass issuer, token type 0x0001: keys', () => {
  it('reads an EC P-384 key as the RFC 9578 vector\'s skS: token-key is SerializeElement(pkI), its SHA-256 the key ID', async () => {
    const [v] = JSON.parse(readFileSync(`${PROTOCOL_VECTORS}privacypass-rfc9578/rfc9578-type1-voprf-p384.json`, 'utf8')) as { skS: string; pkS: string }[];
    assert.ok(v);
    const key = await TYPE1.load(ecKeyOf(v.skS, v.pkS));
    assert.equal(key.tokenType, 1);
    assert.equal(toHex(key.tokenKey), v.pkS);
    assert.deepEqual(key.tokenKeyId, new Uint8Array(createHash('sha256').update(fromHex(v.pkS)).digest()));
  });

  it('generates PKCS#8 PEM EC P-384 keys that load, each with its own key', async () => {
    const pems = [TYPE1.generate(), TYPE1.generate()];
    for (const pem of pems) {
      assert.match(pem, /^-----BEGIN PRIVATE KEY-----\n/);
      const k = createPrivateKey(pem);
      assert.equal(k.asymmetricKeyDetails?.namedCurve, 'secp384r1');
    }
    const [a, b] = await Promise.all(pems.map((pem) => TYPE1.load(createPrivateKey(pem))));
    assert.ok(a && b);
    assert.equal(a.tokenKey.length, 49);
    assert.notDeepEqual(a.tokenKey, b.tokenKey);
  });

  it('refuses what is not an EC P-384 private key with ISSUER_KEY_INVALID naming the source, never quoting the key', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const cases: [KeyObject, RegExp][] = [
      [rsa.privateKey, /got rsa private key/],
      [p256.privateKey, /got ec prime256v1 private key/],
      [generateKeyPairSync('ed25519').privateKey, /got ed25519 private key/],
      [p384.publicKey, /got ec secp384r1 public key/],
    ];
    for (const [key, kind] of cases) {
      const secret = key.type === 'private' ? key.export({ format: 'der', type: 'pkcs8' }).toString('base64').slice(-60, -20) : 'never';
      await assert.rejects(TYPE1.load(key, 'key file "k.pem"'), (e: Error & { code: string }) => e.code === 'ISSUER_KEY_INVALID' && e.message.startsWith('key file "k.pem": token type 0x0001 needs an EC P-384 private key') && kind.test(e.message) && !e.message.includes(secret));
    }
    await assert.rejects(ISSUER_TOKEN_TYPES[2]?.load(p384.privateKey, 'environment variable K') ?? Promise.resolve(), (e: Error & { code: string }) => e.code === 'ISSUER_KEY_INVALID' && /^environment variable K: token type 0x0002 needs an RSA private key/.test(e.message));
  });
});

describe('Privacy Pass issuer, token type 0x0001: over HTTP', () => {
  let h: Harness;
  let pem: string;
  let key: VoprfIssuerKey;
  before(async () => {
    pem = TYPE1.generate();
    key = await voprfIssuerKey(createPrivateKey(pem));
    h = await harness(KeyRing.fixed([{ key: await TYPE1.load(createPrivateKey(pem)), notBefore: 1_700_000_000 }]));
  });
  after(() => h.issuer.close());

  it('lists the key in the directory as token-type 1 with the 49-byte compressed point', async () => {
    const [entry, ...rest] = (await h.directory())['token-keys'];
    assert.deepEqual(rest, []);
    assert.deepEqual(entry, { 'token-type': 1, 'token-key': toBase64Url(key.publicKeyBytes), 'not-before': 1_700_000_000 });
  });

  it('issues tokens to our client that finalize (the DLEQ proof verifies) and verify with the issuer key', async () => {
    const listed = (await h.directory())['token-keys'][0];
    assert.ok(listed);
    await obtainToken(h, b64u(listed['token-key']), key);
    await obtainToken(h, b64u(listed['token-key']), key);
  });

  it('answers malformed requests, another token type and another key with 400 problem+json, and keeps serving', async () => {
    const { request } = await type1.createTokenRequest(await type1.issuerPublicKey(key.publicKeyBytes), challenge());
    const keyId = request[2] as number;
    const cases: [string, Uint8Array, string][] = [
      ['truncated', request.subarray(0, 51), 'BAD_REQUEST'],
      ['trailing byte', new Uint8Array([...request, 0]), 'BAD_REQUEST'],
      ['a type 0x0002 request (this issuer has no type 2 key)', new Uint8Array([0, 2, keyId, ...new Uint8Array(256).fill(1)]), 'BAD_REQUEST'],
      ['another truncated key ID', new Uint8Array([0, 1, keyId ^ 1, ...request.subarray(3)]), 'TOKEN_KEY_UNKNOWN'],
      ['an uncompressed prefix', new Uint8Array([0, 1, keyId, 4, ...request.subarray(4)]), 'BAD_REQUEST'],
      ['x not below p', new Uint8Array([0, 1, keyId, 2, ...new Uint8Array(48).fill(0xff)]), 'BAD_REQUEST'],
    ];
    for (const [name, body, code] of cases) {
      const res = await h.post(body);
      assert.equal(res.status, 400, name);
      assert.equal(res.headers.get('content-type'), 'application/problem+json', name);
      assert.equal(await problemCodeOf(res), code, name);
    }
    await obtainToken(h, key.publicKeyBytes, key);
  });

  it('answers arbitrary bytes after a valid header with 200 only for a point on the curve, else 400 (property)', async () => {
    const keyId = key.tokenKeyId[31] as number;
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 80 }), async (rest) => {
        const body = new Uint8Array([0, 1, keyId, ...rest]);
        const res = await h.post(body);
        await res.arrayBuffer();
        if (res.status === 200) return body.length === 52;
        return res.status === 400;
      }),
      { numRuns: 60 },
    );
  });

  it('never logs the private key', () => {
    const text = h.log.text();
    const d = parseBase64Url(createPrivateKey(pem).export({ format: 'jwk' }).d ?? '') ?? new Uint8Array();
    for (const secret of [toHex(d), toBase64Url(d), toBase64(d), key.secretKey.toString(), ...pem.split('\n').filter((l) => l !== '' && !l.startsWith('-----'))]) assert.ok(!text.includes(secret));
    assert.ok(h.log.lines().some((l) => l.status === 200));
  });
});

describe('Privacy Pass issuer, token type 0x0001: rotation', () => {
  it('keeps its keys as token-key-0001-NOTBEFORE.pem and issues with the announced key once in force', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'issuer-keys-1-'));
    let now = 1_800_000_000;
    const ring = await KeyRing.rotating({ directory: new KeyDirectory(dir), type: TYPE1, rotateSeconds: 1000, overlapSeconds: 100 }, { now: () => now });
    const h = await harness(ring);
    try {
      now = 1_800_000_900;
      await ring.refresh();
      now = 1_800_001_050;
      assert.deepEqual(readdirSync(dir).sort(), ['token-key-0001-1800000000.pem', 'token-key-0001-1800001000.pem']);
      const keys = (await h.directory())['token-keys'];
      assert.deepEqual(keys.map((k) => k['token-type']), [1, 1]);
      for (const [i, listed] of keys.entries()) {
        const stored = await new KeyDirectory(dir).read({ tokenType: 1, notBefore: listed['not-before'] ?? 0, path: join(dir, readdirSync(dir).sort()[i] ?? '') });
        await obtainToken(h, b64u(listed['token-key']), await voprfIssuerKey(stored));
      }
    } finally {
      await h.issuer.close();
    }
  });
});
