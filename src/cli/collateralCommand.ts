// `cloister collateral fetch|convert`: Intel PCS collateral for a TDX quote, as the dcap-qvl-shaped JSON that
// evidence bundles and `cloister serve --collateral` carry (docs/evidence-bundle.md "Collateral files").
import { CloisterError, ParseError } from '../../attestation/errors.js';
import { decodeTdxEvidence } from '../../attestation/evidence/platforms.js';
import { collateralDates, tdxCollateralJson, type TdxCollateral } from '../../attestation/tdx/collateral.js';
import { parseTdxCollateralFile } from '../../attestation/tdx/collateralFile.js';
import { fetchQuoteCollateral, INTEL_PCS_URL, INTEL_ROOT_CA_CRL_URL, PCS_UPDATE_TYPES, type PcsFetch, type PcsUpdateType } from '../../attestation/tdx/pcsClient.js';
import { parseQuote, type TdxQuote } from '../../attestation/tdx/quote.js';
import type { ParseArgsOptionsConfig } from 'node:util';
import { errorLine, EXIT, parseCommandLine, readInput, usageError, type CliIo } from './io.js';
import { OutputFile } from './outputFile.js';

/** A quote, a bundle or a collateral file is kilobytes; this leaves room and no more. */
const MAX_INPUT_BYTES = 16 * 1024 * 1024;

export const COLLATERAL_HELP = `Usage: cloister collateral fetch|convert [options]

Intel PCS collateral for a TDX quote (TCB info, TDX QE identity, PCK CRL, root CA CRL), written as the
dcap-qvl-shaped JSON that evidence bundles and "cloister serve --collateral" carry. Nothing is verified
here: the JSON is untrusted input for the verifier, as the quote is.

  fetch    fetch the collateral for a quote's platform from Intel PCS, or a PCCS or caching service
  convert  turn saved Intel PCS responses (bodies and issuer chain headers) into the same JSON

Run "cloister collateral fetch --help" (or convert) for the options of each.
`;

export const COLLATERAL_FETCH_HELP = `Usage: cloister collateral fetch QUOTE [options]

Fetch the collateral for the platform that produced QUOTE: the FMSPC and the issuing PCK CA are read
from the quote's PCK certificate, then four GET requests are made:
  {pcs-url}/tdx/certification/v4/tcb?fmspc=FMSPC           TCB info
  {pcs-url}/tdx/certification/v4/qe/identity               TDX QE identity
  {pcs-url}/sgx/certification/v4/pckcrl?ca=CA&encoding=der PCK CRL (CA: platform or processor)
  {root-ca-crl-url}                                        Intel SGX Root CA CRL
and the signed TCB info and QE identity are kept exactly as served, with their signatures and issuer chains.

Arguments:
  QUOTE                   a TDX quote (raw, as configfs-tsm or /dev/tdx_guest returns it) or a TDX
                          evidence bundle (as "cloister evidence" writes it)

Options:
  --pcs-url URL           the PCS API's base URL (default ${INTEL_PCS_URL}); any
                          service that serves the same v4 paths, such as a local PCCS
                          (https://HOST:8081, with or without /sgx/certification/v4)
  --root-ca-crl-url URL   where to fetch the root CA CRL (default
                          ${INTEL_ROOT_CA_CRL_URL};
                          a PCCS serves it at {pcs-url}/sgx/certification/v4/rootcacrl)
  --update standard|early TCB info and QE identity of Intel's standard or early TCB recovery
                          schedule (default standard)
  --out FILE              write the JSON to FILE (created with mode 0600) instead of standard output
  -h, --help              show this help

Example:
  cloister collateral fetch quote.dat --out collateral.json
  cloister collateral fetch bundle.json --pcs-url https://pccs.internal:8081 \\
    --root-ca-crl-url https://pccs.internal:8081/sgx/certification/v4/rootcacrl

Exit status: 0 written, 2 usage error, unreadable or malformed input, or collateral the service did not
give (the line names the URL and the HTTP status).
`;

export const COLLATERAL_CONVERT_HELP = `Usage: cloister collateral convert FILE [options]

Read Intel PCS responses saved as they were served and write them as dcap-qvl-shaped collateral JSON.
FILE is JSON:
  {
    "tcbInfo":    { "body": "<body of GET .../tdx/certification/v4/tcb?fmspc=...>",
                    "issuerChain": "<its TCB-Info-Issuer-Chain header>" },
    "qeIdentity": { "body": "<body of GET .../tdx/certification/v4/qe/identity>",
                    "issuerChain": "<its SGX-Enclave-Identity-Issuer-Chain header>" },
    "pckCrl":     { "body": "<hex of the DER body of GET .../sgx/certification/v4/pckcrl?ca=...&encoding=der>",
                    "issuerChain": "<its SGX-PCK-CRL-Issuer-Chain header>" },
    "rootCaCrl":  { "body": "<hex of the DER root CA CRL>" }
  }
pckCrl and rootCaCrl may be left out. Headers may be given URL-encoded, as served, or decoded. A file
that is already dcap-qvl collateral JSON is checked and written again unchanged.

Arguments:
  FILE        the saved responses

Options:
  --out FILE  write the JSON to FILE (created with mode 0600) instead of standard output
  -h, --help  show this help

Example:
  cloister collateral convert pcs-responses.json --out collateral.json

Exit status: 0 written, 2 usage error, unreadable or malformed input.
`;

