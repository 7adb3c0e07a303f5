// The configfs-tsm protocol against the emulated kernel tree.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CloisterError } from '../../attestation/errors.js';
import { parseCertTable } from '../../attestation/snp/certTable.js';
import { parseReport } from '../../attestation/snp/report.js';
import { ConfigfsTsmProvider, tsmError } from './configfsTsm.js';
import { EmulatedTsm, errnoError, type EmulatedTsmOptions } from './emulatedTsm.js';
import { TeeDeviceError } from './provider.js';
import { createDevChain } from './sim/devChain.js';
import { SimulatedSnp } from './sim/snpSimulator.js';
import type { TsmFs } from './tsmFs.js';

const ROOT = '/cfg/tsm/report';
const rd = (fill: number): Uint8Array => new Uint8Array(64).fill(fill);
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

interface Call {
  readonly reportData: Uint8Array;
  readonly privlevel: number;
}

function tree(options: Partial<EmulatedTsmOptions> = {}, auxblob: Uint8Array = bytes('cert-table')): { tsm: EmulatedTsm; calls: Call[] } {
  const calls: Call[] = [];
  const tsm = new EmulatedTsm({
    root: ROOT,
    generate: (reportData, privlevel) => {
      calls.push({ reportData, privlevel });
      return { outblob: Uint8Array.from([0x0b, privlevel, ...reportData]), auxblob };
    },
    ...options,
  });
  return { tsm, calls };
}

function names(): () => string {
  let n = 0;
  return () => `req${++n}`;
}

/** A TsmFs that forwards to `inner` except for the operations given. */
function wrap(inner: TsmFs, overrides: Partial<TsmFs>): TsmFs {
  return {
    mkdir: overrides.mkdir ?? ((p) => inner.mkdir(p)),
    rmdir: overrides.rmdir ?? ((p) => inner.rmdir(p)),
    readFile: overrides.readFile ?? ((p) => inner.readFile(p)),
    writeFile: overrides.writeFile ?? ((p, d) => inner.writeFile(p, d)),
    access: overrides.access ?? ((p, m) => inner.access(p, m)),
  };
}

function isTeeError(errno: string | undefined, pattern?: RegExp): (e: unknown) => boolean {
  return (e) => {
    assert.ok(e instanceof TeeDeviceError, String(e));
    assert.equal(e.code, 'TEE_DEVICE');
    assert.equal(e.errno, errno, e.message);
    if (pattern !== undefined) assert.match(e.message, pattern);
    return true;
  };
}

