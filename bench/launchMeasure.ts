// The cost of computing an SEV-SNP launch digest (attestation/measure/snp), against the floor: hashing
// the same bytes with node:crypto and nothing else. The image: a 4 MiB OVMF (random pages ending in the
// real AmdSev firmware's last 4 KiB, so its SEV metadata and kernel-hashes section are real), a 10 MiB
// kernel, a 60 MiB initrd and a command line, all in memory. Cases interleaved call by call.
//   raw            SHA-384 of the firmware, SHA-256 of kernel, initrd and command line: the bytes a launch
//                  digest must hash at least once
//   node:crypto    snpLaunchDigest with the node:crypto hasher, as `cloister measure snp` runs it
//   WebCrypto      snpLaunchDigest with its default hasher, as a browser runs it
import { createHash, randomFillSync } from 'node:crypto';
import { snpLaunchDigest, type SnpLaunchInputs } from '../attestation/index.js';
import { vector } from '../attestation/testing/vectors.js';
import { nodeHasher } from '../src/base/index.js';
import { measureInterleaved, pairedRatio, type SuiteReport } from './measure.js';

const MiB = 1024 * 1024;
const OPTIONS = { budgetMs: 15_000, minIterations: 20, warmup: 3 } as const;
const TARGET = 0.9;

const random = (size: number): Uint8Array => randomFillSync(new Uint8Array(size));

function firmware(size: number): Uint8Array {
  const suffix = vector('sev-snp-measure/fixtures/ovmf_AmdSev_suffix.bin');
  const image = random(size);
  image.set(suffix, size - suffix.length);
  return image;
}

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

export async function launchMeasureSuite(): Promise<SuiteReport> {
  const inputs: SnpLaunchInputs = { ovmf: firmware(4 * MiB), kernel: random(10 * MiB), initrd: random(60 * MiB), append: 'console=ttyS0 quiet', vcpus: 4, vcpuType: 'EPYC-v4', guestFeatures: 0x1n };
  const append = new TextEncoder().encode(`${inputs.append ?? ''}\0`);
  const rows = await measureInterleaved(
    [
      {
        name: 'raw node:crypto hashing',
        fn: () => {
          createHash('sha384').update(inputs.ovmf).digest();
          for (const part of [inputs.kernel, inputs.initrd, append]) createHash('sha256').update(part ?? new Uint8Array()).digest();
        },
      },
      { name: 'snpLaunchDigest, node:crypto', fn: () => snpLaunchDigest(inputs, nodeHasher) },
      { name: 'snpLaunchDigest, WebCrypto', fn: () => snpLaunchDigest(inputs) },
    ],
    OPTIONS,
  );
  const [raw, node, web] = rows;
  if (raw === undefined || node === undefined || web === undefined) throw new Error('missing rows');
  const ratio = pairedRatio(raw, node);
  const webRatio = pairedRatio(raw, web);
  return {
    title: 'SEV-SNP launch digest: a 4 MiB OVMF (real SEV metadata), 10 MiB kernel, 60 MiB initrd, 4 vCPUs, beside hashing the same bytes with node:crypto; cases interleaved call by call',
    rows,
    baseline: raw.name,
    notes: [
      `node:crypto: ${pct(ratio.perRound.value)} of raw hashing throughput per round (95% CI ${pct(ratio.perRound.low)}-${pct(ratio.perRound.high)}), ${pct(ratio.total.value)} in total over ${ratio.rounds} rounds (target >= ${pct(TARGET)}: ${ratio.perRound.value >= TARGET && ratio.total.value >= TARGET ? 'PASS' : 'MISS'})`,
      `WebCrypto (the browser path): ${pct(webRatio.perRound.value)} per round, ${pct(webRatio.total.value)} in total`,
    ],
  };
}