const FETCH_OPTIONS = {
  'pcs-url': { type: 'string' },
  'root-ca-crl-url': { type: 'string' },
  update: { type: 'string' },
  out: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;
const CONVERT_OPTIONS = { out: { type: 'string' }, help: { type: 'boolean', short: 'h' } } as const;

/** A subcommand's options and its one FILE argument; undefined when it was asked for --help, which is printed. */
function subcommandLine<const O extends ParseArgsOptionsConfig>(argv: string[], options: O, help: string, what: string, command: string, io: CliIo): { values: ReturnType<typeof parseCommandLine<O>>['values']; path: string } | undefined {
  const { values, positionals } = parseCommandLine(argv, options, command);
  // Every subcommand's options have -h, --help; the generic values type cannot say so.
  if ((values as { readonly help?: boolean }).help === true) {
    io.stdout(help);
    return undefined;
  }
  if (positionals.length !== 1) throw usageError(positionals.length === 0 ? `missing the ${what}` : `expected one ${what}, got ${positionals.length}`, command);
  return { values, path: positionals[0] as string };
}

/** Writes the collateral JSON to `out` (already created) or standard output. */
async function write(collateral: TdxCollateral, out: OutputFile | undefined, io: CliIo): Promise<void> {
  const json = `${JSON.stringify(tdxCollateralJson(collateral), null, 2)}\n`;
  if (out === undefined) {
    io.stdout(json);
    return;
  }
  await out.commit(new TextEncoder().encode(json));
  const next = collateralDates(collateral)?.nextUpdate.toISOString() ?? 'unknown';
  io.stderr(`wrote ${out.path}: TDX collateral, next update ${next} (not verified)\n`);
}

async function withOutput(path: string | undefined, run: (out: OutputFile | undefined) => Promise<void>): Promise<void> {
  const out = path === undefined ? undefined : await OutputFile.create(path);
  try {
    await run(out);
  } finally {
    await out?.discard();
  }
}

async function collateralFetch(argv: string[], io: CliIo, fetch: PcsFetch | undefined): Promise<number> {
  const command = 'collateral fetch';
  const line = subcommandLine(argv, FETCH_OPTIONS, COLLATERAL_FETCH_HELP, 'QUOTE file', command, io);
  if (line === undefined) return EXIT.ok;
  const { values, path } = line;
  const update = values.update ?? 'standard';
  if (!(PCS_UPDATE_TYPES as readonly string[]).includes(update)) throw usageError(`--update must be standard or early, got "${update}"`, command);
  const options = {
    ...(values['pcs-url'] === undefined ? {} : { baseUrl: values['pcs-url'] }),
    ...(values['root-ca-crl-url'] === undefined ? {} : { rootCaCrlUrl: values['root-ca-crl-url'] }),
    update: update as PcsUpdateType,
    ...(fetch === undefined ? {} : { fetch }),
  };
  const quote = quoteOf(await readInput(io, path, 'quote', MAX_INPUT_BYTES), path);
  await withOutput(values.out, async (out) => {
    await write(await fetchQuoteCollateral(quote, options), out, io);
  });
  return EXIT.ok;
}

/** The parsed quote in FILE; a ParseError says first that FILE is not a TDX quote or bundle. */
function quoteOf(bytes: Uint8Array, path: string): TdxQuote {
  try {
    return parseQuote(decodeTdxEvidence(bytes).quote);
  } catch (e) {
    if (!(e instanceof ParseError)) throw e;
    throw new ParseError(e.code, `${path} is not a TDX quote or TDX evidence bundle: ${e.message}`, { ...(e.field === undefined ? {} : { field: e.field }), ...(e.offset === undefined ? {} : { offset: e.offset }), cause: e });
  }
}

async function collateralConvert(argv: string[], io: CliIo): Promise<number> {
  const line = subcommandLine(argv, CONVERT_OPTIONS, COLLATERAL_CONVERT_HELP, 'FILE of PCS responses', 'collateral convert', io);
  if (line === undefined) return EXIT.ok;
  const { values, path } = line;
  const collateral = parseTdxCollateralFile(await readInput(io, path, 'collateral file', MAX_INPUT_BYTES));
  await withOutput(values.out, (out) => write(collateral, out, io));
  return EXIT.ok;
}

/** `fetch` replaces the global fetch (tests serve recorded PCS responses through it). */
export async function collateralCommand(argv: string[], io: CliIo, fetch?: PcsFetch): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h') {
    io.stdout(COLLATERAL_HELP);
    return sub === undefined ? EXIT.usage : EXIT.ok;
  }
  try {
    if (sub === 'fetch') return await collateralFetch(rest, io, fetch);
    if (sub === 'convert') return await collateralConvert(rest, io);
    throw usageError(`unknown collateral command "${sub}": fetch or convert`, 'collateral');
  } catch (e) {
    if (!(e instanceof CloisterError)) throw e;
    io.stderr(errorLine(e));
    return EXIT.usage;
  }
}
