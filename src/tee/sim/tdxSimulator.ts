// The simulated Intel TDX quoting stack: byte-exact version 4 (or 5) quotes with the real layouts,
// signed by a per-simulator attestation key that a simulated Quoting Enclave report binds, that
// report signed by a development PCK key. The development chain is PCK-shaped (Root CA -> PCK
// Platform CA -> PCK certificate, ECDSA P-256 SHA-256) and every name in it says SIMULATED. Like the
// SEV-SNP development root (devChain.ts) it is created at first use in the state directory so that a
// verifier in another process can be told to trust it; nothing real ever chains to it, and every
// verifier rejects these quotes (UNTRUSTED_ROOT) unless told to trust that root.
//
// The development PCK certificate carries no Intel SGX extensions (FMSPC, TCB levels, PCE ID): no TCB
// info exists for a simulated platform, so collateral checks have nothing to match, and a verifier
// that requires those extensions rejects the certificate, as it should.
import 'reflect-metadata';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { concatBytes, decodePem, encodePem, fromHex, toArrayBufferView } from '../../../attestation/bytes.js';
import { CloisterError, ParseError } from '../../../attestation/errors.js';
import {
  ATTESTATION_KEY_TYPE_ECDSA_P256,
  INTEL_QE_VENDOR_ID,
  TD_BODY_TYPE,
  TEE_TYPE_TDX,
  decodeTdAttributes,
  quoteSignedBytes,
  serializeQeReport,
  serializeQuote,
  type QeReportFields,
  type TdxQuoteFields,
} from '../../../attestation/tdx/quote.js';
import { expectedQeReportData } from '../../../attestation/tdx/verify.js';
import { assertReportData, type EvidenceProvider, type EvidenceRequest, type RawEvidence } from '../provider.js';
import { defaultStateDir } from './devChain.js';

const subtle = globalThis.crypto.subtle;
const ECDSA_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;

/** Every name in the TDX development chain carries this organization, so no one mistakes it for Intel's. */
export const SIMULATED_TDX_ORGANIZATION = 'Cloister SIMULATED TEE development root (not Intel)';
const DN = `OU=Development, O=${SIMULATED_TDX_ORGANIZATION}`;
const ROOT_NAME = `CN=Cloister SIMULATED SGX Root CA, ${DN}`;
const CA_NAME = `CN=Cloister SIMULATED SGX PCK Platform CA, ${DN}`;
const PCK_NAME = `CN=Cloister SIMULATED SGX PCK Certificate, ${DN}`;

export interface TdxDevChain {
  /** DER certificates: the self-signed root, the PCK CA it issued, and the PCK certificate. */
  readonly root: Uint8Array;
  readonly pckCa: Uint8Array;
  readonly pck: Uint8Array;
  /** The PCK private key: signs QE reports. */
  readonly pckKey: CryptoKey;
}

/** Creates a fresh development chain in memory. */
export async function createTdxDevChain(): Promise<TdxDevChain> {
  const [rootKeys, caKeys, pckKeys] = await Promise.all([
    subtle.generateKey(ECDSA_P256, true, ['sign', 'verify']),
    subtle.generateKey(ECDSA_P256, true, ['sign', 'verify']),
    subtle.generateKey(ECDSA_P256, true, ['sign', 'verify']),
  ]);
  const common = { notBefore: new Date(Date.UTC(2025, 0, 1)), notAfter: new Date(Date.UTC(2050, 0, 1)), signingAlgorithm: SIGN };
  const caUsage = new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true);
  // Intel's shapes: the root allows one CA below it, the PCK CA none, the PCK certificate is not a CA.
  const root = await x509.X509CertificateGenerator.create({
    ...common,
    serialNumber: '01',
    subject: ROOT_NAME,
    issuer: ROOT_NAME,
    publicKey: rootKeys.publicKey,
    signingKey: rootKeys.privateKey,
    extensions: [new x509.BasicConstraintsExtension(true, 1, true), caUsage],
  });
  const pckCa = await x509.X509CertificateGenerator.create({
    ...common,
    serialNumber: '02',
    subject: CA_NAME,
    issuer: ROOT_NAME,
    publicKey: caKeys.publicKey,
    signingKey: rootKeys.privateKey,
    extensions: [new x509.BasicConstraintsExtension(true, 0, true), caUsage],
  });
  const pck = await x509.X509CertificateGenerator.create({
    ...common,
    serialNumber: '03',
    subject: PCK_NAME,
    issuer: CA_NAME,
    publicKey: pckKeys.publicKey,
    signingKey: caKeys.privateKey,
    extensions: [new x509.BasicConstraintsExtension(false, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation, true)],
  });
  return { root: new Uint8Array(root.rawData), pckCa: new Uint8Array(pckCa.rawData), pck: new Uint8Array(pck.rawData), pckKey: pckKeys.privateKey };
}

