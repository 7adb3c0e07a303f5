import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { encodePem, toHex } from '../../../attestation/bytes.js';
import { parsePckExtensions, SGX_EXTENSIONS_OID } from '../../../attestation/tdx/pckExtensions.js';
import { parseQuote } from '../../../attestation/tdx/quote.js';
import { TdxVerifier } from '../../../attestation/tdx/verify.js';
import { verifySignedBy } from '../../../attestation/signatures.js';
import { parseCertificate, type Certificate } from '../../../attestation/x509.js';
import { createTdxDevChain, loadOrCreateTdxDevChain, readTdxDevRoot, SIMULATED_CPUSVN, SIMULATED_FMSPC, SIMULATED_PCESVN, SIMULATED_TDX_ORGANIZATION, type TdxDevChain } from './tdxDevChain.js';
import { SimulatedTdx, SimulatedTdxProvider } from './tdxSimulator.js';

const at = new Date('2030-01-01T00:00:00Z');
const reportData = new Uint8Array(64).fill(0x5a);
const CHAIN_FILES = ['pck-ca.key.pem', 'pck-ca.pem', 'pck.key.pem', 'pck.pem', 'root.key.pem', 'root.pem', 'tcb-signing.key.pem', 'tcb-signing.pem'];
let dev: TdxDevChain;

before(async () => {
  dev = await createTdxDevChain();
});

describe('the TDX development chain', () => {
  it('says SIMULATED in every certificate name, and has the shapes of Intel\'s PCK and TCB Signing chains', async () => {
    const [root, ca, pck, tcb] = [dev.root, dev.pckCa, dev.pck, dev.tcbSigning].map((d) => parseCertificate(d)) as [Certificate, Certificate, Certificate, Certificate];
    for (const c of [root, ca, pck, tcb]) {
      assert.ok(new TextDecoder().decode(c.subject).includes(SIMULATED_TDX_ORGANIZATION));
      assert.match(c.subjectCommonName ?? '', /^Cloister SIMULATED SGX /);
      assert.equal(c.unhandledCritical.length, 0);
    }
    assert.equal(tcb.subjectCommonName, 'Cloister SIMULATED SGX TCB Signing');
    assert.deepEqual(root.basicConstraints, { ca: true, pathLength: 1 });
    assert.deepEqual(ca.basicConstraints, { ca: true, pathLength: 0 });
    assert.equal(pck.basicConstraints?.ca, false);
    assert.equal(tcb.basicConstraints?.ca, false);
    assert.equal(await verifySignedBy(tcb, root), true, 'the root issued the TCB Signing certificate');
    assert.equal(await verifySignedBy(ca, root), true);
    assert.equal(await verifySignedBy(pck, ca), true);
    assert.equal(await verifySignedBy(tcb, ca), false);
  });

  it('gives the PCK certificate Intel SGX extensions for the simulated platform, non-critical as Intel\'s', () => {
    const pck = parseCertificate(dev.pck);
    assert.equal(pck.extensions.get(SGX_EXTENSIONS_OID)?.critical, false);
    const e = parsePckExtensions(pck);
    assert.equal(toHex(e.fmspc), SIMULATED_FMSPC);
    assert.equal(SIMULATED_FMSPC, '00000000c10b');
    assert.equal(toHex(e.pceId), '0000');
    assert.equal(toHex(e.cpuSvn), SIMULATED_CPUSVN);
    assert.deepEqual(e.cpuSvnComponents, [...e.cpuSvn]);
    assert.equal(e.pceSvn, SIMULATED_PCESVN);
    assert.equal(e.sgxType, 'Scalable');
    assert.equal(e.ppid.length, 16);
    assert.equal(e.platformInstanceId?.length, 16);
  });
});

