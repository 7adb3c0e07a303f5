// `cloister evidence`: obtain attestation evidence bound to given report data and print it as a
// self-contained evidence bundle (docs/evidence-bundle.md).
import { writeFile } from 'node:fs/promises';
import { CloisterError } from '../../attestation/errors.js';
import { UsageError } from '../base/runtimeErrors.js';
import { PRODUCTS, type Product } from '../../attestation/snp/product.js';
import { assembleBundle } from '../tee/assembleBundle.js';
import type { EvidenceProvider } from '../tee/provider.js';
import { defaultStateDir } from '../tee/sim/devChain.js';
import { detectEvidenceProvider } from '../tee/detectProvider.js';
import { openSimulatedConfigfsProvider } from '../tee/sim/simulatedTsm.js';
import { SimulatedSnp } from '../tee/sim/snpSimulator.js';
import { errorLine, EXIT, hardwareSource, parseOptions, usageError, type CliIo } from './io.js';
import { hexArg } from './policyOptions.js';

export const EVIDENCE_HELP = `Usage: cloister evidence --simulated [options]

Obtain SEV-SNP attestation evidence whose REPORT_DATA is the given 64 bytes, and print it as a
self-contained evidence bundle (report, certificates, CRLs) that "cloister verify-evidence" checks offline.

Options:
  --report-data HEX   the 64 bytes to bind (default: 64 zero bytes)
  --simulated         use the simulated TEE (development root in the state directory, created at first use)
  --product NAME      simulated product: ${PRODUCTS.join(', ')} (default Milan)
  --report-version N  simulated report version: 3 or 5 (default 3)
  --measurement HEX   simulated MEASUREMENT (48 bytes), e.g. from "cloister measure snp" (default: the
                      SHA-384 of "cloister simulated launch")
  --out FILE          write the bundle to FILE instead of standard output
  --source NAME       evidence source without --simulated: auto (configfs-tsm, then /dev/sev-guest,
                      then /dev/tdx_guest), configfs-tsm, sev-guest or tdx-guest (default auto)
  -h, --help          show this help

Without --simulated the evidence comes from the hardware (configfs-tsm, then /dev/sev-guest).
`;

const OPTIONS = {
  'report-data': { type: 'string' },
  simulated: { type: 'boolean' },
  product: { type: 'string' },
  'report-version': { type: 'string' },
  measurement: { type: 'string' },
  out: { type: 'string' },
  source: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const usage = (message: string): UsageError => usageError(message, 'evidence');

/** How `cloister evidence` finds the hardware; replaced in tests. */
export type HardwareProviderFactory = () => Promise<EvidenceProvider>;

export async function evidenceCommand(argv: string[], io: CliIo, hardware?: HardwareProviderFactory): Promise<number> {
  try {
    const values = parseOptions(argv, OPTIONS, 'evidence');
    if (values.help === true) {
      io.stdout(EVIDENCE_HELP);
      return EXIT.ok;
    }
    const hex = (values['report-data'] ?? '00'.repeat(64)).replace(/^0x/i, '');
    if (!/^[0-9a-fA-F]{128}$/.test(hex)) throw usage(`--report-data must be 64 bytes of hex (128 digits), got "${values['report-data'] ?? ''}"`);
    const reportData = new Uint8Array(Buffer.from(hex, 'hex'));
    let provider: EvidenceProvider;
    if (values.simulated === true) {
      if (values.source !== undefined) throw usage('--source applies only without --simulated');
      const product = values.product ?? 'Milan';
      if (!(PRODUCTS as readonly string[]).includes(product)) throw usage(`--product must be one of ${PRODUCTS.join(', ')}, got "${product}"`);
      const version = values['report-version'] ?? '3';
      if (version !== '3' && version !== '5') throw usage(`--report-version must be 3 or 5, got "${version}"`);
      const measurement = values.measurement === undefined ? undefined : Uint8Array.from(Buffer.from(hexArg(values.measurement, 48, '--measurement', usage), 'hex'));
      const sim = await SimulatedSnp.create({ product: product as Product, version: Number(version) as 3 | 5, ...(measurement === undefined ? {} : { measurement }) }, { stateDir: defaultStateDir() });
      provider = await openSimulatedConfigfsProvider(sim);
      io.stderr(`SIMULATED TEE: evidence signed by the development root in ${defaultStateDir()}, not by AMD\n`);
    } else {
      if (values.product !== undefined || values['report-version'] !== undefined || values.measurement !== undefined) throw usage('--product, --report-version and --measurement apply only with --simulated');
      const source = hardwareSource(values.source, 'evidence');
      provider = await (hardware ?? (() => detectEvidenceProvider(source === undefined ? {} : { override: source })))();
    }
    const bundle = assembleBundle(await provider.getEvidence({ reportData }));
    if (values.out === undefined) io.stdout(new TextDecoder().decode(bundle.bytes));
    else await writeFile(values.out, bundle.bytes);
    io.stderr(`bundle ${bundle.id}, fresh until ${bundle.freshUntil.toISOString()}\n`);
    return EXIT.ok;
  } catch (e) {
    if (!(e instanceof CloisterError)) throw e;
    io.stderr(errorLine(e));
    return EXIT.usage;
  }
}
