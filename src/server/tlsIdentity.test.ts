import 'reflect-metadata';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { SecureContextOptions } from 'node:tls';
import { before, describe, it } from 'node:test';
import { keysDigest } from '../../attestation/evidence/reportData.js';
import { toHex } from '../../attestation/bytes.js';
import { parseCertificate } from '../../attestation/x509.js';
import { verifyAttestedCertificate } from '../../attestation/ratls/verifyCertificate.js';
import { SnpVerifier } from '../../attestation/snp/verify.js';
import { createDevChain, type DevChain } from '../tee/sim/devChain.js';
import { SimulatedSnp, SimulatedSnpProvider } from '../tee/sim/snpSimulator.js';
import type { EvidenceProvider } from '../tee/provider.js';
import { TlsIdentity, type TimerHandle } from './tlsIdentity.js';

const T0 = Date.parse('2026-06-01T12:00:00Z');
let chain: DevChain;
let provider: EvidenceProvider;

class FakeTimers {
  readonly pending: { fn: () => void; ms: number; cleared: boolean }[] = [];
  readonly set = (fn: () => void, ms: number): TimerHandle => {
    const entry = {
      fn: () => {
        entry.cleared = true; // a timer that fired is gone
        fn();
      },
      ms,
      cleared: false,
    };
    this.pending.push(entry);
    return { clear: () => (entry.cleared = true) };
  };
  get live(): { fn: () => void; ms: number }[] {
    return this.pending.filter((t) => !t.cleared);
  }
}

before(async () => {
  chain = await createDevChain({ product: 'Milan', tcb: { bootloader: 4, tee: 0, snp: 24, microcode: 219 }, hwId: new Uint8Array(64).fill(5) }, 2048);
  provider = new SimulatedSnpProvider(await SimulatedSnp.create({}, { chain }));
});

describe('TlsIdentity', () => {
  it('issues an attested certificate whose keys digest binds its SPKI and the key configs', async () => {
    const configs = [new Uint8Array([1, 0, 32, ...new Uint8Array(32).fill(7), 0, 4, 0, 1, 0, 1])];
    const timers = new FakeTimers();
    const identity = await TlsIdentity.create({ provider, keyConfigs: () => configs, now: () => T0, setTimer: timers.set });
    const cert = parseCertificate(identity.certificate.certificateDer);
    assert.deepEqual(cert.spki, identity.spki);
    assert.equal(identity.info.notBefore.getTime(), T0);
    assert.equal(identity.info.notAfter.getTime(), T0 + 3600_000);
    assert.equal(identity.info.spkiSha256, createHash('sha256').update(identity.spki).digest('hex'));
    assert.equal(toHex(identity.keysDigest()), toHex(await keysDigest(identity.spki, configs)));
    assert.match(identity.tlsOptions.cert, /^-----BEGIN CERTIFICATE-----/);
    assert.match(identity.tlsOptions.key, /^-----BEGIN PRIVATE KEY-----/);
    const verdict = await verifyAttestedCertificate(identity.certificate.certificateDer, {}, { at: new Date(T0 + 1000), snpVerifier: new SnpVerifier({ trustedRoots: [chain.ark] }), expectedKeyConfigs: configs });
    assert.equal(verdict.accepted, true, JSON.stringify(verdict.error));
    assert.deepEqual(timers.live.map((t) => t.ms), [2400_000], 'rotation scheduled at 2/3 of the validity');
    identity.close();
    assert.equal(timers.live.length, 0, 'close clears the timer');
  });

  it('rotates on schedule into the attached server and reschedules', async () => {
    let now = T0;
    const timers = new FakeTimers();
    const contexts: SecureContextOptions[] = [];
    let rotated = 0;
    const identity = await TlsIdentity.create({ provider, validitySeconds: 600, rotateFraction: 0.5, now: () => now, setTimer: timers.set, onRotate: () => {
        rotated++;
      } });
    identity.attach({ setSecureContext: (o) => contexts.push(o) });
    const first = { spki: toHex(identity.spki), digest: toHex(identity.keysDigest()) };
    assert.equal(identity.rotationDue, T0 + 300_000);
    now = T0 + 300_000;
    const timer = timers.live[0];
    assert.ok(timer);
    assert.equal(timer.ms, 300_000);
    timer.fn();
    await identity.rotate(); // joins the rotation the timer started
    assert.equal(rotated, 1);
    assert.equal(contexts.length, 1);
    assert.equal(contexts[0]?.cert, identity.tlsOptions.cert);
    assert.equal(contexts[0].key, identity.tlsOptions.key);
    assert.notEqual(toHex(identity.spki), first.spki);
    assert.notEqual(toHex(identity.keysDigest()), first.digest);
    assert.equal(identity.info.notBefore.getTime(), now);
    assert.deepEqual(timers.live.map((t) => t.ms), [300_000]);
    identity.close();
    await identity.rotate();
    assert.equal(contexts.length, 1, 'a closed identity installs nothing');
  });

  it('keeps the certificate and retries when issuance fails', async () => {
    let fail = true;
    const flaky: EvidenceProvider = Object.assign(Object.create(provider) as EvidenceProvider, {
      getEvidence: (request: Parameters<EvidenceProvider['getEvidence']>[0]) => (fail ? Promise.reject(new Error('device busy')) : provider.getEvidence(request)),
    });
    fail = false;
    const timers = new FakeTimers();
    const errors: unknown[] = [];
    const identity = await TlsIdentity.create({ provider: flaky, now: () => T0, setTimer: timers.set, retryMs: 5000, onError: (e) => errors.push(e) });
    const spki = toHex(identity.spki);
    fail = true;
    timers.live[0]?.fn();
    for (let i = 0; i < 1000 && errors.length === 0; i++) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(errors.length, 1);
    assert.equal(toHex(identity.spki), spki);
    assert.deepEqual(timers.live.map((t) => t.ms), [5000]);
    identity.close();
  });

  it('refuses a bad validity or rotation fraction', async () => {
    await assert.rejects(TlsIdentity.create({ provider, validitySeconds: 0 }), RangeError);
    await assert.rejects(TlsIdentity.create({ provider, rotateFraction: 1 }), RangeError);
  });
});
