// Validation of a verified SEV-SNP report against the caller's policy (the options of go-sev-guest's
// validate.Options, named our way). Safe defaults: debug, migration agents, provisional firmware (a
// CURRENT_TCB or REPORTED_TCB above COMMITTED_TCB) and reserved bits are rejected unless allowed; every
// other expectation left undefined is not checked (and the verdict says so). Bits: SEV-SNP Firmware ABI
// rev. 1.58, guest policy Table 9, PLATFORM_INFO Table 24 (fields.ts).
import { bytesEqual, fromHex, toHex } from '../bytes.js';
import { CheckLog } from '../checks.js';
import { PolicyError } from '../errors.js';
import type { Product } from './product.js';
import type { FirmwareVersion, SnpReport } from './report.js';
import { componentsAbove, decodeTcb, formatTcb, type TcbParts } from './tcb.js';

export interface SnpPolicy {
  readonly allowDebug?: boolean;
  readonly allowMigrationAgent?: boolean;
  readonly allowProvisionalFirmware?: boolean;
  /** Minimum SPL per component, applied to REPORTED_TCB, CURRENT_TCB and COMMITTED_TCB. */
  readonly minTcb?: Partial<TcbParts>;
  /** Minimum SPL per component of LAUNCH_TCB, the CURRENT_TCB when the guest was launched. */
  readonly minLaunchTcb?: Partial<TcbParts>;
  /** Minimum CURRENT_BUILD and COMMITTED_BUILD. */
  readonly minBuild?: number;
  /** Minimum firmware ABI "major.minor" for CURRENT_MAJOR.CURRENT_MINOR and COMMITTED_MAJOR.COMMITTED_MINOR. */
  readonly minVersion?: string;
  /** POLICY.SMT = 0 (the firmware launches the guest only with SMT off) and PLATFORM_INFO.SMT_EN = 0. */
  readonly requireSmtDisabled?: boolean;
  /** PLATFORM_INFO.TSME_EN = 1: transparent SME encrypts all of the host's memory. */
  readonly requireTsme?: boolean;
  /** POLICY.CIPHERTEXT_HIDING_DRAM = 1 (the guest demanded it at launch) and PLATFORM_INFO.CIPHERTEXT_HIDING_DRAM_EN = 1. */
  readonly requireCiphertextHiding?: boolean;
  readonly minGuestSvn?: number;
  readonly vmpl?: number;
  /** Hex MEASUREMENT values (48 bytes) of which the report must match one. */
  readonly measurements?: readonly string[];
  readonly hostData?: string;
  readonly reportData?: string;
  readonly idKeyDigests?: readonly string[];
  readonly authorKeyDigests?: readonly string[];
  readonly signingKeys?: readonly ('vcek' | 'vlek')[];
  readonly chipIds?: readonly string[];
  /** CSP identities (the VLEK's cspId extension, e.g. "CN=cc-us-east-2.amazonaws.com") of which a VLEK must name one. */
  readonly cspIds?: readonly string[];
  /** Verification, not validation: require a CRL from the chain's root. */
  readonly requireCrl?: boolean;
}

type Code = ConstructorParameters<typeof PolicyError>[0];

function reject(code: Code, message: string, field: string, expected: string, actual: string): never {
  throw new PolicyError(code, message, { field, expected, actual });
}

function oneOf(log: CheckLog, id: string, code: Code, field: string, allowed: readonly string[] | undefined, actual: Uint8Array): void {
  if (allowed === undefined) {
    log.skip(id, 'no expectation set');
    return;
  }
  const ok = allowed.some((h) => bytesEqual(fromHex(h, field), actual));
  if (!ok) log.fail(id, new PolicyError(code, `${field.toLowerCase()} ${toHex(actual)} is not in the allowed list`, { field, expected: allowed.join('|'), actual: toHex(actual) }));
  log.pass(id);
}

function exact(log: CheckLog, id: string, code: Code, field: string, expected: string | undefined, actual: Uint8Array): void {
  if (expected === undefined) {
    log.skip(id, 'no expectation set');
    return;
  }
  if (!bytesEqual(fromHex(expected, field), actual)) {
    log.fail(id, new PolicyError(code, `${field.toLowerCase()} ${toHex(actual)} differs from the expected ${expected.toLowerCase()}`, { field, expected: expected.toLowerCase(), actual: toHex(actual) }));
  }
  log.pass(id);
}

const fwString = (v: FirmwareVersion): string => `${v.major}.${v.minor} build ${v.build}`;

/** Negative, zero or positive as `a` is older than, equal to or newer than `b` (major, minor, then build). */
const compareFirmware = (a: FirmwareVersion, b: FirmwareVersion): number => a.major - b.major || a.minor - b.minor || a.build - b.build;