const chainDir = (dir: string): string => join(dir, 'dev-root', 'tdx');

/**
 * Loads the TDX development chain from `dir` (the state directory of devChain.ts), creating it at first
 * use. Only what is needed later is kept: the three certificates and the PCK key (mode 0600); the root
 * and PCK CA keys are dropped, nothing needs to issue under them again.
 */
export async function loadOrCreateTdxDevChain(dir: string): Promise<TdxDevChain> {
  const base = chainDir(dir);
  const pem = async (file: string): Promise<Uint8Array> => {
    const block = decodePem(await readFile(join(base, file), 'utf8'))[0];
    if (block === undefined) throw new ParseError('MALFORMED_DER', `${join(base, file)} holds no PEM block`, { field: file });
    return block.der;
  };
  try {
    const pckKey = await subtle.importKey('pkcs8', toArrayBufferView(await pem('pck.key.pem')), ECDSA_P256, false, ['sign']);
    return { root: await pem('root.pem'), pckCa: await pem('pck-ca.pem'), pck: await pem('pck.pem'), pckKey };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const chain = await createTdxDevChain();
  await mkdir(base, { recursive: true, mode: 0o700 });
  const key = encodePem('PRIVATE KEY', new Uint8Array(await subtle.exportKey('pkcs8', chain.pckKey)));
  await writeFile(join(base, 'pck.key.pem'), key, { mode: 0o600 });
  await chmod(join(base, 'pck.key.pem'), 0o600); // the mode above does not apply to a file that already existed
  await writeFile(join(base, 'pck.pem'), encodePem('CERTIFICATE', chain.pck));
  await writeFile(join(base, 'pck-ca.pem'), encodePem('CERTIFICATE', chain.pckCa));
  // The root last: readTdxDevRoot finds it only once the chain is complete.
  await writeFile(join(base, 'root.pem'), encodePem('CERTIFICATE', chain.root));
  return chain;
}

/** The TDX development root as stored in `dir`, for a verifier told to trust the simulated TEE. */
export async function readTdxDevRoot(dir: string): Promise<Uint8Array | undefined> {
  try {
    return decodePem(await readFile(join(chainDir(dir), 'root.pem'), 'utf8'))[0]?.der;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

export interface SimulatedTdxConfig {
  /** Quote version: 4 (TDX 1.0 body, the default) or 5 (TDX 1.5 body, 648 bytes). */
  readonly version?: 4 | 5;
  /** 48 bytes. Default: SHA-384("cloister simulated TD"). */
  readonly mrTd?: Uint8Array;
  /** RTMR0..RTMR3, 48 bytes each. Default: zeros. */
  readonly rtmrs?: readonly [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  /** TDATTRIBUTES. Default 0x10000000: SEPT_VE_DISABLE, not DEBUG (bit 0). */
  readonly tdAttributes?: bigint;
  /** XFAM. Default 0x61ae7, as on a Sapphire Rapids TD (x87, SSE, AVX, AVX-512, PKRU, AMX). */
  readonly xfam?: bigint;
  /** 48 bytes each. Default: zeros. */
  readonly mrConfigId?: Uint8Array;
  readonly mrOwner?: Uint8Array;
  readonly mrOwnerConfig?: Uint8Array;
  /** 16 bytes. Default: 03 00 04 00 .. 00. */
  readonly teeTcbSvn?: Uint8Array;
  /** 48 bytes. Default: SHA-384("cloister simulated TDX module"). */
  readonly mrSeam?: Uint8Array;
}

type Resolved = Required<SimulatedTdxConfig>;

function assertSize(value: Uint8Array, size: number, field: string): void {
  if (value.length !== size) {
    throw new CloisterError('MALFORMED_FIELD', `${field} must be ${size} bytes, got ${value.length}`, { field, expected: String(size), actual: String(value.length) });
  }
}

const sha = async (hash: 'SHA-256' | 'SHA-384', text: string): Promise<Uint8Array> => new Uint8Array(await subtle.digest(hash, new TextEncoder().encode(text)));

/** The simulated QE's authentication data: 32 bytes 00..1f, what Intel's quote generation library sends. */
const QE_AUTH_DATA = Uint8Array.from({ length: 32 }, (_, i) => i);

export class SimulatedTdx {
  readonly chain: TdxDevChain;
  readonly #config: Resolved;
  readonly #attestationKey: CryptoKey;
  /** The fixed part of every quote: everything but the body's REPORTDATA and the quote signature. */
  readonly #template: TdxQuoteFields;

  private constructor(chain: TdxDevChain, config: Resolved, attestationKey: CryptoKey, template: TdxQuoteFields) {
    this.chain = chain;
    this.#config = config;
    this.#attestationKey = attestationKey;
    this.#template = template;
  }

  /** Loads (or creates at first use) the development chain in `stateDir`, or uses the `chain` given. */
  static async create(config: SimulatedTdxConfig = {}, where: { stateDir?: string; chain?: TdxDevChain } = {}): Promise<SimulatedTdx> {
    const zeros48 = new Uint8Array(48);
    const resolved: Resolved = {
      version: config.version ?? 4,
      mrTd: config.mrTd ?? (await sha('SHA-384', 'cloister simulated TD')),
      rtmrs: config.rtmrs ?? [zeros48, zeros48, zeros48, zeros48],
      tdAttributes: config.tdAttributes ?? 0x10000000n,
      xfam: config.xfam ?? 0x61ae7n,
      mrConfigId: config.mrConfigId ?? zeros48,
      mrOwner: config.mrOwner ?? zeros48,
      mrOwnerConfig: config.mrOwnerConfig ?? zeros48,
      teeTcbSvn: config.teeTcbSvn ?? fromHex('03000400000000000000000000000000'),
      mrSeam: config.mrSeam ?? (await sha('SHA-384', 'cloister simulated TDX module')),
    };
    const rtmrCount = (resolved.rtmrs as readonly Uint8Array[]).length; // the tuple type does not bind JavaScript callers
    if (rtmrCount !== 4) throw new CloisterError('MALFORMED_FIELD', `rtmrs must hold 4 registers, got ${rtmrCount}`, { field: 'rtmrs', expected: '4', actual: String(rtmrCount) });
    const sized: [string, Uint8Array, number][] = [
      ['mrTd', resolved.mrTd, 48],
      ['mrConfigId', resolved.mrConfigId, 48],
      ['mrOwner', resolved.mrOwner, 48],
      ['mrOwnerConfig', resolved.mrOwnerConfig, 48],
      ['teeTcbSvn', resolved.teeTcbSvn, 16],
      ['mrSeam', resolved.mrSeam, 48],
      ...resolved.rtmrs.map((r, i): [string, Uint8Array, number] => [`rtmrs[${i}]`, r, 48]),
    ];
    for (const [field, value, size] of sized) assertSize(value, size, field);
    const u64 = (v: bigint, field: string): void => {
      if (v < 0n || v > 0xffffffffffffffffn) throw new CloisterError('MALFORMED_FIELD', `${field} must fit in 64 bits`, { field, actual: v.toString(16) });
    };
    u64(resolved.tdAttributes, 'tdAttributes');
    u64(resolved.xfam, 'xfam');

    const chain = where.chain ?? (await loadOrCreateTdxDevChain(where.stateDir ?? defaultStateDir()));
    const keys = await subtle.generateKey(ECDSA_P256, true, ['sign', 'verify']);
    // The raw export is the uncompressed point 04||x||y; the quote stores x||y.
    const attestationKey = new Uint8Array(await subtle.exportKey('raw', keys.publicKey)).subarray(1);
    const qeReport: QeReportFields = {
      cpuSvn: fromHex('0404030d0f03ff000300000000000000'),
      miscSelect: 0,
      isvExtProdId: new Uint8Array(16),
      attributes: fromHex('1500000000000000e700000000000000'),
      mrEnclave: await sha('SHA-256', 'cloister simulated quoting enclave'),
      mrSigner: await sha('SHA-256', 'cloister simulated quoting enclave signer'),
      configId: new Uint8Array(64),
      isvProdId: 2, // Intel's TDX QE product ID
      isvSvn: 1,
      configSvn: 0,
      isvFamilyId: new Uint8Array(16),
      reportData: await expectedQeReportData(attestationKey, QE_AUTH_DATA),
    };
    const qeReportSignature = new Uint8Array(await subtle.sign(SIGN, chain.pckKey, toArrayBufferView(serializeQeReport(qeReport))));
    const pem = [chain.pck, chain.pckCa, chain.root].map((d) => encodePem('CERTIFICATE', d)).join('');
    const tdx15 = resolved.version === 5;
    const template: TdxQuoteFields = {
      header: {
        version: resolved.version,
        attestationKeyType: ATTESTATION_KEY_TYPE_ECDSA_P256,
        teeType: TEE_TYPE_TDX,
        // Intel's QE vendor ID, as the quote generation library writes it: trust rests on the root, not on this ID.
        qeVendorId: fromHex(INTEL_QE_VENDOR_ID),
        // The first 16 bytes identify the platform (the QE ID); random per simulator.
        userData: concatBytes(globalThis.crypto.getRandomValues(new Uint8Array(16)), new Uint8Array(4)),
      },
      body: {
        bodyType: tdx15 ? TD_BODY_TYPE.tdx15 : TD_BODY_TYPE.tdx10,
        teeTcbSvn: resolved.teeTcbSvn,
        mrSeam: resolved.mrSeam,
        mrSignerSeam: new Uint8Array(48), // zero for Intel's TDX module
        seamAttributes: 0n,
        tdAttributes: decodeTdAttributes(resolved.tdAttributes),
        xfam: resolved.xfam,
        mrTd: resolved.mrTd,
        mrConfigId: resolved.mrConfigId,
        mrOwner: resolved.mrOwner,
        mrOwnerConfig: resolved.mrOwnerConfig,
        rtmrs: resolved.rtmrs,
        reportData: new Uint8Array(64),
        teeTcbSvn2: tdx15 ? resolved.teeTcbSvn : undefined,
        mrServiceTd: tdx15 ? new Uint8Array(48) : undefined,
      },
      signature: new Uint8Array(64),
      attestationKey,
      qeReport,
      qeReportSignature,
      qeAuthData: QE_AUTH_DATA,
      // Newer quote generation libraries end the PEM chain with a NUL, as a C string.
      pckCertChain: concatBytes(new TextEncoder().encode(pem), new Uint8Array(1)),
      paddingSize: 0,
    };
    return new SimulatedTdx(chain, resolved, keys.privateKey, template);
  }

  get version(): 4 | 5 {
    return this.#config.version;
  }

  /** A signed quote binding `reportData` (64 bytes) into REPORTDATA, as configfs-tsm returns it. */
  async quote(reportData: Uint8Array): Promise<Uint8Array> {
    assertReportData(reportData);
    const unsigned: TdxQuoteFields = { ...this.#template, body: { ...this.#template.body, reportData: reportData.slice() } };
    const signature = new Uint8Array(await subtle.sign(SIGN, this.#attestationKey, toArrayBufferView(quoteSignedBytes(unsigned))));
    return serializeQuote({ ...unsigned, signature });
  }
}

/** The simulated TDX TEE in-process, as an EvidenceProvider. */
export class SimulatedTdxProvider implements EvidenceProvider {
  readonly name = 'simulated-tdx';
  readonly platform = 'tdx' as const;
  readonly simulated = true;
  readonly #sim: SimulatedTdx;

  constructor(sim: SimulatedTdx) {
    this.#sim = sim;
  }

  async getEvidence(request: EvidenceRequest): Promise<RawEvidence> {
    // A TD has no privilege levels to choose from (configfs-tsm's privlevel is for SEV-SNP VMPLs).
    if (request.privilegeLevel !== undefined && request.privilegeLevel !== 0) {
      throw new CloisterError('MALFORMED_FIELD', `TDX has no privilege levels: privilegeLevel must be 0, got ${request.privilegeLevel}`, {
        field: 'privilegeLevel',
        expected: '0',
        actual: String(request.privilegeLevel),
      });
    }
    const evidence = await this.#sim.quote(request.reportData);
    return { platform: 'tdx', evidence, source: 'simulated', simulated: true };
  }
}
