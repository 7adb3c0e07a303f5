// Evidence source detection: order, override, fail-closed simulation, and the NoTeeError listing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from '../base/runtimeErrors.js';
import { ConfigfsTsmProvider } from './configfsTsm.js';
import { SevGuestDeviceProvider, TdxGuestDeviceProvider } from './deviceProviders.js';
import { createDeviceProvider, detectEvidenceProvider, type DetectOptions, type DeviceKind, type EvidenceSource } from './detectProvider.js';
import { EmulatedTsm, type EmulatedTsmOptions } from './emulatedTsm.js';
import { NoTeeError, type EvidenceProvider } from './provider.js';

const ROOT = '/sys/kernel/config/tsm/report';
const SEV = '/dev/sev-guest';
const TDX = '/dev/tdx_guest';

function fakeDevice(kind: DeviceKind, path: string): EvidenceProvider {
  return {
    name: `${kind} ${path}`,
    platform: kind === 'sev-guest' ? 'sev-snp' : 'tdx',
    simulated: false,
    getEvidence: () => Promise.reject(new Error('not used')),
  };
}

function setup(options: Partial<EmulatedTsmOptions>): { tsm: EmulatedTsm; made: string[]; detect: (o?: Partial<DetectOptions>) => Promise<EvidenceProvider> } {
  const tsm = new EmulatedTsm({ generate: (reportData) => ({ outblob: reportData }), ...options });
  const made: string[] = [];
  const detect = (o: Partial<DetectOptions> = {}): Promise<EvidenceProvider> =>
    detectEvidenceProvider({
      fs: tsm,
      createDeviceProvider: (kind, path) => {
        made.push(`${kind} ${path}`);
        return fakeDevice(kind, path);
      },
      ...o,
    });
  return { tsm, made, detect };
}

function noTee(expected: readonly string[]): (e: unknown) => boolean {
  return (e) => {
    assert.ok(e instanceof NoTeeError, String(e));
    assert.equal(e.code, 'NO_TEE');
    assert.deepEqual(e.lookedFor, expected);
    for (const item of expected) assert.ok(e.message.includes(item), `${e.message} lists ${item}`);
    return true;
  };
}