describe('the TDX development chain on disk', () => {
  it('is created at first use with every key 0600, reused, and signs quotes with the stored PCK key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cloister-state-'));
    assert.equal(await readTdxDevRoot(dir), undefined);
    const first = await loadOrCreateTdxDevChain(dir);
    const again = await loadOrCreateTdxDevChain(dir);
    for (const k of ['root', 'pckCa', 'pck', 'tcbSigning'] as const) assert.deepEqual(again[k], first[k], k);
    assert.deepEqual(await readTdxDevRoot(dir), first.root);
    const base = join(dir, 'dev-root', 'tdx');
    assert.deepEqual(readdirSync(base).sort(), CHAIN_FILES);
    for (const key of CHAIN_FILES.filter((f) => f.endsWith('.key.pem'))) assert.equal(statSync(join(base, key)).mode & 0o777, 0o600, key);
    assert.equal(statSync(base).mode & 0o777, 0o700);
    const sim = await SimulatedTdx.create({}, { stateDir: dir });
    const raw = await new SimulatedTdxProvider(sim).getEvidence({ reportData });
    const v = await new TdxVerifier({ trustedRoots: [first.root] }).verify(parseQuote(raw.evidence), { at });
    assert.equal(v.chain.leaf, 'Cloister SIMULATED SGX PCK Certificate');
  });

  it('replaces a chain written before it kept the CA and TCB Signing keys as a whole, never using it in part', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cloister-state-'));
    const base = join(dir, 'dev-root', 'tdx');
    mkdirSync(base, { recursive: true, mode: 0o700 });
    // What the earlier code stored: the three certificates and the PCK key, no other key.
    const old = await createTdxDevChain();
    const oldKey = encodePem('PRIVATE KEY', new Uint8Array(await globalThis.crypto.subtle.exportKey('pkcs8', old.pckKey)));
    writeFileSync(join(base, 'root.pem'), encodePem('CERTIFICATE', old.root));
    writeFileSync(join(base, 'pck-ca.pem'), encodePem('CERTIFICATE', old.pckCa));
    writeFileSync(join(base, 'pck.pem'), encodePem('CERTIFICATE', old.pck));
    writeFileSync(join(base, 'pck.key.pem'), oldKey, { mode: 0o644 });
    assert.deepEqual(await readTdxDevRoot(dir), old.root);
    const chain = await loadOrCreateTdxDevChain(dir);
    assert.notDeepEqual(chain.root, old.root, 'a new root');
    assert.notDeepEqual(chain.pckCa, old.pckCa);
    assert.deepEqual(readdirSync(base).sort(), CHAIN_FILES);
    assert.equal(statSync(join(base, 'pck.key.pem')).mode & 0o777, 0o600, 'the old PCK key file is rewritten 0600');
    assert.notEqual(readFileSync(join(base, 'pck.key.pem'), 'utf8'), oldKey);
    assert.deepEqual(await readTdxDevRoot(dir), chain.root);
    assert.equal(toHex(parsePckExtensions(parseCertificate(chain.pck)).fmspc), SIMULATED_FMSPC);
    const reloaded = await loadOrCreateTdxDevChain(dir);
    assert.deepEqual(reloaded.pck, chain.pck);
    assert.equal(await verifySignedBy(parseCertificate(reloaded.pck), parseCertificate(reloaded.pckCa)), true);
  });

  it('refuses a stored file that holds no PEM block, rather than replacing the chain', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cloister-state-'));
    await loadOrCreateTdxDevChain(dir);
    writeFileSync(join(dir, 'dev-root', 'tdx', 'tcb-signing.pem'), 'not PEM\n');
    await assert.rejects(loadOrCreateTdxDevChain(dir), (e: Error & { code?: string }) => e.code === 'MALFORMED_DER' && /tcb-signing\.pem holds no PEM block/.test(e.message));
  });

  it('sits next to the SEV-SNP development roots without touching them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cloister-state-'));
    await loadOrCreateTdxDevChain(dir);
    assert.deepEqual(readdirSync(join(dir, 'dev-root')), ['tdx']);
  });
});
