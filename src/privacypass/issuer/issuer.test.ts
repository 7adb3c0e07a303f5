// The issuer end to end over HTTP: its directory, a token issued to our client and verified, rotation on an injected
// clock, authentication and rate limits, bad inputs, key file checks, and a log that never holds key bytes.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseBase64Url, toArrayBufferView, toBase64 } from '../../../attestation/bytes.js';
import { createTokenRequest, encodeTokenChallenge, encodeTokenRequest, finalizeToken, verifyToken } from '../../../attestation/protocols/index.js';
import { ACCOUNTS, capture, harness, sha256, type Harness } from '../../testing/issuerHarness.js';
import { AccountsAuthorizer, parseAccounts, parseRate } from './authorizer.js';
import type { IssuerDirectoryJson } from '../../../attestation/protocols/privacypass/issuerDirectory.js';
import { DIRECTORY_PATH } from './directory.js';
import { KeyDirectory, readKeyFile } from './keyFiles.js';
import { KeyRing } from './keyRing.js';
import { createIssuerLogger } from './issuerLog.js';
import { startIssuer } from './server.js';
import { ISSUER_TOKEN_TYPES, type IssuerTokenType } from './tokenTypes.js';

const TYPE2 = ISSUER_TOKEN_TYPES[2] as IssuerTokenType;
const b64u = (text: string): Uint8Array => parseBase64Url(text) ?? new Uint8Array();
const challenge = (): Uint8Array => encodeTokenChallenge({ tokenType: 2, issuerName: 'issuer.example', redemptionContext: crypto.getRandomValues(new Uint8Array(32)), originInfo: ['origin.example'] });

/** Our client against the issuer: a request for `tokenKey`, POSTed, finalized and verified. */
async function obtainToken(h: Harness, tokenKey: Uint8Array): Promise<void> {
  const c = challenge();
  const { request, state } = await createTokenRequest(c, tokenKey);
  const res = await h.post(encodeTokenRequest(request));
  assert.equal(res.status, 200, await res.clone().text());
  assert.equal(res.headers.get('content-type'), 'application/private-token-response');
  const token = await finalizeToken(state, new Uint8Array(await res.arrayBuffer()));
  await verifyToken(token, tokenKey, c);
}

const fixedKey = async (): Promise<{ pem: string; ring: KeyRing; tokenKey: Uint8Array }> => {
  const pem = TYPE2.generate();
  const key = await TYPE2.load(createPrivateKey(pem));
  return { pem, ring: KeyRing.fixed([{ key, notBefore: 1_700_000_000 }]), tokenKey: key.tokenKey };
};

