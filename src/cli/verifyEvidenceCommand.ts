// `cloister verify-evidence`: verify SEV-SNP or TDX evidence offline and print a verdict.
import type { Verdict } from '../../attestation/checks.js';
import { CloisterError, isParseErrorCode, ParseError, type ErrorCode } from '../../attestation/errors.js';
import { UsageError } from '../base/runtimeErrors.js';
import { splitCertificateFile } from '../../attestation/evidence/bundle.js';
import { decodeEvidence, PLATFORM_LIST, platformOf, verifyDecoded, type DecodedEvidenceOf, type PlatformEntry, type PlatformName } from '../../attestation/evidence/platforms.js';
import type { SnpVerdict } from '../../attestation/snp/evidence.js';
import type { TdxCollateral } from '../../attestation/tdx/collateral.js';
import { parseTdxCollateralFile } from '../../attestation/tdx/collateralFile.js';
import type { TdxVerdict } from '../../attestation/tdx/evidence.js';
import { looksLikeCrl } from '../../attestation/x509.js';
import { nodeEcdsa } from '../base/crypto/nodeEcdsa.js';
import { nodeHasher } from '../base/crypto/nodeHasher.js';
import { simulatedRoots } from './trustSimulated.js';
import { errorLine, EXIT, parseCommandLine, usageError, readInput, type CliIo, parseAt, printable } from './io.js';
import { MEASUREMENT_HELP, MEASUREMENT_OPTIONS, platformPolicyWithMeasurements, policyWithOptions, readMeasurementsOption, readPolicyOptions, unsupportedPolicyFlags } from './policyOptions.js';

export const VERIFY_EVIDENCE_HELP = `Usage: cloister verify-evidence FILE [options]

Verify SEV-SNP or Intel TDX attestation evidence offline and check it against a policy.
  SEV-SNP: the report signature, the AMD certificate chain to the embedded AMD roots (Milan, Genoa,
    Turin), validity, CRLs.
  TDX: the quote signature, the QE report signature and its binding of the attestation key, the PCK
    certificate chain to the embedded Intel SGX Root CA, validity; then Intel PCS collateral: TCB info and
    QE identity signed by the TCB Signing certificate, the root CA and PCK CRLs, their validity windows, and
    the TCB status of the platform, the TDX module and the QE as Intel's QVL evaluates it (UpToDate is
    accepted by default). The collateral comes from the bundle or --collateral; without any the verdict is
    a rejection (COLLATERAL_MISSING) unless --chain-only.

FILE is, for SEV-SNP, a raw report (1184 bytes), an extended report (report + certificate table, as from
SNP_GET_EXT_REPORT or configfs-tsm outblob+auxblob); for TDX a raw quote (version 4 or 5, as from
configfs-tsm outblob); or a JSON evidence bundle of either platform (docs/evidence-bundle.md). The
platform is read from the bundle's "platform" member or from the quote header.

Options:
  --certs FILE              SEV-SNP only: PEM or DER certificates (VCEK/VLEK, ASK/ASVK, ARK; any order); repeatable
  --crl FILE                SEV-SNP only: PEM or DER CRL from AMD KDS; repeatable
  --collateral FILE.json    TDX only: Intel PCS collateral, in dcap-qvl's JSON shape (tcb_info, qe_identity, their
                            issuer chains and signatures, root_ca_crl, pck_crl) or as saved PCS responses
                            (docs/evidence-bundle.md "Collateral files"; cloister collateral fetch writes one);
                            replaces the bundle's
  --chain-only              TDX only: check signatures and the PCK chain alone; the TCB is not evaluated and the
                            verdict says so
  --event-log FILE          TDX only: the TD's CCEL event log (ACPI CCEL data); its replay must give the quote's
                            RTMR0..RTMR3
  --allow-tcb-status S[,S]  TDX only: accept these TCB statuses besides UpToDate (SWHardeningNeeded,
                            ConfigurationNeeded, ConfigurationAndSWHardeningNeeded, OutOfDate,
                            OutOfDateConfigurationNeeded, TDRelaunchAdvised, TDRelaunchAdvisedConfigurationNeeded);
                            repeatable; Revoked is never accepted
  --at ISO-8601             evaluate certificate and CRL validity at this time (default: now)
  --policy FILE.json        policy file for the evidence's platform (docs/policy.md)
  --allow-debug             accept a debuggable guest (SEV-SNP POLICY.DEBUG, TDX TDATTRIBUTES.DEBUG)
  --allow-provisional-tcb   SEV-SNP only: accept provisional firmware (CURRENT_TCB or firmware version != COMMITTED,
                            or REPORTED_TCB above COMMITTED_TCB)
  --min-tcb SPEC            SEV-SNP only: minimum REPORTED_TCB, CURRENT_TCB and COMMITTED_TCB per component, as
                            comma-separated NAME=N with NAME fmc (Turin), bl, tee, snp, ucode: bl=3,snp=8,ucode=115
  --min-launch-tcb SPEC     SEV-SNP only: minimum LAUNCH_TCB per component, the same way
  --min-version MAJOR.MINOR SEV-SNP only: minimum firmware ABI version, current and committed (e.g. 1.55)
  --require-smt-disabled    SEV-SNP only: require guest POLICY.SMT = 0 and PLATFORM_INFO.SMT_EN = 0
  --require-tsme            SEV-SNP only: require PLATFORM_INFO.TSME_EN = 1
  --require-ciphertext-hiding
                            SEV-SNP only: require guest POLICY.CIPHERTEXT_HIDING_DRAM = 1 and
                            PLATFORM_INFO.CIPHERTEXT_HIDING_DRAM_EN = 1
${MEASUREMENT_HELP}
  --report-data HEX         the exact expected REPORT_DATA / TDX REPORTDATA (64 bytes)
  --trust-root FILE         also trust this root certificate (PEM or DER); repeatable
  --trust-simulated         also trust the simulated TEE's development roots (from the state directory,
                            $CLOISTER_STATE_DIR or ~/.local/state/cloister); never use in production
  --json                    print the verdict and every parsed claim as JSON
  -h, --help                show this help

Options for one platform given with the other's evidence are a usage error (exit 2), not silently ignored.

Example:
  cloister verify-evidence quote.dat --collateral collateral.json --at 2025-06-25T00:00:00Z

Exit status: 0 accepted, 1 rejected, 2 usage error or unreadable/malformed input.
`;