/** How a POLICY_PROVISIONAL_FIRMWARE message says what accepts it: the CLI flag and the policy field. */
export const ALLOW_PROVISIONAL = 'accept it with --allow-provisional-tcb or "allowProvisionalFirmware": true in the policy';

/** A feature the policy requires: each [field, holds, what is wrong, expected bit] must hold. */
function required(log: CheckLog, id: string, wanted: boolean | undefined, skipped: string, bits: readonly (readonly [string, boolean, string, '0' | '1'])[]): void {
  if (wanted !== true) {
    log.skip(id, skipped);
    return;
  }
  for (const [field, holds, what, expected] of bits) {
    if (!holds) log.fail(id, new PolicyError('POLICY_PLATFORM_FEATURE', `${what}, and the policy requires ${field} = ${expected}`, { field, expected, actual: expected === '1' ? '0' : '1' }));
  }
  log.pass(id);
}

/** Every given component, where the product has it, of each TCB at least the minimum. */
function minimumTcb(log: CheckLog, id: string, min: Partial<TcbParts> | undefined, product: Product, tcbs: readonly (readonly [string, bigint])[]): void {
  if (min === undefined) {
    log.skip(id, 'no expectation set');
    return;
  }
  for (const [field, raw] of tcbs) {
    const tcb = decodeTcb(raw, product);
    const k = componentsAbove(min, tcb)[0];
    if (k !== undefined) {
      const want = String(min[k]);
      log.fail(id, new PolicyError('POLICY_TCB_TOO_LOW', `${field.toLowerCase()} ${formatTcb(tcb)} is lower than minimum ${k}=${want}`, { field: `${field}.${k}`, expected: `>= ${want}`, actual: String(tcb[k]) }));
    }
  }
  log.pass(id);
}

/** What verification established about the signer, which some checks depend on. */
export interface VerifiedSigner {
  readonly product: Product;
  /** The VLEK's CSP identity; undefined for VCEK-signed reports. */
  readonly cspId?: string | undefined;
}