describe('ConfigfsTsmProvider', () => {
  it('runs the whole protocol: report data and privlevel reach the provider, outblob and auxblob come back, the entry is removed', async () => {
    const { tsm, calls } = tree();
    const provider = await ConfigfsTsmProvider.open({ root: ROOT, fs: tsm, entryName: names() });
    assert.equal(provider.platform, 'sev-snp');
    assert.equal(provider.provider, 'sev_guest');
    assert.equal(provider.simulated, false);
    assert.equal(provider.name, 'configfs-tsm');
    tsm.operations.length = 0;

    const raw = await provider.getEvidence({ reportData: rd(5), privilegeLevel: 2 });
    assert.deepEqual(calls, [{ reportData: rd(5), privlevel: 2 }]);
    assert.deepEqual(raw.evidence, Uint8Array.from([0x0b, 2, ...rd(5)]));
    assert.deepEqual(raw.certTable, bytes('cert-table'));
    assert.equal(raw.platform, 'sev-snp');
    assert.equal(raw.source, 'configfs-tsm/sev_guest');
    assert.equal(raw.simulated, false);
    assert.deepEqual(tsm.entries, []);
    const e = `${ROOT}/req2`;
    assert.deepEqual(tsm.operations, [
      `mkdir ${e}`,
      `read ${e}/provider`,
      `read ${e}/generation`,
      `access ${e}/privlevel`,
      `write ${e}/privlevel`,
      `write ${e}/inblob`,
      `read ${e}/outblob`,
      `access ${e}/auxblob`,
      `read ${e}/auxblob`,
      `read ${e}/generation`,
      `rmdir ${e}`,
    ]);
  });

  it('leaves privlevel alone when none is requested (the kernel default, 0)', async () => {
    const { tsm, calls } = tree();
    const provider = await ConfigfsTsmProvider.open({ root: ROOT, fs: tsm });
    await provider.getEvidence({ reportData: rd(1) });
    assert.equal(calls[0]?.privlevel, 0);
    assert.ok(!tsm.operations.some((op) => op.endsWith('/privlevel')));
  });

  it('omits certTable when auxblob is empty', async () => {
    const { tsm } = tree({}, new Uint8Array(0));
    const raw = await (await ConfigfsTsmProvider.open({ root: ROOT, fs: tsm })).getEvidence({ reportData: rd(1) });
    assert.equal(raw.certTable, undefined);
    assert.ok(!('certTable' in raw));
  });

  it('reads TDX quotes from tdx_guest: no auxblob, privilege level 0 only', async () => {
    const { tsm, calls } = tree({ provider: 'tdx_guest' });
    const provider = await ConfigfsTsmProvider.open({ root: ROOT, fs: tsm, simulated: true });
    assert.equal(provider.platform, 'tdx');
    const raw = await provider.getEvidence({ reportData: rd(3), privilegeLevel: 0 });
    assert.equal(raw.platform, 'tdx');
    assert.equal(raw.source, 'configfs-tsm/tdx_guest');
    assert.equal(raw.simulated, true);
    assert.equal(raw.certTable, undefined);
    assert.deepEqual(calls, [{ reportData: rd(3), privlevel: 0 }]);
    assert.ok(!tsm.operations.some((op) => op.startsWith('read') && op.endsWith('/auxblob')));

    await assert.rejects(provider.getEvidence({ reportData: rd(3), privilegeLevel: 1 }), (e) => {
      assert.ok(e instanceof TeeDeviceError);
      assert.equal(e.field, 'privlevel');
      assert.match(e.message, /tdx_guest.*no privlevel attribute.*privilege level 1/);
      return true;
    });
    assert.deepEqual(tsm.entries, []);
  });

  it('rejects a privilege level below privlevel_floor with the floor in the message, and removes the entry', async () => {
    const { tsm, calls } = tree({ privlevelFloor: 2 });
    const provider = await ConfigfsTsmProvider.open({ root: ROOT, fs: tsm });
    await assert.rejects(provider.getEvidence({ reportData: rd(1), privilegeLevel: 1 }), isTeeError('EINVAL', /privilege level 1 is outside .*privlevel_floor is 2/));
    assert.equal(calls.length, 0);
    assert.deepEqual(tsm.entries, []);
  });

  it('still names the EINVAL when privlevel_floor cannot be read', async () => {
    const { tsm } = tree({ privlevelFloor: 2 });
    const fs = wrap(tsm, { readFile: (p) => (p.endsWith('/privlevel_floor') ? Promise.reject(errnoError('EACCES', 'open', p)) : tsm.readFile(p)) });
    const provider = await ConfigfsTsmProvider.open({ root: ROOT, fs });
    await assert.rejects(provider.getEvidence({ reportData: rd(1), privilegeLevel: 0 }), isTeeError('EINVAL', /privlevel_floor is unknown/));
  });

  for (const reportData of [new Uint8Array(0), new Uint8Array(63), new Uint8Array(65)]) {
    it(`rejects ${reportData.length} bytes of report data before touching the tree`, async () => {
      const { tsm } = tree();
      const provider = await ConfigfsTsmProvider.open({ root: ROOT, fs: tsm });
      const before = tsm.operations.length;
      await assert.rejects(provider.getEvidence({ reportData }), (e) => e instanceof CloisterError && e.code === 'MALFORMED_FIELD' && e.field === 'reportData');
      assert.equal(tsm.operations.length, before);
    });
  }

  for (const privilegeLevel of [-1, 4, 1.5, Number.NaN]) {
    it(`rejects privilege level ${privilegeLevel} before touching the tree`, async () => {
      const { tsm } = tree();
      const provider = await ConfigfsTsmProvider.open({ root: ROOT, fs: tsm });
      const before = tsm.operations.length;
      await assert.rejects(provider.getEvidence({ reportData: rd(1), privilegeLevel }), (e) => e instanceof CloisterError && e.code === 'MALFORMED_FIELD' && e.field === 'privilegeLevel');
      assert.equal(tsm.operations.length, before);
    });
  }

  it('detects a racing writer through generation and retries in a fresh entry', async () => {
    const { tsm, calls } = tree();
    const provider = await ConfigfsTsmProvider.open({ root: ROOT, fs: tsm, entryName: names() });
    tsm.simulateRacingWriter(1, rd(0xee));
    const raw = await provider.getEvidence({ reportData: rd(1), privilegeLevel: 1 });
    assert.deepEqual(raw.evidence, Uint8Array.from([0x0b, 1, ...rd(1)]), 'the returned report binds our data');
    assert.deepEqual(
      calls.map((c) => c.reportData[0]),
      [0xee, 1],
      'the first report bound the other writer\'s data and was discarded',
    );
    const made = tsm.operations.filter((op) => op.startsWith('mkdir')).map((op) => op.split('/').pop());
    assert.deepEqual(made, ['req1', 'req2', 'req3']);
    assert.deepEqual(tsm.entries, []);
  });

  it('gives up after raceRetries with an error that says what happened', async () => {
    const { tsm, calls } = tree();
    const provider = await ConfigfsTsmProvider.open({ root: ROOT, fs: tsm, raceRetries: 2 });
    tsm.simulateRacingWriter(100);
    await assert.rejects(provider.getEvidence({ reportData: rd(1) }), (e) => {
      assert.ok(e instanceof TeeDeviceError);
      assert.equal(e.field, 'generation');
      assert.equal(e.errno, undefined);
      assert.match(e.message, /generation of \S+ went from 0 to 2 while this request wrote 1 time\(s\): another writer .* \(3 attempts, each in a fresh entry\)/);
      return true;
    });
    assert.equal(calls.length, 3);
    assert.deepEqual(tsm.entries, []);
  });

  it('makes exactly one attempt with raceRetries 0, and refuses a negative count', async () => {
    const { tsm, calls } = tree();
    const provider = await ConfigfsTsmProvider.open({ root: ROOT, fs: tsm, raceRetries: 0 });
    tsm.simulateRacingWriter(1);
    await assert.rejects(provider.getEvidence({ reportData: rd(1) }), /\(1 attempt, each in a fresh entry\)/);
    assert.equal(calls.length, 1);
    await assert.rejects(ConfigfsTsmProvider.open({ root: ROOT, fs: tsm, raceRetries: -1 }), (e) => e instanceof CloisterError && e.field === 'raceRetries');
  });

  it('detects an inblob write that never reached the driver', async () => {
    // configfs hands inblob to the driver on close() and ignores the result; here the commit is lost
    // and an earlier inblob is still in place, so only generation tells.
    const { tsm, calls } = tree();
    const fs = wrap(tsm, {
      mkdir: async (p) => {
        await tsm.mkdir(p);
        await tsm.writeFile(`${p}/inblob`, rd(9)); // someone else's earlier request
      },
      writeFile: (p, d) => (p.endsWith('/inblob') ? Promise.resolve() : tsm.writeFile(p, d)),
    });
    const lossy = await ConfigfsTsmProvider.open({ root: ROOT, fs, raceRetries: 0 });
    await assert.rejects(lossy.getEvidence({ reportData: rd(1) }), /went from 1 to 1 while this request wrote 1 time/);
    assert.deepEqual(calls.map((c) => c.reportData[0]), [9]);
  });

  const openErrors: { name: string; options: Partial<EmulatedTsmOptions>; errno: string; pattern: RegExp }[] = [
    { name: 'root missing', options: { mounted: false }, errno: 'ENOENT', pattern: /mkdir \/cfg\/tsm\/report\/\S+: root \/cfg\/tsm\/report does not exist .*Linux 6\.7\+/ },
    { name: 'no provider registered', options: { provider: null }, errno: 'ENXIO', pattern: /no attestation provider is registered .*sev-guest or tdx-guest driver/ },
    { name: 'permission denied', options: { denied: [ROOT] }, errno: 'EACCES', pattern: /permission denied \(EACCES\)/ },
  ];
  for (const c of openErrors) {
    it(`maps ${c.name} to TeeDeviceError ${c.errno}`, async () => {
      const { tsm } = tree(c.options);
      await assert.rejects(ConfigfsTsmProvider.open({ root: ROOT, fs: tsm }), isTeeError(c.errno, c.pattern));
    });
  }

  it('refuses a provider it does not read, after removing the probe entry', async () => {
    const { tsm } = tree({ provider: 'arm_cca_guest' });
    await assert.rejects(ConfigfsTsmProvider.open({ root: ROOT, fs: tsm }), (e) => {
      assert.ok(e instanceof TeeDeviceError);
      assert.equal(e.field, 'provider');
      assert.match(e.message, /"arm_cca_guest" .* not supported \(supported: sev_guest, tdx_guest\)/);
      return true;
    });
    assert.deepEqual(tsm.entries, []);
  });

  it('maps a firmware failure to EIO and removes the entry', async () => {
    const { tsm } = tree({
      generate: () => {
        throw errnoError('EIO', 'read', 'outblob');
      },
    });
    const provider = await ConfigfsTsmProvider.open({ root: ROOT, fs: tsm });
    await assert.rejects(provider.getEvidence({ reportData: rd(1) }), isTeeError('EIO', /read \S+\/outblob: the firmware or the host failed to produce the report \(EIO\)/));
    assert.deepEqual(tsm.entries, []);
  });

  it('fails when the provider changed since open', async () => {
    const { tsm } = tree();
    let name = 'sev_guest\n';
    const fs = wrap(tsm, { readFile: (p) => (p.endsWith('/provider') ? Promise.resolve(bytes(name)) : tsm.readFile(p)) });
    const provider = await ConfigfsTsmProvider.open({ root: ROOT, fs });
    name = 'tdx_guest\n';
    await assert.rejects(provider.getEvidence({ reportData: rd(1) }), /provider changed from "sev_guest" to "tdx_guest"/);
    assert.deepEqual(tsm.entries, []);
  });

  it('fails on a generation attribute that is not a counter', async () => {
    const { tsm } = tree();
    const fs = wrap(tsm, { readFile: (p) => (p.endsWith('/generation') ? Promise.resolve(bytes('-1\n')) : tsm.readFile(p)) });
    const provider = await ConfigfsTsmProvider.open({ root: ROOT, fs });
    await assert.rejects(provider.getEvidence({ reportData: rd(1) }), (e) => e instanceof TeeDeviceError && e.field === 'generation' && /expected a decimal counter, got "-1\\n"/.test(e.message));
  });

  it('reports a failed rmdir after an otherwise successful request', async () => {
    const { tsm } = tree();
    let rmdirFails = false;
    const fs = wrap(tsm, { rmdir: (p) => (rmdirFails ? Promise.reject(errnoError('EBUSY', 'rmdir', p)) : tsm.rmdir(p)) });
    const provider = await ConfigfsTsmProvider.open({ root: ROOT, fs });
    rmdirFails = true;
    await assert.rejects(provider.getEvidence({ reportData: rd(1) }), isTeeError('EBUSY', /rmdir \S+: busy \(EBUSY\)/));
  });

  it('keeps the first error and adds the failed rmdir to its message', async () => {
    const { tsm } = tree({
      generate: () => {
        throw errnoError('EIO', 'read', 'outblob');
      },
    });
    let rmdirFails = false;
    const fs = wrap(tsm, { rmdir: (p) => (rmdirFails ? Promise.reject(errnoError('EBUSY', 'rmdir', p)) : tsm.rmdir(p)) });
    const provider = await ConfigfsTsmProvider.open({ root: ROOT, fs });
    rmdirFails = true;
    await assert.rejects(provider.getEvidence({ reportData: rd(1) }), (e) => {
      isTeeError('EIO', /\(EIO\); removing \S+ also failed \(EBUSY\)/)(e);
      assert.ok(e instanceof TeeDeviceError && e.cause instanceof TeeDeviceError);
      assert.equal(e.field, 'outblob');
      return true;
    });
  });

  it('wraps a failure without an errno in TeeDeviceError, also when rmdir fails too', async () => {
    const { tsm } = tree();
    let fail = false;
    const fs = wrap(tsm, {
      rmdir: (p) => (fail ? Promise.reject(errnoError('EBUSY', 'rmdir', p)) : tsm.rmdir(p)),
      readFile: (p) => (fail && p.endsWith('/generation') ? Promise.reject(new RangeError('boom')) : tsm.readFile(p)),
    });
    const provider = await ConfigfsTsmProvider.open({ root: ROOT, fs });
    fail = true;
    await assert.rejects(provider.getEvidence({ reportData: rd(1) }), (e) => e instanceof TeeDeviceError && e.errno === undefined && /read \S+\/generation failed: RangeError: boom/.test(e.message));
  });

  it('refuses entry names that are not one path component', async () => {
    const { tsm } = tree();
    for (const bad of ['', '.', '..', 'a/b']) {
      await assert.rejects(ConfigfsTsmProvider.open({ root: ROOT, fs: tsm, entryName: () => bad }), (e) => e instanceof CloisterError && e.field === 'entryName');
    }
    assert.deepEqual(tsm.operations, []);
  });

  it('names unique entries cloister-<uuid> by default', async () => {
    const { tsm } = tree();
    const provider = await ConfigfsTsmProvider.open({ root: ROOT, fs: tsm });
    await provider.getEvidence({ reportData: rd(1) });
    const made = tsm.operations.filter((op) => op.startsWith('mkdir')).map((op) => op.split('/').pop() ?? '');
    assert.equal(made.length, 2);
    assert.notEqual(made[0], made[1]);
    for (const n of made) assert.match(n, /^cloister-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });

  it('maps errors without an errno and unknown errnos', () => {
    const plain = tsmError('read', '/r/e/outblob', new Error('odd'));
    assert.equal(plain.errno, undefined);
    assert.equal(plain.field, 'outblob');
    const unknown = tsmError('read', '/r/e/outblob', errnoError('ETIMEDOUT', 'read', '/r/e/outblob'));
    assert.equal(unknown.errno, 'ETIMEDOUT');
    assert.match(unknown.message, /read \/r\/e\/outblob: failed \(ETIMEDOUT\)/);
    assert.match(tsmError('read', '/r/e/outblob', errnoError('EFBIG', 'read', '/r/e/outblob')).message, /larger than configfs-tsm allows \(EFBIG\)/);
    assert.match(tsmError('read', '/r/e/outblob', errnoError('EINVAL', 'read', '/r/e/outblob')).message, /rejected the request \(EINVAL\)/);
    assert.match(tsmError('read', '/r/e/provider', errnoError('ENOENT', 'open', '/r/e/provider')).message, /no such file or directory \(ENOENT\)/);
  });

  it('serves the simulated TEE through the emulated tree (provider sev_guest, marked simulated)', async () => {
    const chain = await createDevChain({ product: 'Milan', tcb: { bootloader: 4, tee: 0, snp: 24, microcode: 219 }, hwId: new Uint8Array(64).fill(3) }, 2048);
    const sim = await SimulatedSnp.create({}, { chain });
    const tsm = new EmulatedTsm({ generate: async (reportData, privlevel) => ({ outblob: await sim.report(reportData, privlevel), auxblob: sim.certTable() }) });
    const provider = await ConfigfsTsmProvider.open({ fs: tsm, simulated: true });
    assert.equal(provider.root, '/sys/kernel/config/tsm/report');
    const raw = await provider.getEvidence({ reportData: rd(0x5a), privilegeLevel: 1 });
    assert.equal(raw.simulated, true);
    assert.equal(raw.source, 'configfs-tsm/sev_guest');
    const report = parseReport(raw.evidence);
    assert.deepEqual(report.reportData, rd(0x5a));
    assert.equal(report.vmpl, 1);
    assert.ok(raw.certTable !== undefined);
    assert.deepEqual(parseCertTable(raw.certTable).map((e) => e.data), [chain.vcek, chain.ask, chain.ark]);
  });
});