const usage = (message: string): UsageError => usageError(message, 'verify-evidence');

const OPTIONS = {
  certs: { type: 'string', multiple: true },
  crl: { type: 'string', multiple: true },
  collateral: { type: 'string' },
  'chain-only': { type: 'boolean' },
  'event-log': { type: 'string' },
  'allow-tcb-status': { type: 'string', multiple: true },
  at: { type: 'string' },
  policy: { type: 'string' },
  'allow-debug': { type: 'boolean' },
  'allow-provisional-tcb': { type: 'boolean' },
  'min-tcb': { type: 'string' },
  'min-launch-tcb': { type: 'string' },
  'min-version': { type: 'string' },
  'require-smt-disabled': { type: 'boolean' },
  'require-tsme': { type: 'boolean' },
  'require-ciphertext-hiding': { type: 'boolean' },
  ...MEASUREMENT_OPTIONS,
  'report-data': { type: 'string' },
  json: { type: 'boolean' },
  'trust-root': { type: 'string', multiple: true },
  'trust-simulated': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** After the measurement's value when the policy listed none: this command verifies a file, and says so rather than refusing. */
function unchecked(v: SnpVerdict | TdxVerdict, check: string): string {
  return v.checks.some((c) => c.id === check && c.status === 'skipped') ? ' (NOT CHECKED: no --measurement or --measurements)' : '';
}

function summary(v: SnpVerdict): string {
  const passed = v.checks.filter((c) => c.status === 'pass').length;
  const skipped = v.checks.filter((c) => c.status === 'skipped').map((c) => c.id.replace(/^policy\./, ''));
  const c = v.claims as { product: string; signingKey: string; version: number; measurement: string; reportData: string; chain?: { root: string } };
  return [
    `ACCEPTED: SEV-SNP report v${c.version} from ${c.product}, signed by the ${c.signingKey.toUpperCase()}, chain to ${c.chain?.root ?? '?'}${v.simulated ? ' (evidence marked SIMULATED)' : ''}`,
    `  measurement  ${c.measurement}${unchecked(v, 'policy.measurement')}`,
    `  report_data  ${c.reportData}`,
    `  checks       ${passed} passed${skipped.length > 0 ? `; not requested: ${skipped.join(', ')}` : ''}`,
    '',
  ].join('\n');
}

function tdxSummary(v: TdxVerdict): string {
  const passed = v.checks.filter((c) => c.status === 'pass').length;
  const skipped = v.checks.filter((c) => c.status === 'skipped');
  // Skipped because nothing was asked (a policy field, an event log), or because the TCB was not evaluated.
  const evaluated = (id: string): boolean => (id.startsWith('policy.') && id !== 'policy.tcb-status') || id === 'event-log';
  const notRequested = skipped.filter((c) => evaluated(c.id)).map((c) => c.id.replace(/^policy\./, ''));
  const notEvaluated = skipped.filter((c) => !evaluated(c.id)).map((c) => c.id.replace(/^policy\./, ''));
  const c = v.claims as { version: number; bodyType: string; mrTd: string; reportData: string; chain?: { root: string }; tcb: { status: string; summary: string; tcbEvaluationDataNumber: number } | null };
  return [
    `ACCEPTED: TDX quote v${c.version} (${c.bodyType} body), chain to ${c.chain?.root ?? '?'}${v.simulated ? ' (evidence marked SIMULATED)' : ''}`,
    `  mrtd         ${c.mrTd}${unchecked(v, 'policy.mrtd')}`,
    `  report_data  ${c.reportData}`,
    `  tcb status   ${c.tcb === null ? 'not evaluated (--chain-only)' : `${c.tcb.status}: ${c.tcb.summary} (TCB evaluation data ${c.tcb.tcbEvaluationDataNumber})`}`,
    `  checks       ${passed} passed${notRequested.length > 0 ? `; not requested: ${notRequested.join(', ')}` : ''}${notEvaluated.length > 0 ? `; not evaluated: ${notEvaluated.join(', ')}` : ''}`,
    '',
  ].join('\n');
}

function rejection(v: SnpVerdict | TdxVerdict): string {
  const e = v.error;
  const failed = v.checks.find((c) => c.status === 'fail')?.id ?? 'parse';
  if (e === undefined) return 'REJECTED\n';
  const detail = e.field === undefined ? '' : ` (field ${e.field}${e.expected === undefined ? '' : `: expected ${e.expected}`}${e.actual === undefined ? '' : `, actual ${e.actual}`})`;
  return `${printable(`REJECTED [${e.code}] ${failed}: ${e.message}${detail}`)}\n`;
}

type Values = ReturnType<typeof parseCommandLine<typeof OPTIONS>>['values'];

/** How an accepted verdict is summed up, per platform. */
const SUMMARIES: { readonly [N in PlatformName]: (v: Verdict<N>) => string } = { 'sev-snp': summary, tdx: tdxSummary };

const summaryOf = <N extends PlatformName>(v: Verdict<N>): string => SUMMARIES[v.platform](v);

/** Options a platform's verifier cannot use, as their flags: --certs and --crl where it takes no supplied endorsements, --collateral and --chain-only where it takes no collateral, policy options its policy lacks. */
function unusableFlags<N extends PlatformName>(platform: PlatformEntry<N>, values: Values): string[] {
  const endorsements = platform.usesSuppliedEndorsements ? [] : (['certs', 'crl'] as const).filter((k) => values[k] !== undefined).map((k) => `--${k}`);
  const collateral = platform.takesCollateral ? [] : (['collateral', 'chain-only', 'event-log'] as const).filter((k) => values[k] !== undefined).map((k) => `--${k}`);
  return [...endorsements, ...collateral, ...unsupportedPolicyFlags(platform, values)];
}

/** A collateral file: dcap-qvl's JSON or saved Intel PCS responses (attestation/tdx/collateralFile.ts). */
async function collateralOption(io: CliIo, path: string): Promise<TdxCollateral> {
  const bytes = await readInput(io, path, 'collateral');
  try {
    return parseTdxCollateralFile(bytes);
  } catch (e) {
    if (e instanceof ParseError) throw new ParseError(e.code, `${path}: ${e.message}`, { field: '--collateral', cause: e });
    throw e;
  }
}

async function verifyDecodedEvidence<N extends PlatformName>(io: CliIo, values: Values, decoded: DecodedEvidenceOf<N>, at: Date | undefined): Promise<Verdict<N>> {
  const platform = platformOf(decoded);
  const unusable = unusableFlags(platform, values);
  if (unusable.length > 0) {
    const accepting = PLATFORM_LIST.filter((p) => unusableFlags(p, values).length === 0).map((p) => p.label);
    if (accepting.length === 0) throw usage(`${unusable.join(', ')} cannot be used with ${platform.label} evidence (and the options given belong to different platforms)`);
    throw usage(`${unusable.join(', ')} ${unusable.length === 1 ? 'applies' : 'apply'} to ${accepting.join(' or ')} evidence only, and FILE is ${platform.label} evidence`);
  }
  const base = values.policy === undefined ? {} : platform.parsePolicyJson(new TextDecoder().decode(await readInput(io, values.policy, 'policy')));
  const policy = platformPolicyWithMeasurements(platform, policyWithOptions(platform, base, readPolicyOptions(values, usage)), await readMeasurementsOption(values, io));
  const certificates = [...decoded.evidence.certificates];
  const crls = [...decoded.evidence.crls];
  for (const path of values.certs ?? []) {
    const split = splitCertificateFile(await readInput(io, path, 'certificate'), path);
    certificates.push(...split.certificates);
    crls.push(...split.crls);
  }
  for (const path of values.crl ?? []) {
    const split = splitCertificateFile(await readInput(io, path, 'CRL'), path);
    if (split.certificates.length > 0 || split.crls.some((c) => !looksLikeCrl(c))) {
      throw new ParseError('MALFORMED_DER', `${path} is not a CRL (PEM "X509 CRL" or DER CertificateList)`, { field: '--crl' });
    }
    crls.push(...split.crls);
  }
  const additionalRoots = await trustRoots(io, values);
  if (values['trust-simulated'] === true) additionalRoots.push(...(await simulatedRoots(platform.name, 'verify-evidence')));
  const verifier = platform.createVerifier({ ecdsa: nodeEcdsa, hasher: nodeHasher, additionalRoots });
  if (values['chain-only'] === true && values.collateral !== undefined) throw usage('--chain-only and --collateral contradict each other: the chain alone evaluates no collateral');
  const collateral = values.collateral === undefined ? {} : { collateral: await collateralOption(io, values.collateral) };
  const eventLog = values['event-log'] === undefined ? {} : { eventLog: await readInput(io, values['event-log'], 'event log') };
  const evidence = platform.usesSuppliedEndorsements ? { ...decoded.evidence, certificates, crls } : { ...decoded.evidence, ...collateral, ...eventLog };
  return verifyDecoded({ platform: platform.name, evidence }, policy, { verifier, hasher: nodeHasher, ...(at === undefined ? {} : { at }), ...(values['chain-only'] === true ? { chainOnly: true } : {}) });
}

async function trustRoots(io: CliIo, values: Values): Promise<Uint8Array[]> {
  const roots: Uint8Array[] = [];
  for (const path of values['trust-root'] ?? []) roots.push(...splitCertificateFile(await readInput(io, path, 'trusted root'), path).certificates);
  return roots;
}

export async function verifyEvidenceCommand(argv: string[], io: CliIo): Promise<number> {
  let json = false;
  let platform: PlatformName = 'sev-snp';
  try {
    const { values, positionals } = parseCommandLine(argv, OPTIONS, 'verify-evidence');
    json = values.json === true;
    if (values.help === true) {
      io.stdout(VERIFY_EVIDENCE_HELP);
      return EXIT.ok;
    }
    if (positionals.length !== 1) throw usage(positionals.length === 0 ? 'missing evidence FILE' : `expected one evidence FILE, got ${positionals.length}`);
    const at = parseAt(values.at, 'verify-evidence');
    const decoded = decodeEvidence(await readInput(io, positionals[0] as string, 'evidence'));
    platform = decoded.platform;
    const verdict = await verifyDecodedEvidence(io, values, decoded, at);
    if (json) io.stdout(`${JSON.stringify(verdict, null, 2)}\n`);
    else if (verdict.accepted) io.stdout(summaryOf(verdict));
    if (verdict.accepted) return EXIT.ok;
    // Evidence that does not parse is malformed input (exit 2, one line on stderr), not a rejection.
    const malformed = verdict.error !== undefined && isParseErrorCode(verdict.error.code) ? verdict.error : undefined;
    if (!json) {
      if (malformed === undefined) io.stdout(rejection(verdict));
      else io.stderr(errorLine(Object.assign(new ParseError(malformed.code as ErrorCode, malformed.message), malformed)));
    }
    return malformed === undefined ? EXIT.rejected : EXIT.usage;
  } catch (e) {
    if (!(e instanceof CloisterError)) throw e;
    if (json) io.stdout(`${JSON.stringify({ accepted: false, platform, simulated: false, error: e.toJSON(), checks: [] }, null, 2)}\n`);
    else io.stderr(errorLine(e));
    return EXIT.usage;
  }
}
