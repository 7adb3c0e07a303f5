// `cloister verify https://HOST:PORT`: connect to a Cloister server, verify its RA-TLS certificate
// (docs/ra-tls.md) during the TLS handshake, and print the verdict and what it attests.
import { AttestationRefusedError, attestedConnect, createAttestedVerifier } from '../../attestation/client/node/index.js';
import type { PlatformName } from '../../attestation/evidence/platforms.js';
import type { RaTlsVerdict } from '../../attestation/ratls/verifyCertificate.js';
import { CloisterError } from '../../attestation/errors.js';
import { ANY_MEASUREMENT_NOTE } from '../../attestation/client/measurementSource.js';
import { HARDWARE_POLICY_CHECK } from '../../attestation/client/hardwarePolicy.js';
import { TRANSPARENCY_LOG_CHECK } from '../../attestation/client/loggedMeasurements.js';
import type { UsageError } from '../base/runtimeErrors.js';
import { errorLine, EXIT, parseCommandLine, usageError, type CliIo, parseAt } from './io.js';
import { MEASUREMENT_HELP, MEASUREMENT_OPTIONS } from './policyOptions.js';
import { measurementOutcome, trustFromOptions, TRUST_HELP, TRUST_OPTIONS, type MeasurementSourceKind } from './trustOptions.js';

export const VERIFY_HELP = `Usage: cloister verify https://HOST[:PORT] [options]

Connect to a Cloister server and verify its RA-TLS certificate during the TLS handshake: the attestation
evidence it carries (SEV-SNP or TDX, chained to the AMD / Intel roots), the caller's policy with the launch
measurements it accepts (--measurement, --measurements; without them the command refuses), and that the
evidence binds the certificate's key and the OHTTP key configurations it carries. No CA, no host name
check: the evidence is the server's identity. Nothing is sent over the connection, except with --fresh
or --nonce: then the evidence must also be fresh, acquired now by the server's TEE for a nonce of
the client's (POST /v1/attestation/fresh over the verified connection) and bound to the same keys.

Options:
  --policy FILE.json        SEV-SNP policy file (docs/policy.md), as for verify-evidence
${MEASUREMENT_HELP}
${TRUST_HELP}
  --fresh                   also require fresh evidence for a random 32-byte nonce
  --nonce HEX               the nonce for that (16..64 bytes of hex); implies --fresh
  --at ISO-8601             evaluate the certificate and evidence validity at this time (default: now)
  --json                    print the verdict, every check and every claim as JSON
  -h, --help                show this help

Exit status: 0 accepted, 1 rejected (including a server without attestation: NO_ATTESTATION),
2 usage error (also no measurement to accept) or connection error.
`;

