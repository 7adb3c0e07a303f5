// `cloister evidence`: obtain attestation evidence bound to given report data and print it as a
// self-contained evidence bundle (docs/evidence-bundle.md).
import { writeFile } from 'node:fs/promises';
import { CloisterError } from '../../attestation/errors.js';
import { UsageError } from '../base/runtimeErrors.js';
import { PRODUCTS, type Product } from '../../attestation/snp/product.js';
import { fetchQuoteCollateral, INTEL_PCS_URL } from '../../attestation/tdx/pcsClient.js';
import type { TdxCollateral } from '../../attestation/tdx/collateral.js';
import { parseQuote, type TdxQuote } from '../../attestation/tdx/quote.js';
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
  --pcs-url URL       TDX: the Intel PCS API (or a PCCS / caching service) the quote's collateral comes from
                      (default ${INTEL_PCS_URL})
  --no-collateral     TDX: leave the collateral out (a verifier then needs --collateral or --chain-only)
  -h, --help          show this help

Without --simulated the evidence comes from the hardware (configfs-tsm, then /dev/sev-guest, then
/dev/tdx_guest); a TDX bundle carries the quote's collateral from Intel PCS.
`;

const OPTIONS = {
  'report-data': { type: 'string' },
  simulated: { type: 'boolean' },
  product: { type: 'string' },
  'report-version': { type: 'string' },
  measurement: { type: 'string' },
  out: { type: 'string' },
  source: { type: 'string' },
  'pcs-url': { type: 'string' },
  'no-collateral': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const usage = (message: string): UsageError => usageError(message, 'evidence');

/** How `cloister evidence` finds the hardware; replaced in tests. */
export type HardwareProviderFactory = () => Promise<EvidenceProvider>;

/** Where a TDX quote's collateral comes from; Intel PCS unless replaced (tests). */
export type CollateralFetcher = (quote: TdxQuote, pcsUrl: string | undefined) => Promise<TdxCollateral>;

const fromPcs: CollateralFetcher = (quote, pcsUrl) => fetchQuoteCollateral(quote, pcsUrl === undefined ? {} : { baseUrl: pcsUrl });

export async function evidenceCommand(argv: string[], io: CliIo, hardware?: HardwareProviderFactory, collateralFor: CollateralFetcher = fromPcs): Promise<number> {
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
    const raw = await provider.getEvidence({ reportData });
    if (raw.platform !== 'tdx' && (values['pcs-url'] !== undefined || values['no-collateral'] === true)) throw usage('--pcs-url and --no-collateral apply to TDX evidence only');
    if (raw.platform === 'tdx' && values['pcs-url'] !== undefined && values['no-collateral'] === true) throw usage('--pcs-url and --no-collateral contradict each other');
    const inputs = raw.platform === 'tdx' && values['no-collateral'] !== true ? { collateral: await collateralFor(parseQuote(raw.evidence), values['pcs-url']) } : {};
    const bundle = assembleBundle(raw, inputs);
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