describe('Privacy Pass issuer', () => {
  let h: Harness;
  let pem: string;
  let tokenKey: Uint8Array;
  before(async () => {
    const k = await fixedKey();
    pem = k.pem;
    tokenKey = k.tokenKey;
    h = await harness(k.ring);
  });
  after(() => h.issuer.close());

  it('serves the RFC 9578 section 4 directory with its media type and a max-age', async () => {
    const res = await fetch(h.issuer.url + DIRECTORY_PATH);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/private-token-issuer-directory');
    assert.equal(res.headers.get('cache-control'), 'public, max-age=3600');
    const body = (await res.json()) as IssuerDirectoryJson;
    assert.deepEqual(Object.keys(body), ['issuer-request-uri', 'token-keys']);
    assert.equal(body['issuer-request-uri'], '/token-request');
    assert.equal(body['token-keys'].length, 1);
    const [entry] = body['token-keys'];
    assert.equal(entry?.['token-type'], 2);
    assert.equal(entry['not-before'], 1_700_000_000);
    assert.deepEqual(b64u(entry['token-key']), tokenKey);
  });

  it('issues a token to our client that verifies with the directory key', async () => {
    const listed = (await h.directory())['token-keys'][0];
    assert.ok(listed);
    await obtainToken(h, b64u(listed['token-key']));
  });

  it('refuses a request without, or with a wrong, bearer credential: 401 with WWW-Authenticate', async () => {
    const { request } = await createTokenRequest(challenge(), tokenKey);
    for (const authorization of [undefined, 'Bearer wrong', 'Basic YWxpY2U6eA==', 'Bearer alice-secret-but-longer']) {
      const headers: Record<string, string> = { 'content-type': 'application/private-token-request' };
      if (authorization !== undefined) headers.authorization = authorization;
      const res = await fetch(`${h.issuer.url}/token-request`, { method: 'POST', body: toArrayBufferView(encodeTokenRequest(request)), headers });
      assert.equal(res.status, 401, String(authorization));
      assert.equal(res.headers.get('www-authenticate'), 'Bearer');
      assert.equal(((await res.json()) as { code: string }).code, 'ISSUANCE_UNAUTHORIZED');
    }
    assert.equal((await h.post(encodeTokenRequest(request), { authorization: 'bearer bob-secret' })).status, 200);
  });

  it('refuses two Authorization headers 401, whichever of them holds the credential (Node would keep only the first)', async () => {
    const { request } = await createTokenRequest(challenge(), tokenKey);
    const body = Buffer.from(encodeTokenRequest(request));
    for (const pair of [['Bearer alice-secret', 'Bearer wrong'], ['Bearer wrong', 'Bearer alice-secret'], ['Bearer alice-secret', 'Bearer alice-secret']]) {
      const { port } = new URL(h.issuer.url);
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect(Number(port), '127.0.0.1');
        let text = '';
        socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
        socket.on('end', () => {
          resolve(text);
        });
        socket.on('error', reject);
        socket.write(Buffer.concat([Buffer.from(`POST /token-request HTTP/1.1\r\nhost: issuer\r\nconnection: close\r\ncontent-type: application/private-token-request\r\n${pair.map((v) => `authorization: ${v}\r\n`).join('')}content-length: ${body.length}\r\n\r\n`), body]));
      });
      assert.match(answer, /^HTTP\/1\.1 401 /, pair.join(' | '));
      assert.match(answer, /"code":"ISSUANCE_UNAUTHORIZED"/);
    }
  });

  it('answers bad inputs with 415, 413, 400 problem+json, and keeps serving', async () => {
    const { request } = await createTokenRequest(challenge(), tokenKey);
    const good = encodeTokenRequest(request);
    const cases: [string, Uint8Array, Record<string, string>, number, string][] = [
      ['wrong media type', good, { 'content-type': 'application/octet-stream' }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
      ['empty body', new Uint8Array(), {}, 400, 'BAD_REQUEST'],
      ['one byte', new Uint8Array([0]), {}, 400, 'BAD_REQUEST'],
      ['token type only', new Uint8Array([0, 2]), {}, 400, 'BAD_REQUEST'],
      ['truncated', good.subarray(0, 100), {}, 400, 'BAD_REQUEST'],
      ['trailing byte', new Uint8Array([...good, 0]), {}, 400, 'BAD_REQUEST'],
      ['token type 1 (not issued here)', new Uint8Array([0, 1, ...good.subarray(2)]), {}, 400, 'BAD_REQUEST'],
      ['unknown token type', new Uint8Array([0xff, 0xff, ...good.subarray(2)]), {}, 400, 'BAD_REQUEST'],
      ['unknown key id', new Uint8Array([0, 2, (good[2] ?? 0) ^ 1, ...good.subarray(3)]), {}, 400, 'TOKEN_KEY_UNKNOWN'],
      ['blinded message above the modulus', new Uint8Array([0, 2, good[2] ?? 0, ...new Uint8Array(256).fill(0xff)]), {}, 400, 'BAD_REQUEST'],
      ['too large', new Uint8Array(5000), {}, 413, 'PAYLOAD_TOO_LARGE'],
    ];
    for (const [name, body, headers, status, code] of cases) {
      const res = await h.post(body, headers);
      assert.equal(res.status, status, name);
      assert.equal(res.headers.get('content-type'), 'application/problem+json', name);
      assert.equal(((await res.json()) as { code: string }).code, code, name);
    }
    assert.equal((await fetch(h.issuer.url + DIRECTORY_PATH, { method: 'POST' })).status, 405);
    assert.equal((await fetch(`${h.issuer.url}/token-request`)).status, 405);
    assert.equal((await fetch(`${h.issuer.url}/elsewhere`)).status, 404);
    await obtainToken(h, tokenKey);
  });

  it('answers arbitrary bodies, and arbitrary bytes after a valid header, with 400 or 413 problem+json (property)', async () => {
    const keyIdByte = (await createTokenRequest(challenge(), tokenKey)).request.truncatedTokenKeyId;
    const bodies = fc.oneof(fc.uint8Array({ maxLength: 600 }), fc.uint8Array({ minLength: 0, maxLength: 300 }).map((rest) => new Uint8Array([0, 2, keyIdByte, ...rest])));
    await fc.assert(
      fc.asyncProperty(bodies, async (body) => {
        const res = await h.post(body);
        const text = await res.text();
        // A 256-byte blinded message below the modulus is a well-formed request and is signed.
        if (res.status === 200) return body.length === 259;
        return [400, 413].includes(res.status) && res.headers.get('content-type') === 'application/problem+json' && typeof (JSON.parse(text) as { code?: unknown }).code === 'string';
      }),
      { numRuns: 150 },
    );
    await obtainToken(h, tokenKey);
  });

  it('answers 408 and closes a connection whose request is not complete within the time limit, not 30 s later', async () => {
    const slow = await startIssuer({ keys: (await fixedKey()).ring, authorizer: new AccountsAuthorizer(ACCOUNTS, { tokens: 10, periodSeconds: 1 }), logger: createIssuerLogger({ destination: capture().stream }), port: 0, requestTimeoutMs: 300 });
    try {
      const started = performance.now();
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect(Number(new URL(slow.url).port), '127.0.0.1');
        let text = '';
        socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
        socket.on('close', () => {
          resolve(text);
        });
        socket.on('error', reject);
        // Headers, then 3 of the 259 bytes announced, then nothing.
        socket.write('POST /token-request HTTP/1.1\r\nhost: issuer\r\ncontent-type: application/private-token-request\r\nauthorization: Bearer alice-secret\r\ncontent-length: 259\r\n\r\n\x00\x02\x07');
      });
      assert.match(answer, /^HTTP\/1\.1 408 /);
      assert.ok(performance.now() - started < 5000, `closed after ${Math.round(performance.now() - started)} ms`);
    } finally {
      await slow.close();
    }
  });

  it('survives a client that leaves in the middle of its body', async () => {
    const { request: httpRequest } = await import('node:http');
    await new Promise<void>((resolve) => {
      const req = httpRequest(`${h.issuer.url}/token-request`, { method: 'POST', headers: { 'content-type': 'application/private-token-request', authorization: 'Bearer alice-secret', 'content-length': '259' } });
      req.on('error', () => {
        resolve();
      });
      req.write(new Uint8Array([0, 2, 7]), () => {
        setTimeout(() => {
          req.destroy();
          resolve();
        }, 50);
      });
    });
    await obtainToken(h, tokenKey);
  });

  it('logs one JSON line per answer with allowlisted fields, and never key material or credentials', () => {
    const lines = h.log.lines();
    assert.ok(lines.length > 10);
    for (const line of lines) {
      assert.equal(line.service, 'cloister-issuer');
      for (const field of Object.keys(line)) assert.ok(['level', 'time', 'service', 'msg', 'route', 'status', 'ms', 'account', 'keyId', 'problem'].includes(field), field);
    }
    assert.ok(lines.some((l) => l.account === 'alice' && l.status === 200 && l.route === 'token-request'));
    const der = createPrivateKey(pem).export({ format: 'der', type: 'pkcs8' });
    const text = h.log.text();
    const body = pem.split('\n').filter((l) => !l.startsWith('-----'));
    for (const chunk of [toBase64(der).slice(100, 160), ...body.slice(2, 6)]) assert.ok(!text.includes(chunk));
    assert.ok(!text.includes('alice-secret') && !text.includes('bob-secret'));
  });
});

