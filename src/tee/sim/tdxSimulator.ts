// The simulated Intel TDX quoting stack: byte-exact version 4 (or 5) quotes with the real layouts,
// signed by a per-simulator attestation key that a simulated Quoting Enclave report binds, that
// report signed by a development PCK key. The development chain (tdxDevChain.ts) is PCK-shaped (Root
// CA -> PCK Platform CA -> PCK certificate with Intel SGX extensions, ECDSA P-256 SHA-256) and every
// name in it says SIMULATED; every verifier rejects these quotes (UNTRUSTED_ROOT) unless told to trust
// its root. The QE report's CPUSVN is the one the PCK certificate certifies, as on a real platform, and
// simulatedCollateral.ts issues TCB info and QE identity that match these quotes.
import { concatBytes, encodePem, fromHex, toArrayBufferView } from '../../../attestation/bytes.js';
import { CloisterError } from '../../../attestation/errors.js';
import { parsePckExtensions } from '../../../attestation/tdx/pckExtensions.js';
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
import { parseCertificate } from '../../../attestation/x509.js';
import { assertReportData, type EvidenceProvider, type EvidenceRequest, type RawEvidence } from '../provider.js';
import { defaultStateDir } from './devChain.js';
import { loadOrCreateTdxDevChain, TDX_DEV_SIGNING as SIGN, type TdxDevChain } from './tdxDevChain.js';
import { simulatedMeasurement } from './simulatedMeasurements.js';

const subtle = globalThis.crypto.subtle;
const ECDSA_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;

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
      mrTd: config.mrTd ?? (await simulatedMeasurement('tdx')),
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
      cpuSvn: parsePckExtensions(parseCertificate(chain.pck)).cpuSvn,
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
