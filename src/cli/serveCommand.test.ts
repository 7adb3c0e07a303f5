import assert from 'node:assert/strict';
import { createHash, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request as httpsRequest, Agent } from 'node:https';
import { Writable } from 'node:stream';
import { TLSSocket } from 'node:tls';
import { bootReportData, keysDigest } from '../../attestation/evidence/reportData.js';
import { toBase64Url, toHex } from '../../attestation/bytes.js';
import { verifyAttestedCertificate } from '../../attestation/ratls/verifyCertificate.js';
import { SnpVerifier } from '../../attestation/snp/verify.js';
import { ATTESTATION_VECTORS } from '../../attestation/testing/vectors.js';
import { parseCertificate } from '../../attestation/x509.js';
import { decodeKeyConfig, decodeOhttpKeys } from '../../attestation/protocols/ohttp/keyConfig.js';
import type { TlsIdentity } from '../server/tlsIdentity.js';
import { newIssuerKey } from '../testing/privacyPassGateway.js';
import { generateVoprfKey, voprfIssuerKey } from '../privacypass/voprfKey.js';
import { NoTeeError } from '../tee/provider.js';
import { loadOrCreateDevChain, type DevChain } from '../tee/sim/devChain.js';
import { serializeOemStrings } from '../tee/smbios.js';
import { evidenceCommand } from './evidenceCommand.js';
import { processIo } from './io.js';
import { serveCommand } from './serveCommand.js';

const stateDir = mkdtempSync(join(tmpdir(), 'cloister-cli-state-'));
const previous = process.env.CLOISTER_STATE_DIR;
let chain: DevChain;
before(async () => {
  process.env.CLOISTER_STATE_DIR = stateDir;
  chain = await loadOrCreateDevChain(stateDir, { product: 'Milan', tcb: { bootloader: 4, tee: 0, snp: 24, microcode: 219 }, hwId: new Uint8Array(64).fill(1) }, 2048);
});
after(() => {
  if (previous === undefined) delete process.env.CLOISTER_STATE_DIR;
  else process.env.CLOISTER_STATE_DIR = previous;
});

function io(): { io: typeof processIo; out: () => string } {
  let text = '';
  return { io: { ...processIo, stdout: (t) => (text += t), stderr: (t) => (text += t) }, out: () => text };
}

interface Fetched {
  readonly body: string;
  /** DER of the certificate the server presented on this request's connection. */
  readonly certificate: Uint8Array;
  readonly socket: TLSSocket;
  readonly reused: boolean;
}