const OPTIONS = {
  policy: { type: 'string' },
  ...MEASUREMENT_OPTIONS,
  at: { type: 'string' },
  fresh: { type: 'boolean' },
  nonce: { type: 'string' },
  ...TRUST_OPTIONS,
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const usage = (message: string): UsageError => usageError(message, 'verify');

function target(arg: string): { host: string; port: number; origin: string } {
  let u: URL;
  try {
    u = new URL(arg);
  } catch {
    throw usage(`"${arg}" is not a URL such as https://cloister.example:8443`);
  }
  if (u.protocol !== 'https:') throw usage(`the server URL must be https://HOST[:PORT], got "${arg}"`);
  if ((u.pathname !== '/' && u.pathname !== '') || u.search !== '' || u.hash !== '' || u.username !== '') throw usage(`the server URL must be https://HOST[:PORT] without path, query or credentials, got "${arg}"`);
  return { host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port: u.port === '' ? 443 : Number(u.port), origin: u.origin };
}

function hexNonce(value: string): Uint8Array {
  const clean = value.replace(/^0x/i, '');
  if (!/^(?:[0-9a-fA-F]{2}){16,64}$/.test(clean)) throw usage(`--nonce must be 16..64 bytes of hex (32..128 digits), got "${value}"`);
  return new Uint8Array(Buffer.from(clean, 'hex'));
}

interface Claims {
  readonly fresh?: { nonce?: string };
  readonly certificate?: { notAfter: string; spkiSha256: string };
  readonly keyConfigs?: readonly string[];
  readonly evidence?: {
    product?: string | null;
    version?: number;
    signingKey?: string;
    measurement?: string;
    mrTd?: string;
    bodyType?: string;
    reportedTcb?: Record<string, unknown>;
    chain?: { root: string };
    /** TDX: Intel's TCB status of the platform, module and QE; null when not evaluated. */
    tcb?: { status: string; summary: string; tcbEvaluationDataNumber: number } | null;
  };
}

function tcbLine(tcb: Record<string, unknown> | undefined): string {
  if (tcb === undefined) return '?';
  const parts = Object.entries(tcb).filter(([k]) => k !== 'raw').map(([k, v]) => `${k} ${String(v)}`);
  return `${String(tcb.raw)}${parts.length > 0 ? ` (${parts.join(', ')})` : ''}`;
}

type Evidence = NonNullable<Claims['evidence']>;

/** What follows the measurement line's value: how the measurement was judged. */
const MEASUREMENT_NOTES: Readonly<Record<MeasurementSourceKind, string>> = {
  given: 'allowed',
  simulated: "the simulated TEE's (--trust-simulated)",
  any: `${ANY_MEASUREMENT_NOTE}: not checked`,
  logged: 'in the transparency log',
};

/** The evidence lines of an accepted verdict, per platform; "unknown" never reaches a summary (no evidence, no acceptance). */
const EVIDENCE_LINES: { readonly [N in PlatformName | 'unknown']: (origin: string, e: Evidence, simulated: string, measured: string) => string[] } = {
  tdx: (origin, e, simulated, measured) => [
    `ACCEPTED: ${origin} presents an RA-TLS certificate with a TDX quote v${e.version ?? '?'} (${e.bodyType ?? '?'} body), chain to ${e.chain?.root ?? '?'}${simulated}`,
    `  platform     tdx`,
    `  measurement  ${e.mrTd ?? '?'} (MRTD), ${measured}`,
    `  tcb          ${e.tcb === undefined || e.tcb === null ? 'not evaluated' : `${e.tcb.status}: ${e.tcb.summary} (TCB evaluation data ${e.tcb.tcbEvaluationDataNumber})`}`,
  ],
  'sev-snp': (origin, e, simulated, measured) => [
    `ACCEPTED: ${origin} presents an RA-TLS certificate with a SEV-SNP report v${e.version ?? '?'} from ${e.product ?? '?'}, signed by the ${(e.signingKey ?? '?').toUpperCase()}, chain to ${e.chain?.root ?? '?'}${simulated}`,
    `  platform     sev-snp`,
    `  measurement  ${e.measurement ?? '?'}, ${measured}`,
    `  tcb          reported ${tcbLine(e.reportedTcb)}`,
  ],
  unknown: (origin) => [`ACCEPTED: ${origin}`],
};

function summary(origin: string, v: RaTlsVerdict, source: MeasurementSourceKind): string {
  const c = (v.claims ?? {}) as Claims;
  const passed = v.checks.filter((k) => k.status === 'pass').length;
  const lines = EVIDENCE_LINES[v.platform](origin, c.evidence ?? {}, v.simulated ? ' (evidence marked SIMULATED)' : '', MEASUREMENT_NOTES[measurementOutcome(v, source)]);
  return [
    ...lines,
    ...v.checks.filter((k) => k.id === TRANSPARENCY_LOG_CHECK && k.status === 'pass').map((k) => `  log          ${k.detail ?? ''}`),
    ...v.checks.filter((k) => k.id === HARDWARE_POLICY_CHECK).map((k) => `  hardware     ${k.detail ?? ''}`),
    `  certificate  SPKI SHA-256 ${c.certificate?.spkiSha256 ?? '?'}, valid until ${c.certificate?.notAfter ?? '?'}`,
    `  key configs  ${c.keyConfigs?.length ?? 0} OHTTP key configuration(s), bound with the certificate key into REPORT_DATA`,
    ...(c.fresh?.nonce === undefined ? [] : [`  freshness    evidence acquired now for nonce ${c.fresh.nonce}, same launch, bound to the same keys`]),
    `  checks       ${passed} passed`,
    '',
  ].join('\n');
}

function rejection(origin: string, v: RaTlsVerdict): string {
  const e = v.error;
  if (e === undefined) return `REJECTED ${origin}\n`;
  const failed = v.checks.find((c) => c.status === 'fail')?.id ?? 'certificate';
  const detail = e.field === undefined ? '' : ` (field ${e.field}${e.expected === undefined ? '' : `: expected ${e.expected}`}${e.actual === undefined ? '' : `, actual ${e.actual}`})`;
  const what = e.code === 'NO_ATTESTATION' ? `no attestation found: ${origin} presents an ordinary TLS certificate; ` : '';
  return `REJECTED [${e.code}] ${failed}: ${what}${e.message}${detail}\n`;
}

export async function verifyCommand(argv: string[], io: CliIo): Promise<number> {
  let json = false;
  try {
    const { values, positionals } = parseCommandLine(argv, OPTIONS, 'verify');
    json = values.json === true;
    if (values.help === true) {
      io.stdout(VERIFY_HELP);
      return EXIT.ok;
    }
    if (positionals.length !== 1) throw usage(positionals.length === 0 ? 'missing the server URL https://HOST:PORT' : `expected one server URL, got ${positionals.length}`);
    const { host, port, origin } = target(positionals[0] as string);
    const at = parseAt(values.at, 'verify');
    const nonce = values.nonce === undefined ? undefined : hexNonce(values.nonce);
    const trust = await trustFromOptions(values, io, 'verify', 'the simulated TEE creates one at first use');
    const verify = createAttestedVerifier({
      ...trust.client,
      ...(nonce === undefined ? {} : { nonce }),
      ...(values.fresh === true ? { freshEvidence: true } : {}),
      ...(at === undefined ? {} : { at }),
    });
    let verdict: RaTlsVerdict;
    try {
      const conn = await attestedConnect({ host, port }, verify);
      conn.socket.end();
      verdict = conn.verdict;
    } catch (e) {
      if (e instanceof AttestationRefusedError) verdict = e.verdict;
      else {
        const reason = e instanceof CloisterError ? (e.actual ?? e.message) : ((e as NodeJS.ErrnoException).code ?? (e as Error).message);
        throw new ConnectionFailure(`cannot connect to ${host}:${port}: ${reason}`, e);
      }
    }
    if (json) io.stdout(`${JSON.stringify({ url: origin, ...verdict }, null, 2)}\n`);
    else io.stdout(verdict.accepted ? summary(origin, verdict, trust.measurementSource) : rejection(origin, verdict));
    return verdict.accepted ? EXIT.ok : EXIT.rejected;
  } catch (e) {
    if (e instanceof ConnectionFailure) {
      io.stderr(`error: ${e.message}\n`);
      return EXIT.usage;
    }
    if (!(e instanceof CloisterError)) throw e;
    if (json) io.stdout(`${JSON.stringify({ accepted: false, platform: 'unknown', simulated: false, error: e.toJSON(), checks: [] }, null, 2)}\n`);
    else io.stderr(errorLine(e));
    return EXIT.usage;
  }
}

/** The server could not be reached or verified; printed as a plain `error:` line (exit 2). */
class ConnectionFailure extends CloisterError {
  constructor(message: string, cause: unknown) {
    super('CONNECTION_FAILED', message, { cause });
  }
}