describe('Privacy Pass issuer: rate limit per account', () => {
  it('answers 429 with Retry-After once an account spent its bucket, while another account still gets tokens', async () => {
    let ms = 0;
    const { ring, tokenKey } = await fixedKey();
    const h = await harness(ring, new AccountsAuthorizer(ACCOUNTS, { tokens: 2, periodSeconds: 60 }, () => ms));
    try {
      await obtainToken(h, tokenKey);
      await obtainToken(h, tokenKey);
      const { request } = await createTokenRequest(challenge(), tokenKey);
      const res = await h.post(encodeTokenRequest(request));
      assert.equal(res.status, 429);
      assert.equal(res.headers.get('retry-after'), '30');
      assert.equal(((await res.json()) as { code: string }).code, 'RATE_LIMITED');
      assert.equal((await h.post(encodeTokenRequest(request), { authorization: 'Bearer bob-secret' })).status, 200);
      ms = 30_000;
      await obtainToken(h, tokenKey);
    } finally {
      await h.issuer.close();
    }
  });

  it('parses N/PERIOD rates', () => {
    assert.deepEqual(parseRate('100/hour'), { tokens: 100, periodSeconds: 3600 });
    assert.deepEqual(parseRate('10/30s'), { tokens: 10, periodSeconds: 30 });
    assert.deepEqual(parseRate('5/60'), { tokens: 5, periodSeconds: 60 });
    assert.deepEqual(parseRate('1000/day'), { tokens: 1000, periodSeconds: 86400 });
    for (const bad of ['', '100', '0/hour', '10/0s', '10/fortnight', '-1/s', '1.5/s', '10/ hour']) assert.equal(parseRate(bad), undefined, bad);
  });

  it('refuses accounts files that are not of the documented shape, listing every bad path', () => {
    const bad = (text: string): string => {
      try {
        parseAccounts(text);
      } catch (e) {
        assert.equal((e as { code: string }).code, 'ISSUER_ACCOUNTS_INVALID');
        return (e as Error).message;
      }
      assert.fail('accepted');
    };
    assert.match(bad('{'), /not valid JSON/);
    assert.match(bad('[]'), /\$ \(not an object\)/);
    const m = bad(JSON.stringify({ accounts: [{ id: 'a', 'token-sha256': 'AB' }, { id: 'a', 'token-sha256': sha256('x') }, { id: 'a', 'token-sha256': sha256('y'), token: 'x' }, 3], extra: 1 }));
    for (const path of ['$.extra', '$.accounts[0].token-sha256', '$.accounts[1].id (repeats', '$.accounts[2].token', '$.accounts[3] (not an object)']) assert.ok(m.includes(path), path);
  });
});