/** GET over HTTPS accepting the self-signed certificate (the test verifies its attestation instead). */
function get(url: string, agent: Agent): Promise<Fetched> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { agent, rejectUnauthorized: false }, (res) => {
      const socket = res.socket; // released to the agent (null here) by 'end'
      if (!(socket instanceof TLSSocket)) {
        reject(new Error('not a TLS connection'));
        return;
      }
      const certificate = new Uint8Array(socket.getPeerCertificate(true).raw);
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
      });
      res.on('end', () => {
        resolve({ body: Buffer.concat(chunks).toString('utf8'), certificate, socket, reused: req.reusedSocket });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('cloister serve', () => {
  it('serves on the simulated TEE and says so (plain HTTP with --http)', async () => {
    const c = io();
    let close: (() => Promise<void>) | undefined;
    let url = '';
    const code = await serveCommand(['--simulated', '--http', '--port', '0'], c.io, { stopSignal: (fn) => (close = fn), onListening: (u) => (url = u) });
    assert.equal(code, 0, c.out());
    assert.match(c.out(), /SIMULATED TEE/);
    assert.match(c.out(), /PLAIN HTTP \(--http\): the server is not authenticated/);
    assert.match(url, /^http:\/\//);
    const status = (await (await fetch(`${url}/status`)).json()) as { simulated: boolean; tee: string; tls: unknown };
    assert.equal(status.simulated, true);
    assert.match(String(status.tls), /^none: plain HTTP/);
    assert.ok(close);
    await close();
  });

  it('draws its OHTTP key IDs from --ohttp-key-ids (a fleet node\'s range), and refuses a bad range or one the schedule outgrows', async () => {
    const c = io();
    let close: (() => Promise<void>) | undefined;
    let url = '';
    const code = await serveCommand(['--simulated', '--http', '--port', '0', '--models', 'none', '--ohttp-key-ids', '40-43'], c.io, { stopSignal: (fn) => (close = fn), onListening: (u) => (url = u) });
    assert.equal(code, 0, c.out());
    try {
      const keys = decodeOhttpKeys(new Uint8Array(await (await fetch(`${url}/.well-known/ohttp-gateway`)).arrayBuffer()));
      assert.ok(keys.length > 0 && keys.every((k) => { const id = decodeKeyConfig(k).keyId; return id >= 40 && id <= 43; }));
    } finally {
      await close?.();
    }
    for (const [args, message] of [
      [['--ohttp-key-ids', '7-3'], /--ohttp-key-ids must be FIRST-LAST with 0 <= FIRST <= LAST <= 255/],
      [['--ohttp-key-ids', '0-256'], /--ohttp-key-ids must be FIRST-LAST/],
      [['--ohttp-key-ids', '4-5', '--ohttp-rotate', '60', '--ohttp-overlap', '120'], /OHTTP_SCHEDULE_UNWORKABLE.*more than the 2 key IDs of 4-5/],
    ] as const) {
      const bad = io();
      assert.equal(await serveCommand(['--simulated', '--http', '--port', '0', '--models', 'none', ...args], bad.io), 2, bad.out());
      assert.match(bad.out(), message);
      assert.equal(bad.out().trim().split('\n').length, 1, bad.out());
    }
  });

  it('--ohttp-key-ids instance: the range the machine states (here an SMBIOS OEM string), logged with its source; refused when it is missing or outgrown', async () => {
    const sys = (oem: readonly string[]): { smbiosEntries: string; dmiId: string } => {
      const root = mkdtempSync(join(stateDir, 'sys-'));
      mkdirSync(join(root, 'entries', '11-0'), { recursive: true });
      writeFileSync(join(root, 'entries', '11-0', 'raw'), serializeOemStrings(oem));
      mkdirSync(join(root, 'id'));
      writeFileSync(join(root, 'id', 'sys_vendor'), 'QEMU\n');
      return { smbiosEntries: join(root, 'entries'), dmiId: join(root, 'id') };
    };
    const c = io();
    let log = '';
    let close: (() => Promise<void>) | undefined;
    let url = '';
    const logDestination = new Writable({ write: (chunk: Buffer, _enc, done) => { log += chunk.toString(); done(); } });
    const args = ['--simulated', '--http', '--port', '0', '--models', 'none', '--ohttp-key-ids', 'instance'];
    const code = await serveCommand(args, c.io, { stopSignal: (fn) => (close = fn), onListening: (u) => (url = u), logDestination, instance: sys(['cloister.ohttp-key-ids=8-11']) });
    assert.equal(code, 0, c.out());
    try {
      const keys = decodeOhttpKeys(new Uint8Array(await (await fetch(`${url}/.well-known/ohttp-gateway`)).arrayBuffer()));
      assert.ok(keys.length > 0 && keys.every((k) => { const id = decodeKeyConfig(k).keyId; return id >= 8 && id <= 11; }));
      const line = log.split('\n').find((l) => l.includes('keyIdsSource'));
      assert.ok(line !== undefined, log);
      assert.deepEqual((({ keyIds, keyIdsSource }) => ({ keyIds, keyIdsSource }))(JSON.parse(line) as Record<string, unknown>), { keyIds: '8-11', keyIdsSource: 'smbios' });
    } finally {
      await close?.();
    }
    for (const [oem, message] of [
      [['cloister.ohttp-key-ids=8-8'], /OHTTP_SCHEDULE_UNWORKABLE.*more than the 1 key IDs of 8-8/],
      [['cloister.ohttp-key-ids=8-300'], /INSTANCE_KEY_IDS_INVALID.*got "8-300"/],
      [[], /INSTANCE_KEY_IDS_UNAVAILABLE.*no SMBIOS OEM string cloister\.ohttp-key-ids/],
    ] as const) {
      const bad = io();
      assert.equal(await serveCommand(args, bad.io, { instance: sys(oem) }), 2, bad.out());
      assert.match(bad.out(), message);
      assert.equal(bad.out().trim().split('\n').length, 1, bad.out());
    }
  });

  it('serves HTTPS with an RA-TLS certificate and rotates it without dropping connections', async () => {
    const c = io();
    let close: (() => Promise<void>) | undefined;
    let identity: TlsIdentity | undefined;
    let url = '';
    const code = await serveCommand(['--simulated', '--port', '0', '--cert-validity', '600'], c.io, { stopSignal: (fn) => (close = fn), onListening: (u) => (url = u), onTlsIdentity: (i) => (identity = i) });
    assert.equal(code, 0, c.out());
    assert.ok(close && identity);
    assert.match(url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const verifier = new SnpVerifier({ trustedRoots: [chain.ark] });
    const verify = async (der: Uint8Array): Promise<void> => {
      const verdict = await verifyAttestedCertificate(der, {}, { at: new Date(), snpVerifier: verifier, expectedKeyConfigs: identity?.keyConfigs ?? [] });
      assert.equal(verdict.accepted, true, JSON.stringify(verdict.error));
    };
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await get(`${url}/status`, keepAlive);
      await verify(first.certificate);
      const spki = parseCertificate(first.certificate).spki;
      const status = JSON.parse(first.body) as { tls: { notAfter: string; spkiSha256: string } };
      assert.equal(status.tls.spkiSha256, identity.info.spkiSha256);
      assert.equal(status.tls.notAfter, identity.info.notAfter.toISOString());
      assert.equal(new Date(status.tls.notAfter).getTime() - new Date(identity.info.notBefore).getTime(), 600_000);
      assert.match(c.out(), new RegExp(`SPKI SHA-256 ${identity.info.spkiSha256}`));
      // Boot evidence binds keysDigest(the served SPKI, the served OHTTP key configs).
      const boot = async (agent: Agent): Promise<string> => {
        const index = JSON.parse((await get(`${url}/.well-known/cloister/evidence`, agent)).body) as { bundles: { href: string }[] };
        const bundle = JSON.parse((await get(`${url}${index.bundles[0]?.href ?? ''}`, agent)).body) as { evidence: string };
        return Buffer.from(bundle.evidence, 'base64').subarray(0x50, 0x90).toString('hex');
      };
      assert.equal(identity.keyConfigs.length, 1);
      assert.equal(await boot(keepAlive), toHex(await bootReportData(await keysDigest(spki, identity.keyConfigs))));

      await identity.rotate();

      const again = await get(`${url}/status`, keepAlive);
      assert.equal(again.reused, true, 'the open keep-alive connection is reused');
      assert.equal(again.socket, first.socket);
      assert.deepEqual(again.certificate, first.certificate, 'the open connection keeps the certificate it negotiated');
      const fresh = new Agent({ keepAlive: false });
      const after = await get(`${url}/status`, fresh);
      assert.equal(after.reused, false);
      const newSpki = parseCertificate(after.certificate).spki;
      assert.notDeepEqual(newSpki, spki, 'a new connection sees the new key');
      await verify(after.certificate);
      assert.equal((JSON.parse(after.body) as { tls: { spkiSha256: string } }).tls.spkiSha256, createHash('sha256').update(newSpki).digest('hex'));
      assert.equal(await boot(fresh), toHex(await bootReportData(await keysDigest(newSpki, identity.keyConfigs))), 'boot evidence re-acquired for the new key');
      fresh.destroy();
    } finally {
      keepAlive.destroy();
      await close();
    }
  });

  it('serves simulated TDX with cached collateral in its bundles', async () => {
    const c = io();
    let close: (() => Promise<void>) | undefined;
    let url = '';
    const collateral = join(ATTESTATION_VECTORS, 'dcap-qvl/tdx_quote_collateral.json');
    const code = await serveCommand(['--simulated', '--http', '--platform', 'tdx', '--port', '0', '--collateral', collateral], c.io, { stopSignal: (fn) => (close = fn), onListening: (u) => (url = u) });
    assert.equal(code, 0, c.out());
    const index = (await (await fetch(`${url}/.well-known/cloister/evidence`)).json()) as { platform: string; bundles: { href: string; freshUntil: string }[] };
    assert.equal(index.platform, 'tdx');
    const first = index.bundles[0];
    assert.ok(first);
    assert.equal(first.freshUntil, '2025-07-19T10:16:03.000Z', 'the collateral nextUpdate bounds freshness');
    const bundle = (await (await fetch(`${url}${first.href}`)).json()) as { collateral?: { tcb_info?: string } };
    assert.ok(bundle.collateral?.tcb_info);
    assert.ok(close);
    await close();
    const bad = io();
    assert.equal(await serveCommand(['--simulated', '--platform', 'tdx', '--collateral', '/nonexistent.json'], bad.io), 2);
    assert.match(bad.out(), /UNREADABLE_INPUT/);
  });

  it('refuses an OHTTP key schedule that cannot work with one line, before opening the TEE', async () => {
    for (const args of [['--ohttp-rotate', '20', '--ohttp-overlap', '0'], ['--ohttp-rotate', '1', '--ohttp-overlap', '300']]) {
      const c = io();
      let opened = false;
      const code = await serveCommand([...args, '--port', '0'], c.io, {
        hardware: () => {
          opened = true;
          return Promise.reject(new NoTeeError([]));
        },
      });
      assert.equal(code, 2);
      assert.equal(opened, false);
      assert.equal(c.out().trimEnd().split('\n').length, 1, c.out());
      assert.match(c.out(), /^error \[OHTTP_SCHEDULE_UNWORKABLE\]: OHTTP keys rotated every \d+ s .*\(field ohttp\.overlapSeconds/);
    }
  });

  it('warns in its log of a fragile OHTTP key schedule, and serves the key configurations with max-age no longer than the overlap', async () => {
    for (const [args, warned, maxAge] of [
      // The max-age counts down to the schedule's next change: at most the overlap, less once time has passed.
      [['--ohttp-rotate', '20', '--ohttp-overlap', '5'], true, /^public, max-age=[1-5]$/],
      [[], false, /^public, max-age=60$/],
    ] as const) {
      const c = io();
      const log: string[] = [];
      let close: (() => Promise<void>) | undefined;
      let url = '';
      const logDestination = new Writable({
        write(chunk: Buffer, _encoding, done) {
          log.push(chunk.toString());
          done();
        },
      });
      const code = await serveCommand(['--simulated', '--http', '--port', '0', ...args], c.io, { stopSignal: (fn) => (close = fn), onListening: (u) => (url = u), logDestination });
      assert.equal(code, 0, c.out());
      try {
        const warnings = log.flatMap((l) => l.split('\n')).filter((l) => l !== '').map((l) => JSON.parse(l) as { level: number; msg: string; overlapSeconds?: number }).filter((l) => l.level === 40 && /OHTTP key overlap/.test(l.msg));
        assert.equal(warnings.length, warned ? 1 : 0, log.join(''));
        if (warned) assert.equal(warnings[0]?.overlapSeconds, 5);
        assert.match((await fetch(`${url}/.well-known/ohttp-gateway`)).headers.get('cache-control') ?? '', maxAge);
      } finally {
        await close?.();
      }
    }
  });

  it('looks only where --source says', { skip: existsSync('/dev/sev-guest') ? 'this machine has a real /dev/sev-guest' : false }, async () => {
    const c = io();
    assert.equal(await serveCommand(['--source', 'sev-guest', '--port', '0'], c.io), 2);
    assert.match(c.out(), /NO_TEE.*looked for: sev-guest \/dev\/sev-guest: missing\)/);
  });

  it('refuses to start without a TEE and says what it looked for', async () => {
    const c = io();
    const code = await serveCommand([], c.io, { hardware: () => Promise.reject(new NoTeeError(['/sys/kernel/config/tsm/report: missing', '/dev/sev-guest: missing'])) });
    assert.equal(code, 2);
    assert.match(c.out(), /NO_TEE.*\/sys\/kernel\/config\/tsm\/report: missing; \/dev\/sev-guest: missing.*--simulated/);
  });

  it('rejects bad options with one line', async () => {
    for (const args of [['--port', 'x'], ['--simulated', '--cert-validity', '59'], ['--simulated', '--cert-validity', '1e3'], ['--simulated', '--http', '--cert-validity', '600'], ['--simulated', '--product', 'Naples'], ['--product', 'Milan'], ['--bogus'], ['--source', 'bogus'], ['--simulated', '--source', 'sev-guest'], ['--simulated', '--no-kds'], ['--kds-url', 'ftp://kds.example'], ['--kds-url', 'https://kds.example/?x=1'], ['--no-kds', '--kds-url', 'https://kds.example'], ['--simulated', '--pcs-url', 'https://pccs.example'], ['--pcs-url', 'ftp://pccs.example'], ['--pcs-url', 'https://pccs.example', '--collateral', 'c.json'], ['--simulated', '--target-timeout', '0'], ['--simulated', '--target-timeout', '3601'], ['--simulated', '--target-timeout', '2.5']]) {
      const c = io();
      assert.equal(await serveCommand(args, c.io), 2);
      assert.equal(c.out().trimEnd().split('\n').length, 1, c.out());
    }
  });
});

describe('cloister serve with Privacy Pass', () => {
  it('starts with --privacy-pass-keys FILE and says tokens are required', async () => {
    const key = await newIssuerKey();
    const file = join(stateDir, 'issuer-directory.json');
    writeFileSync(file, JSON.stringify({ 'token-keys': [{ 'token-type': 2, 'token-key': toBase64Url(key.tokenKey), 'not-before': Math.floor(Date.now() / 1000) }] }));
    const c = io();
    let close: (() => Promise<void>) | undefined;
    const code = await serveCommand(['--simulated', '--http', '--port', '0', '--models', 'none', '--privacy-pass-keys', file, '--issuer-name', 'issuer.test', '--origin-name', 'cloister.test'], c.io, { stopSignal: (fn) => (close = fn) });
    assert.equal(code, 0, c.out());
    assert.match(c.out(), new RegExp(`Privacy Pass tokens required \\(issuer keys ${toBase64Url(key.tokenKeyId)}\\)`));
    assert.ok(close);
    await close();
  });

  it('rejects contradictory or incomplete Privacy Pass options with one line', async () => {
    const file = join(stateDir, 'issuer-directory.json');
    for (const args of [['--privacy-pass-keys', file], ['--privacy-pass-keys', file, '--issuer', 'https://issuer.test', '--issuer-name', 'x'], ['--issuer-name', 'x'], ['--spent-tokens', 'redis://h:1'], ['--issuer', 'https://i.test', '--spent-tokens', 'http://h:1'], ['--issuer', 'https://i.test', '--token-key-lifetime', '0'], ['--privacy-pass-keys', join(stateDir, 'absent.json'), '--issuer-name', 'x']]) {
      const c = io();
      assert.equal(await serveCommand(['--simulated', '--http', '--models', 'none', ...args], c.io), 2, args.join(' '));
      assert.equal(c.out().trimEnd().split('\n').length, 1, c.out());
    }
  });

  it('refuses an --issuer URL with a user name or password, without quoting it (fetch would refuse it later, quoting it thrice)', async () => {
    const c = io();
    assert.equal(await serveCommand(['--simulated', '--http', '--models', 'none', '--issuer', 'https://op:s3cret-pw@issuer.test'], c.io), 2);
    assert.match(c.out(), /^error \[USAGE\]: --issuer must not carry a user name or password \(user:password@host\)/);
    assert.ok(!c.out().includes('s3cret-pw'), c.out());
  });
});

describe('cloister serve with Privacy Pass type 0x0001 (the issuer\'s private key)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cloister-serve-voprf-'));
  const pem = generateVoprfKey();
  const keyFile = join(dir, 'voprf.pem');
  writeFileSync(keyFile, pem, { mode: 0o600 });
  const rsaFile = join(dir, 'rsa.pem');
  writeFileSync(rsaFile, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  const openFile = join(dir, 'open.pem');
  writeFileSync(openFile, pem);
  chmodSync(openFile, 0o644);
  const directoryOf = (name: string, entries: [number, Uint8Array][]): string => {
    const file = join(dir, name);
    writeFileSync(file, JSON.stringify({ 'token-keys': entries.map(([t, k]) => ({ 'token-type': t, 'token-key': toBase64Url(k), 'not-before': Math.floor(Date.now() / 1000) })) }));
    return file;
  };
  const common = ['--simulated', '--http', '--port', '0', '--models', 'none'];

  it('starts with --privacy-pass-private-key FILE or -env NAME, lists the type 1 key, and never logs the private key', async () => {
    const key = await voprfIssuerKey(createPrivateKey(pem));
    const rsa = await newIssuerKey();
    const file = directoryOf('both.json', [[2, rsa.tokenKey], [1, key.publicKeyBytes]]);
    for (const [flag, value, env] of [['--privacy-pass-private-key', keyFile, {}], ['--privacy-pass-private-key-env', 'GATEWAY_VOPRF_KEY', { GATEWAY_VOPRF_KEY: pem }]] as const) {
      const c = io();
      let log = '';
      const logDestination = new Writable({
        write(chunk: Buffer, _encoding, done) {
          log += chunk.toString();
          done();
        },
      });
      const environment: Record<string, string | undefined> = { ...env };
      let close: (() => Promise<void>) | undefined;
      const code = await serveCommand([...common, '--issuer-name', 'issuer.test', '--privacy-pass-keys', file, flag, value], c.io, { stopSignal: (fn) => (close = fn), logDestination, env: environment });
      assert.equal(code, 0, c.out());
      assert.ok(close);
      await close();
      assert.match(c.out(), new RegExp(`Privacy Pass tokens required \\(issuer keys (${toBase64Url(rsa.tokenKeyId)}, ${toBase64Url(key.tokenKeyId)}|${toBase64Url(key.tokenKeyId)}, ${toBase64Url(rsa.tokenKeyId)})\\)`));
      assert.equal(environment.GATEWAY_VOPRF_KEY, undefined);
      const d = createPrivateKey(pem).export({ format: 'jwk' }).d ?? '';
      for (const secret of [d, Buffer.from(d, 'base64url').toString('hex'), key.secretKey.toString(), ...pem.split('\n').filter((l) => l !== '' && !l.startsWith('-----'))]) {
        assert.ok(!log.includes(secret) && !c.out().includes(secret));
      }
    }
  });

  it('refuses a private key of another kind, unsafe, unset, unused or missing, with one line and exit 2', async () => {
    const key = await voprfIssuerKey(createPrivateKey(pem));
    const other = await voprfIssuerKey(createPrivateKey(generateVoprfKey()));
    const typeOne = directoryOf('one.json', [[1, key.publicKeyBytes]]);
    const otherOnly = directoryOf('other.json', [[1, other.publicKeyBytes]]);
    const cases: [string[], RegExp][] = [
      [['--privacy-pass-keys', typeOne, '--privacy-pass-private-key', rsaFile], new RegExp(`^error \\[ISSUER_KEY_INVALID\\]: key file "${rsaFile}": token type 0x0001 needs an EC P-384 private key \\(RFC 9578 section 5\\), got rsa private key`)],
      [['--privacy-pass-keys', typeOne, '--privacy-pass-private-key', openFile], /^error \[ISSUER_KEY_UNSAFE\]: key file ".*open\.pem" has mode 0644/],
      [['--privacy-pass-keys', typeOne, '--privacy-pass-private-key', join(dir, 'absent.pem')], /^error \[UNREADABLE_INPUT\]: cannot read key file ".*absent\.pem": ENOENT/],
      [['--privacy-pass-keys', typeOne, '--privacy-pass-private-key-env', 'CLOISTER_TEST_UNSET_VARIABLE'], /--privacy-pass-private-key-env CLOISTER_TEST_UNSET_VARIABLE: the variable is not set/],
      [['--privacy-pass-private-key', keyFile], /--privacy-pass-private-key applies only with --privacy-pass-keys or --issuer/],
      [['--privacy-pass-keys', otherOnly, '--privacy-pass-private-key', keyFile], /^error \[USAGE\]: no --privacy-pass-private-key key .* is a token type 0x0001 key of the issuer directory/],
      [['--privacy-pass-keys', typeOne], /^error \[USAGE\]: the issuer directory lists only token type 0x0001 keys/],
    ];
    for (const [args, message] of cases) {
      const c = io();
      const named = args.includes('--privacy-pass-keys') ? ['--issuer-name', 'issuer.test'] : [];
      assert.equal(await serveCommand([...common, ...named, ...args], c.io, { env: {} }), 2, args.join(' '));
      assert.match(c.out(), message);
      assert.equal(c.out().trimEnd().split('\n').length, 1, c.out());
      for (const line of pem.split('\n').slice(1, 4)) assert.ok(!c.out().includes(line));
    }
  });
});

describe('cloister evidence', () => {
  it('writes a simulated bundle bound to the report data', async () => {
    const c = io();
    const out = join(stateDir, 'e.json');
    assert.equal(await evidenceCommand(['--simulated', '--report-data', 'ab'.repeat(64), '--out', out], c.io), 0, c.out());
    const bundle = JSON.parse(readFileSync(out, 'utf8')) as { simulated: boolean; evidence: string };
    assert.equal(bundle.simulated, true);
    assert.equal(Buffer.from(bundle.evidence, 'base64').subarray(0x50, 0x90).toString('hex'), 'ab'.repeat(64));
    assert.match(c.out(), /SIMULATED TEE/);
  });

  it('rejects bad options and a missing TEE with one line', async () => {
    for (const args of [['--simulated', '--report-data', 'abc'], ['--simulated', '--report-version', '4'], ['--product', 'Milan'], []]) {
      const c = io();
      assert.equal(await evidenceCommand(args, c.io), 2);
      assert.equal(c.out().trimEnd().split('\n').length, 1, c.out());
    }
  });
});
