import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeSnpEvidence } from '../../../attestation/evidence/platforms.js';
import { verifySnpEvidence } from '../../../attestation/snp/evidence.js';
import { SnpVerifier } from '../../../attestation/snp/verify.js';
import { assembleSnpBundle } from '../assembleBundle.js';
import { ConfigfsTsmProvider } from '../configfsTsm.js';
import { createDevChain } from './devChain.js';
import { parseQuote } from '../../../attestation/tdx/quote.js';
import { TdxVerifier } from '../../../attestation/tdx/verify.js';
import { openSimulatedConfigfsProvider, openSimulatedTdxConfigfsProvider, simulatedSnpTree } from './simulatedTsm.js';
import { createTdxDevChain } from './tdxDevChain.js';
import { SimulatedTdx } from './tdxSimulator.js';
import { SimulatedSnp } from './snpSimulator.js';

describe('simulated TEE behind the emulated configfs-tsm tree', () => {
  it('runs the real acquisition path end to end: mkdir, inblob, outblob, auxblob, rmdir; the bundle verifies under the development root', async () => {
    const chain = await createDevChain({ product: 'Milan', tcb: { bootloader: 4, tee: 0, snp: 24, microcode: 219 }, hwId: new Uint8Array(64).fill(2) }, 2048);
    const sim = await SimulatedSnp.create({}, { chain });
    const tree = simulatedSnpTree(sim);
    const provider = await ConfigfsTsmProvider.open({ fs: tree, root: tree.root, simulated: true });
    assert.equal((await openSimulatedConfigfsProvider(sim)).simulated, true);
    assert.equal(provider.platform, 'sev-snp');
    const reportData = new Uint8Array(64).fill(0x5a);
    const raw = await provider.getEvidence({ reportData, privilegeLevel: 2 });
    assert.equal(raw.source, 'configfs-tsm/sev_guest');
    const bundle = assembleSnpBundle(raw);
    const evidence = decodeSnpEvidence(bundle.bytes);
    const v = await verifySnpEvidence(evidence, { reportData: '5a'.repeat(64), vmpl: 2 }, { verifier: new SnpVerifier({ trustedRoots: [chain.ark] }) });
    assert.equal(v.accepted, true, v.error?.message);
    const ops = tree.operations.map((o) => `${o.split(' ')[0] ?? ''} ${o.split('/').at(-1) ?? ''}`);
    assert.equal(ops.at(-1)?.split(' ')[0], 'rmdir', 'the entry is removed');
    for (const op of ['write privlevel', 'write inblob', 'read outblob', 'read auxblob']) assert.ok(ops.includes(op), op);
  });

  it('serves simulated TDX quotes through a tdx_guest tree', async () => {
    const chain = await createTdxDevChain();
    const provider = await openSimulatedTdxConfigfsProvider(await SimulatedTdx.create({}, { chain }));
    assert.equal(provider.platform, 'tdx');
    const reportData = new Uint8Array(64).fill(0x33);
    const raw = await provider.getEvidence({ reportData });
    assert.equal(raw.source, 'configfs-tsm/tdx_guest');
    const quote = parseQuote(raw.evidence);
    assert.deepEqual(quote.body.reportData, reportData);
    await new TdxVerifier({ trustedRoots: [chain.root] }).verify(quote);
  });
});