describe('Privacy Pass issuer: rotation', () => {
  it('announces the next key with a future not-before, issues with the old one during the overlap, then drops it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'issuer-keys-'));
    let now = 1_800_000_000;
    const events: string[] = [];
    const ring = await KeyRing.rotating({ directory: new KeyDirectory(dir), type: TYPE2, rotateSeconds: 1000, overlapSeconds: 100 }, { now: () => now, onEvent: (e) => events.push(`${e.event}@${e.notBefore}`) });
    const h = await harness(ring);
    try {
      let d = await h.directory();
      assert.deepEqual(d['token-keys'].map((k) => k['not-before']), [1_800_000_000]);
      const first = b64u(d['token-keys'][0]?.['token-key'] ?? '');
      // Next announcement is due at 1_800_000_900: the directory may be cached until then.
      assert.equal((await fetch(h.issuer.url + DIRECTORY_PATH)).headers.get('cache-control'), 'public, max-age=900');
      assert.equal(statSync(join(dir, readdirSync(dir)[0] ?? '')).mode & 0o777, 0o600);

      now = 1_800_000_900;
      await ring.refresh();
      d = await h.directory();
      assert.deepEqual(d['token-keys'].map((k) => k['not-before']), [1_800_000_000, 1_800_001_000]);
      const second = b64u(d['token-keys'][1]?.['token-key'] ?? '');
      await obtainToken(h, first);
      // Announced but not in force: a request naming it is refused until its not-before.
      const { request } = await createTokenRequest(challenge(), second);
      assert.equal(((await (await h.post(encodeTokenRequest(request))).json()) as { code: string }).code, 'TOKEN_KEY_UNKNOWN');

      now = 1_800_001_050;
      await ring.refresh();
      assert.equal((await h.directory())['token-keys'].length, 2);
      await obtainToken(h, first);
      await obtainToken(h, second);

      now = 1_800_001_100;
      await ring.refresh();
      d = await h.directory();
      assert.deepEqual(d['token-keys'].map((k) => k['not-before']), [1_800_001_000]);
      const { request: old } = await createTokenRequest(challenge(), first);
      assert.equal(((await (await h.post(encodeTokenRequest(old))).json()) as { code: string }).code, 'TOKEN_KEY_UNKNOWN');
      await obtainToken(h, second);
      assert.deepEqual(readdirSync(dir), ['token-key-0002-1800001000.pem']);
      assert.deepEqual(events, ['key-generated@1800000000', 'key-generated@1800001000', 'key-retired@1800000000']);

      // A restart loads the kept key and carries on its schedule.
      const again = await KeyRing.rotating({ directory: new KeyDirectory(dir), type: TYPE2, rotateSeconds: 1000, overlapSeconds: 100 }, { now: () => now });
      assert.deepEqual(again.listed().map((k) => k.key.tokenKey), [second]);
    } finally {
      await h.issuer.close();
    }
  });

  it('after a long stop, announces the successor at once and keeps the stale key until it is in force', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'issuer-keys-'));
    let now = 1_800_000_000;
    const options = { directory: new KeyDirectory(dir), type: TYPE2, rotateSeconds: 1000, overlapSeconds: 100 };
    await KeyRing.rotating(options, { now: () => now });
    now += 50_000;
    const ring = await KeyRing.rotating(options, { now: () => now });
    assert.deepEqual(ring.listed().map((k) => k.notBefore), [1_800_000_000, now + 100]);
    assert.deepEqual(ring.inForce().map((k) => k.notBefore), [1_800_000_000]);
    assert.equal(ring.secondsUntilChange(), 100 + 100);
  });

  it('a late refresh: max-age 0 while the announcement is due, then the key gets a not-before a whole overlap away', async () => {
    let now = 1_800_000_000;
    const ring = await KeyRing.rotating({ directory: new KeyDirectory(mkdtempSync(join(tmpdir(), 'issuer-keys-'))), type: TYPE2, rotateSeconds: 1000, overlapSeconds: 100 }, { now: () => now });
    now = 1_800_000_950;
    assert.equal(ring.secondsUntilChange(), 0);
    await ring.refresh();
    assert.deepEqual(ring.listed().map((k) => k.notBefore), [1_800_000_000, 1_800_001_050]);
    // The next change is the old key's retirement, an overlap after the new one's not-before.
    assert.equal(ring.secondsUntilChange(), 1_800_001_150 - now);
  });

  it('caps the directory max-age at a day however long the rotation', async () => {
    const now = 1_800_000_000;
    const ring = await KeyRing.rotating({ directory: new KeyDirectory(mkdtempSync(join(tmpdir(), 'issuer-keys-'))), type: TYPE2, rotateSeconds: 30 * 86400, overlapSeconds: 86400 }, { now: () => now });
    assert.equal(ring.secondsUntilChange(), 86400);
  });

  it('refuses an overlap as long as the rotation', async () => {
    await assert.rejects(KeyRing.rotating({ directory: new KeyDirectory(mkdtempSync(join(tmpdir(), 'issuer-keys-'))), type: TYPE2, rotateSeconds: 100, overlapSeconds: 100 }), /overlap/);
  });
});

