// The simulated SEV-SNP firmware: byte-exact ATTESTATION_REPORTs (version 3 or 5) signed by the
// development VCEK, and the certificate table an extended report carries. For development and
// CI only: every verifier rejects it unless told to trust the development root.
import { SIGNED_SIZE, serializeReport } from '../../../attestation/snp/report.js';
import { CERT_GUID, serializeCertTable } from '../../../attestation/snp/certTable.js';
import { decodeGuestPolicy, decodeKeyInfo, decodePlatformInfo } from '../../../attestation/snp/fields.js';
import type { Product } from '../../../attestation/snp/product.js';
import { encodeTcb, type TcbParts } from '../../../attestation/snp/tcb.js';
import { toArrayBufferView } from '../../../attestation/bytes.js';
import { assertReportData, type EvidenceProvider, type EvidenceRequest, type RawEvidence } from '../provider.js';
import { defaultStateDir, loadOrCreateDevChain, type DevChain } from './devChain.js';
import { simulatedMeasurement } from './simulatedMeasurements.js';

export interface SimulatedSnpConfig {
  readonly product?: Product;
  readonly version?: 3 | 5;
  /** 48 bytes. Default: SHA-384("cloister simulated launch"). */
  readonly measurement?: Uint8Array;
  /** Guest policy. Default 0x30000: SMT allowed, reserved bit 17, no debug, no migration agent. */
  readonly policy?: bigint;
  readonly tcb?: TcbParts;
  readonly hostData?: Uint8Array;
  readonly guestSvn?: number;
  readonly familyId?: Uint8Array;
  readonly imageId?: Uint8Array;
  readonly idKeyDigest?: Uint8Array;
}

const CPUID: Readonly<Record<Product, { family: number; model: number; stepping: number }>> = {
  Milan: { family: 0x19, model: 0x01, stepping: 0x01 },
  Genoa: { family: 0x19, model: 0x11, stepping: 0x01 },
  Turin: { family: 0x1a, model: 0x02, stepping: 0x01 },
};

const DEFAULT_TCB: Readonly<Record<Product, TcbParts>> = {
  Milan: { bootloader: 4, tee: 0, snp: 24, microcode: 219 },
  Genoa: { bootloader: 10, tee: 0, snp: 23, microcode: 84 },
  Turin: { fmc: 1, bootloader: 1, tee: 1, snp: 4, microcode: 81 },
};

export class SimulatedSnp {
  readonly chain: DevChain;
  readonly #config: Required<Omit<SimulatedSnpConfig, 'tcb'>>;
  readonly #reportId = globalThis.crypto.getRandomValues(new Uint8Array(32));

  private constructor(chain: DevChain, config: Required<Omit<SimulatedSnpConfig, 'tcb'>>) {
    this.chain = chain;
    this.#config = config;
  }

  /** Loads (or creates at first use) the development chain in `stateDir`, or uses the `chain` given. */
  static async create(config: SimulatedSnpConfig = {}, where: { stateDir?: string; chain?: DevChain; rsaBits?: number } = {}): Promise<SimulatedSnp> {
    const product = config.product ?? 'Milan';
    const tcb = config.tcb ?? DEFAULT_TCB[product];
    const hwId = globalThis.crypto.getRandomValues(new Uint8Array(product === 'Turin' ? 8 : 64));
    const chain = where.chain ?? (await loadOrCreateDevChain(where.stateDir ?? defaultStateDir(), { product, tcb, hwId }, where.rsaBits));
    const measurement = config.measurement ?? (await simulatedMeasurement('sev-snp'));
    return new SimulatedSnp(chain, {
      product: chain.product,
      version: config.version ?? 3,
      measurement,
      policy: config.policy ?? 0x30000n,
      hostData: config.hostData ?? new Uint8Array(32),
      guestSvn: config.guestSvn ?? 0,
      familyId: config.familyId ?? new Uint8Array(16),
      imageId: config.imageId ?? new Uint8Array(16),
      idKeyDigest: config.idKeyDigest ?? new Uint8Array(48),
    });
  }

  get product(): Product {
    return this.chain.product;
  }

  /** A signed report binding `reportData` (64 bytes) at `vmpl`, as SNP_GET_REPORT returns it. */
  async report(reportData: Uint8Array, vmpl = 0): Promise<Uint8Array> {
    assertReportData(reportData);
    const c = this.#config;
    const tcb = encodeTcb(this.chain.tcb, this.chain.product);
    const chipId = new Uint8Array(64);
    chipId.set(this.chain.hwId);
    const firmware = { major: 1, minor: 58, build: 3 };
    const bytes = serializeReport({
      version: c.version,
      guestSvn: c.guestSvn,
      policy: decodeGuestPolicy(c.policy),
      familyId: c.familyId,
      imageId: c.imageId,
      vmpl,
      signatureAlgo: 1,
      currentTcb: tcb,
      platformInfo: decodePlatformInfo(this.chain.product === 'Turin' ? 0x65n : 0x25n),
      keyInfo: decodeKeyInfo(0),
      reportData,
      measurement: c.measurement,
      hostData: c.hostData,
      idKeyDigest: c.idKeyDigest,
      authorKeyDigest: new Uint8Array(48),
      reportId: this.#reportId,
      reportIdMa: new Uint8Array(32).fill(0xff),
      reportedTcb: tcb,
      cpuid: CPUID[this.chain.product],
      chipId,
      committedTcb: tcb,
      currentVersion: firmware,
      committedVersion: firmware,
      launchTcb: tcb,
      launchMitVector: c.version >= 5 ? 0n : undefined,
      currentMitVector: c.version >= 5 ? 0n : undefined,
      signatureR: new Uint8Array(72),
      signatureS: new Uint8Array(72),
    });
    const sig = new Uint8Array(await globalThis.crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-384' }, this.chain.vcekKey, toArrayBufferView(bytes.subarray(0, SIGNED_SIZE))));
    // The firmware stores r and s little-endian in 72-byte fields.
    for (let i = 0; i < 48; i++) {
      bytes[0x2a0 + i] = sig[47 - i] as number;
      bytes[0x2e8 + i] = sig[95 - i] as number;
    }
    return bytes;
  }

  /** The certificate table of an extended report / configfs-tsm auxblob: VCEK, ASK, ARK. */
  certTable(): Uint8Array {
    return serializeCertTable([
      { guid: CERT_GUID.vcek, data: this.chain.vcek },
      { guid: CERT_GUID.ask, data: this.chain.ask },
      { guid: CERT_GUID.ark, data: this.chain.ark },
    ]);
  }
}

/** The simulated TEE in-process, as an EvidenceProvider. */
export class SimulatedSnpProvider implements EvidenceProvider {
  readonly name = 'simulated-sev-snp';
  readonly platform = 'sev-snp' as const;
  readonly simulated = true;
  readonly #sim: SimulatedSnp;

  constructor(sim: SimulatedSnp) {
    this.#sim = sim;
  }

  async getEvidence(request: EvidenceRequest): Promise<RawEvidence> {
    const evidence = await this.#sim.report(request.reportData, request.privilegeLevel ?? 0);
    return { platform: 'sev-snp', evidence, certTable: this.#sim.certTable(), source: 'simulated', simulated: true };
  }
}