describe('detectEvidenceProvider', () => {
  it('prefers configfs-tsm, probing with an entry it removes again', async () => {
    const { tsm, made, detect } = setup({ devices: [SEV, TDX] });
    const provider = await detect();
    assert.ok(provider instanceof ConfigfsTsmProvider);
    assert.equal(provider.platform, 'sev-snp');
    assert.equal(provider.simulated, false);
    assert.deepEqual(made, []);
    assert.deepEqual(tsm.entries, []);
    assert.equal(tsm.operations.filter((op) => op.startsWith('mkdir')).length, 1);
  });

  it('finds TDX through configfs-tsm', async () => {
    const { detect } = setup({ provider: 'tdx_guest' });
    assert.equal((await detect()).platform, 'tdx');
  });

  it('falls back to /dev/sev-guest, then /dev/tdx_guest', async () => {
    const sev = setup({ mounted: false, devices: [SEV, TDX] });
    assert.equal((await sev.detect()).name, `sev-guest ${SEV}`);
    assert.deepEqual(sev.made, [`sev-guest ${SEV}`]);
    const tdx = setup({ mounted: false, devices: [TDX] });
    assert.equal((await tdx.detect()).name, `tdx-guest ${TDX}`);
  });

  it('passes over configfs-tsm without a registered provider, or with one it does not read', async () => {
    const noProvider = setup({ provider: null, devices: [SEV] });
    assert.equal((await noProvider.detect()).name, `sev-guest ${SEV}`);
    const cca = setup({ provider: 'arm_cca_guest' });
    await assert.rejects(
      cca.detect(),
      noTee([`configfs-tsm ${ROOT}: configfs-tsm provider "arm_cca_guest" at ${ROOT} is not supported (supported: sev_guest, tdx_guest)`, `sev-guest ${SEV}: missing`, `tdx-guest ${TDX}: missing`]),
    );
  });

  it('throws NoTeeError listing every path and why, when nothing is there', async () => {
    const { detect } = setup({ mounted: false });
    await assert.rejects(detect(), noTee([`configfs-tsm ${ROOT}: missing`, `sev-guest ${SEV}: missing`, `tdx-guest ${TDX}: missing`]));
    await assert.rejects(detect(), /start with --simulated/);
  });

  it('says permission denied and no provider registered', async () => {
    const denied = setup({ denied: [ROOT, SEV], devices: [SEV] });
    await assert.rejects(denied.detect(), noTee([`configfs-tsm ${ROOT}: permission denied (EACCES)`, `sev-guest ${SEV}: permission denied (EACCES)`, `tdx-guest ${TDX}: missing`]));
    const none = setup({ provider: null });
    await assert.rejects(none.detect(), noTee([`configfs-tsm ${ROOT}: no attestation provider registered (ENXIO)`, `sev-guest ${SEV}: missing`, `tdx-guest ${TDX}: missing`]));
  });

  it('uses the configured paths', async () => {
    const { detect, made } = setup({ root: '/x/report', devices: ['/d/tdx'] });
    const configfs = await detect({ configfsRoot: '/x/report' });
    assert.ok(configfs instanceof ConfigfsTsmProvider);
    assert.equal(configfs.root, '/x/report');
    await detect({ configfsRoot: '/nowhere', sevGuestPath: '/d/sev', tdxGuestPath: '/d/tdx' });
    assert.deepEqual(made, ['tdx-guest /d/tdx']);
  });

  it('uses only the overridden source', async () => {
    const { tsm, made, detect } = setup({ devices: [SEV, TDX] });
    assert.equal((await detect({ override: 'tdx-guest' })).name, `tdx-guest ${TDX}`);
    assert.equal((await detect({ override: 'sev-guest' })).name, `sev-guest ${SEV}`);
    assert.deepEqual(made, [`tdx-guest ${TDX}`, `sev-guest ${SEV}`]);
    assert.deepEqual(tsm.operations.filter((op) => op.startsWith('mkdir')), [], 'configfs-tsm was not probed');
    assert.ok((await detect({ override: 'configfs-tsm' })) instanceof ConfigfsTsmProvider);

    const bare = setup({ mounted: false, devices: [SEV] });
    await assert.rejects(bare.detect({ override: 'configfs-tsm' }), noTee([`configfs-tsm ${ROOT}: missing`]));
    await assert.rejects(bare.detect({ override: 'tdx-guest' }), noTee([`tdx-guest ${TDX}: missing`]));
  });

  it('uses the simulated TEE only when asked for by name (fails closed)', async () => {
    let built = 0;
    const simulated = (): Promise<EvidenceProvider> => {
      built++;
      return Promise.resolve({ ...fakeDevice('sev-guest', 'sim'), name: 'simulated', simulated: true });
    };
    const { detect } = setup({ mounted: false });
    await assert.rejects(detect({ simulated }), NoTeeError);
    assert.equal(built, 0, 'never a fallback');
    const sim = await detect({ simulated, override: 'simulated' });
    assert.equal(sim.simulated, true);
    assert.equal(built, 1);
    await assert.rejects(detect({ override: 'simulated' }), (e) => e instanceof UsageError && /no simulated TEE was supplied/.test(e.message));
  });

  it('serves the simulated TEE through an emulated configfs-tsm tree when asked', async () => {
    const emulated = new EmulatedTsm({ generate: (reportData) => ({ outblob: reportData }) });
    const { detect } = setup({ mounted: false });
    const provider = await detect({ override: 'simulated', simulated: () => ConfigfsTsmProvider.open({ fs: emulated, simulated: true }) });
    const raw = await provider.getEvidence({ reportData: new Uint8Array(64).fill(1) });
    assert.equal(raw.simulated, true);
    assert.equal(raw.source, 'configfs-tsm/sev_guest');
  });

  it('rejects an unknown override', async () => {
    const { detect } = setup({});
    await assert.rejects(detect({ override: 'tpm' as EvidenceSource }), (e) => e instanceof UsageError && /must be one of configfs-tsm, sev-guest, tdx-guest, simulated, got "tpm"/.test(e.message));
  });

  it('propagates errors that are not about a missing or unusable source', async () => {
    const { tsm } = setup({});
    const broken = {
      mkdir: (p: string) => tsm.mkdir(p),
      rmdir: (p: string) => tsm.rmdir(p),
      readFile: (p: string) => tsm.readFile(p),
      writeFile: (p: string, d: Uint8Array) => tsm.writeFile(p, d),
      access: () => Promise.reject(new TypeError('bug')),
    };
    await assert.rejects(detectEvidenceProvider({ fs: broken }), TypeError);
    await assert.rejects(detectEvidenceProvider({ fs: broken, override: 'sev-guest' }), TypeError);
  });

  it('gives other errnos by name', async () => {
    const { tsm } = setup({});
    const odd = {
      mkdir: (p: string) => tsm.mkdir(p),
      rmdir: (p: string) => tsm.rmdir(p),
      readFile: (p: string) => tsm.readFile(p),
      writeFile: (p: string, d: Uint8Array) => tsm.writeFile(p, d),
      access: () => Promise.reject(Object.assign(new Error('loop'), { code: 'ELOOP' })),
    };
    await assert.rejects(detectEvidenceProvider({ fs: odd }), noTee([`configfs-tsm ${ROOT}: ELOOP`, `sev-guest ${SEV}: ELOOP`, `tdx-guest ${TDX}: ELOOP`]));
  });

  it('builds the ioctl device providers by default, without touching the device', () => {
    const sev = createDeviceProvider('sev-guest', '/nonexistent/sev-guest');
    assert.ok(sev instanceof SevGuestDeviceProvider);
    assert.equal(sev.path, '/nonexistent/sev-guest');
    const tdx = createDeviceProvider('tdx-guest', '/nonexistent/tdx_guest');
    assert.ok(tdx instanceof TdxGuestDeviceProvider);
    assert.equal(tdx.path, '/nonexistent/tdx_guest');
  });

  it('uses the default device providers when no factory is given', async () => {
    const tsm = new EmulatedTsm({ generate: (reportData) => ({ outblob: reportData }), mounted: false, devices: [SEV] });
    assert.ok((await detectEvidenceProvider({ fs: tsm })) instanceof SevGuestDeviceProvider);
  });
});