describe('Privacy Pass issuer: key files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'issuer-keyfile-'));
  const pem = TYPE2.generate();
  const file = (name: string, mode: number, content = pem): string => {
    const path = join(dir, name);
    writeFileSync(path, content, { mode });
    chmodSync(path, mode);
    return path;
  };

  it('reads a key file of mode 0600 or 0400', async () => {
    for (const mode of [0o600, 0o400]) assert.equal((await readKeyFile(file(`ok-${mode}.pem`, mode))).type, 'private');
  });

  it('refuses a key file group or others may read or write, or another user owns', async () => {
    for (const mode of [0o640, 0o604, 0o644, 0o660, 0o602]) {
      await assert.rejects(readKeyFile(file(`open-${mode}.pem`, mode)), (e: Error & { code: string }) => e.code === 'ISSUER_KEY_UNSAFE' && e.message.includes(`0${mode.toString(8)}`) && !e.message.includes(pem.slice(40, 80)));
    }
    await assert.rejects(readKeyFile(file('other.pem', 0o600), (process.getuid?.() ?? 0) + 1), (e: Error & { code: string }) => e.code === 'ISSUER_KEY_UNSAFE' && /owned by uid/.test(e.message));
    await assert.rejects(readKeyFile(dir), (e: Error & { code: string }) => e.code === 'ISSUER_KEY_UNSAFE');
    await assert.rejects(readKeyFile(join(dir, 'absent.pem')), (e: Error & { code: string }) => e.code === 'UNREADABLE_INPUT');
  });

  it('refuses a named pipe at once instead of waiting for a writer (the file is opened without blocking)', { timeout: 10_000 }, async () => {
    const fifo = join(dir, 'fifo.pem');
    execFileSync('mkfifo', ['-m', '600', fifo]);
    await assert.rejects(readKeyFile(fifo), (e: Error & { code: string }) => e.code === 'ISSUER_KEY_UNSAFE' && /is not a regular file/.test(e.message));
  });

  it('refuses what is not an RSA-2048 private key, without quoting it', async () => {
    const notPem = file('garbage.pem', 0o600, '-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWJ5dGVz\n-----END PRIVATE KEY-----\n');
    await assert.rejects(readKeyFile(notPem), (e: Error & { code: string }) => e.code === 'ISSUER_KEY_INVALID' && !e.message.includes('c2VjcmV0'));
    for (const key of [generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey, generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey]) {
      await assert.rejects(TYPE2.load(key), (e: Error & { code: string }) => e.code === 'ISSUER_KEY_INVALID');
    }
  });

  it('refuses a key directory group or others may write to', async () => {
    const open = mkdtempSync(join(tmpdir(), 'issuer-open-'));
    chmodSync(open, 0o777);
    await assert.rejects(new KeyDirectory(open).open(), (e: Error & { code: string }) => e.code === 'ISSUER_KEY_UNSAFE');
  });
});