export function validateSnpReport(report: SnpReport, signer: VerifiedSigner, policy: SnpPolicy, log = new CheckLog()): void {
  const product = signer.product;
  const check = (id: string, fn: () => void): void => {
    try {
      fn();
    } catch (e) {
      if (e instanceof PolicyError) log.fail(id, e);
      throw e;
    }
    log.pass(id);
  };

  check('policy.reserved-bits', () => {
    const p = report.policy;
    if (!p.reservedOne) reject('POLICY_RESERVED_BITS', 'guest policy bit 17 (reserved, must be one) is zero', 'POLICY', 'bit 17 set', `0x${p.raw.toString(16)}`);
    if (p.reservedBits !== 0n) reject('POLICY_RESERVED_BITS', `guest policy has reserved bits set: 0x${p.reservedBits.toString(16)}`, 'POLICY', 'bits 26..63 zero', `0x${p.raw.toString(16)}`);
    if (report.platformInfo.reservedBits !== 0n) {
      reject('POLICY_RESERVED_BITS', `platform_info has reserved bits set: 0x${report.platformInfo.reservedBits.toString(16)}`, 'PLATFORM_INFO', 'reserved bits zero', `0x${report.platformInfo.raw.toString(16)}`);
    }
    if (report.keyInfo.reservedBits !== 0 || report.keyInfo.signingKey === 'reserved') {
      reject('POLICY_RESERVED_BITS', `key info word at 0x48 has reserved values: 0x${report.keyInfo.raw.toString(16)}`, 'SIGNING_KEY', 'bits 5..31 zero, SIGNING_KEY 0|1|7', `0x${report.keyInfo.raw.toString(16)}`);
    }
  });
  check('policy.debug', () => {
    if (report.policy.debug && policy.allowDebug !== true) reject('POLICY_DEBUG', 'guest policy allows debugging (POLICY.DEBUG = 1)', 'POLICY.DEBUG', '0', '1');
  });
  check('policy.migration-agent', () => {
    if (report.policy.migrateMa && policy.allowMigrationAgent !== true) {
      reject('POLICY_MIGRATION_AGENT', 'guest policy allows a migration agent (POLICY.MIGRATE_MA = 1)', 'POLICY.MIGRATE_MA', '0', '1');
    }
  });
  required(log, 'policy.smt', policy.requireSmtDisabled, 'SMT allowed', [
    ['POLICY.SMT', !report.policy.smt, 'guest policy allows SMT (POLICY.SMT = 1)', '0'],
    ['PLATFORM_INFO.SMT_EN', !report.platformInfo.smtEnabled, 'the platform runs with SMT enabled (PLATFORM_INFO.SMT_EN = 1)', '0'],
  ]);
  required(log, 'policy.tsme', policy.requireTsme, 'TSME not required', [
    ['PLATFORM_INFO.TSME_EN', report.platformInfo.tsmeEnabled, 'the platform runs without TSME (PLATFORM_INFO.TSME_EN = 0)', '1'],
  ]);
  required(log, 'policy.ciphertext-hiding', policy.requireCiphertextHiding, 'ciphertext hiding not required', [
    ['POLICY.CIPHERTEXT_HIDING_DRAM', report.policy.ciphertextHiding, 'guest policy does not demand ciphertext hiding (POLICY.CIPHERTEXT_HIDING_DRAM = 0)', '1'],
    ['PLATFORM_INFO.CIPHERTEXT_HIDING_DRAM_EN', report.platformInfo.ciphertextHidingEnabled, 'the platform runs without ciphertext hiding (PLATFORM_INFO.CIPHERTEXT_HIDING_DRAM_EN = 0)', '1'],
  ]);
  check('policy.provisional-firmware', () => {
    const cur = decodeTcb(report.currentTcb, product);
    const com = decodeTcb(report.committedTcb, product);
    const both = `current_tcb ${formatTcb(cur)}, committed_tcb ${formatTcb(com)}`;
    const curFw = report.currentVersion;
    const comFw = report.committedVersion;
    if (policy.allowProvisionalFirmware === true) {
      // Provisional firmware runs above the committed TCB, never below it: firmware commits only what it runs.
      const above = componentsAbove(com, cur);
      if (above.length > 0) {
        reject('POLICY_PROVISIONAL_FIRMWARE', `committed_tcb ${formatTcb(com)} is above current_tcb ${formatTcb(cur)} in ${above.join(', ')}: firmware commits only what it runs; no option accepts this`, 'COMMITTED_TCB', `<= ${formatTcb(cur)}`, formatTcb(com));
      }
      if (compareFirmware(comFw, curFw) > 0) {
        reject('POLICY_PROVISIONAL_FIRMWARE', `committed firmware ${fwString(comFw)} is above current ${fwString(curFw)} (${both}): firmware commits only what it runs; no option accepts this`, 'COMMITTED_BUILD', `<= ${fwString(curFw)}`, fwString(comFw));
      }
      return;
    }
    if (report.currentTcb !== report.committedTcb) {
      // Equal components with different raw values differ in reserved bytes: show those too.
      const raw = formatTcb(cur) === formatTcb(com) ? ` (raw 0x${report.currentTcb.toString(16)} vs 0x${report.committedTcb.toString(16)})` : '';
      reject('POLICY_PROVISIONAL_FIRMWARE', `current_tcb ${formatTcb(cur)} differs from committed_tcb ${formatTcb(com)}${raw}: provisional firmware (e.g. a late-loaded microcode); ${ALLOW_PROVISIONAL}`, 'CURRENT_TCB', formatTcb(com), formatTcb(cur));
    }
    if (compareFirmware(curFw, comFw) !== 0) {
      reject('POLICY_PROVISIONAL_FIRMWARE', `current firmware ${fwString(curFw)} differs from committed ${fwString(comFw)} (${both}): provisional firmware; ${ALLOW_PROVISIONAL}`, 'CURRENT_BUILD', fwString(comFw), fwString(curFw));
    }
  });
  check('policy.reported-tcb', () => {
    const rep = decodeTcb(report.reportedTcb, product);
    const cur = decodeTcb(report.currentTcb, product);
    const com = decodeTcb(report.committedTcb, product);
    const allowed = policy.allowProvisionalFirmware === true;
    // By default the attested TCB must be one the platform cannot roll back from; provisional firmware lifts the bound to CURRENT_TCB, which firmware itself enforces.
    const [limitField, limit] = allowed ? (['current_tcb', cur] as const) : (['committed_tcb', com] as const);
    const above = componentsAbove(rep, limit);
    const k = above[0];
    if (k === undefined) return;
    const how = allowed
      ? `firmware reports no TCB above the one it runs (committed_tcb ${formatTcb(com)}); no option accepts this`
      : `the attested TCB rests on provisional firmware (current_tcb ${formatTcb(cur)}); ${ALLOW_PROVISIONAL}`;
    reject('POLICY_PROVISIONAL_FIRMWARE', `reported_tcb ${formatTcb(rep)} is above ${limitField} ${formatTcb(limit)} in ${above.join(', ')}: ${how}`, `REPORTED_TCB.${k}`, `<= ${String(limit[k])}`, String(rep[k]));
  });

  minimumTcb(log, 'policy.min-tcb', policy.minTcb, product, [['REPORTED_TCB', report.reportedTcb], ['CURRENT_TCB', report.currentTcb], ['COMMITTED_TCB', report.committedTcb]]);
  minimumTcb(log, 'policy.min-launch-tcb', policy.minLaunchTcb, product, [['LAUNCH_TCB', report.launchTcb]]);

  if (policy.minBuild === undefined && policy.minVersion === undefined) log.skip('policy.min-firmware', 'no expectation set');
  else {
    check('policy.min-firmware', () => {
      for (const [field, v] of [['CURRENT', report.currentVersion], ['COMMITTED', report.committedVersion]] as const) {
        if (policy.minBuild !== undefined && v.build < policy.minBuild) {
          reject('POLICY_FIRMWARE_TOO_OLD', `${field.toLowerCase()}_build ${v.build} is lower than minimum ${policy.minBuild}`, `${field}_BUILD`, `>= ${policy.minBuild}`, String(v.build));
        }
        if (policy.minVersion !== undefined) {
          const [major, minor] = policy.minVersion.split('.').map(Number) as [number, number];
          if (compareFirmware(v, { major, minor, build: v.build }) < 0) {
            reject('POLICY_FIRMWARE_TOO_OLD', `${field.toLowerCase()} firmware ${v.major}.${v.minor} is lower than minimum ${policy.minVersion}`, `${field}_MAJOR.MINOR`, `>= ${policy.minVersion}`, `${v.major}.${v.minor}`);
          }
        }
      }
    });
  }

  if (policy.minGuestSvn === undefined) log.skip('policy.min-guest-svn', 'no expectation set');
  else {
    const min = policy.minGuestSvn;
    check('policy.min-guest-svn', () => {
      if (report.guestSvn < min) reject('POLICY_GUEST_SVN_TOO_LOW', `guest_svn ${report.guestSvn} is lower than minimum ${min}`, 'GUEST_SVN', `>= ${min}`, String(report.guestSvn));
    });
  }

  if (policy.vmpl === undefined) log.skip('policy.vmpl', 'no expectation set');
  else {
    const want = policy.vmpl;
    check('policy.vmpl', () => {
      if (report.vmpl !== want) reject('POLICY_VMPL', `vmpl ${report.vmpl} differs from the expected ${want}`, 'VMPL', String(want), String(report.vmpl));
    });
  }

  oneOf(log, 'policy.measurement', 'POLICY_MEASUREMENT', 'MEASUREMENT', policy.measurements, report.measurement);
  exact(log, 'policy.host-data', 'POLICY_HOST_DATA', 'HOST_DATA', policy.hostData, report.hostData);
  exact(log, 'policy.report-data', 'POLICY_REPORT_DATA', 'REPORT_DATA', policy.reportData, report.reportData);
  oneOf(log, 'policy.id-key', 'POLICY_ID_KEY', 'ID_KEY_DIGEST', policy.idKeyDigests, report.idKeyDigest);
  if (policy.authorKeyDigests !== undefined && !report.keyInfo.authorKeyEn) {
    log.fail('policy.author-key', new PolicyError('POLICY_AUTHOR_KEY', 'policy requires an author key but AUTHOR_KEY_EN is 0', { field: 'AUTHOR_KEY_EN', expected: '1', actual: '0' }));
  }
  oneOf(log, 'policy.author-key', 'POLICY_AUTHOR_KEY', 'AUTHOR_KEY_DIGEST', policy.authorKeyDigests, report.authorKeyDigest);

  if (policy.signingKeys === undefined) log.skip('policy.signing-key', 'VCEK and VLEK both allowed');
  else {
    const allowed = policy.signingKeys;
    check('policy.signing-key', () => {
      const kind = report.keyInfo.signingKey;
      if (!(allowed as readonly string[]).includes(kind)) reject('POLICY_SIGNING_KEY', `report is signed by the ${kind.toUpperCase()}, policy allows ${allowed.join('|')}`, 'SIGNING_KEY', allowed.join('|'), kind);
    });
  }
  oneOf(log, 'policy.chip-id', 'POLICY_CHIP_ID', 'CHIP_ID', policy.chipIds, report.chipId);

  if (policy.cspIds === undefined) log.skip('policy.csp-id', 'no expectation set');
  else {
    const allowed = policy.cspIds;
    check('policy.csp-id', () => {
      const actual = signer.cspId ?? '(VCEK-signed: no CSP identity)';
      if (!allowed.includes(actual)) reject('POLICY_CSP_ID', `csp_id "${actual}" is not in the allowed list`, 'cspId', allowed.join('|'), actual);
    });
  }
}
