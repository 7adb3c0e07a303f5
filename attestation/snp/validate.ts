// Validation of a verified SEV-SNP report against the caller's policy. Safe defaults: debug,
// migration agents, provisional firmware and reserved bits are rejected unless allowed; every
// other expectation left undefined is not checked (and the verdict says so).
import { bytesEqual, fromHex, toHex } from '../bytes.js';
import { CheckLog } from '../checks.js';
import { PolicyError } from '../errors.js';
import type { Product } from './product.js';
import type { FirmwareVersion, SnpReport } from './report.js';
import { decodeTcb, formatTcb, TCB_COMPONENTS, type TcbParts } from './tcb.js';

export interface SnpPolicy {
  readonly allowDebug?: boolean;
  readonly allowMigrationAgent?: boolean;
  readonly allowProvisionalFirmware?: boolean;
  /** Minimum SPL per component, applied to REPORTED_TCB, CURRENT_TCB and COMMITTED_TCB. */
  readonly minTcb?: Partial<TcbParts>;
  /** Minimum CURRENT_BUILD and COMMITTED_BUILD. */
  readonly minBuild?: number;
  /** Minimum firmware "major.minor" for current and committed versions. */
  readonly minVersion?: string;
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

function reject(code: ConstructorParameters<typeof PolicyError>[0], message: string, field: string, expected: string, actual: string): never {
  throw new PolicyError(code, message, { field, expected, actual });
}

function oneOf(log: CheckLog, id: string, code: ConstructorParameters<typeof PolicyError>[0], field: string, allowed: readonly string[] | undefined, actual: Uint8Array): void {
  if (allowed === undefined) {
    log.skip(id, 'no expectation set');
    return;
  }
  const ok = allowed.some((h) => bytesEqual(fromHex(h, field), actual));
  if (!ok) log.fail(id, new PolicyError(code, `${field.toLowerCase()} ${toHex(actual)} is not in the allowed list`, { field, expected: allowed.join('|'), actual: toHex(actual) }));
  log.pass(id);
}

function exact(log: CheckLog, id: string, code: ConstructorParameters<typeof PolicyError>[0], field: string, expected: string | undefined, actual: Uint8Array): void {
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
  check('policy.provisional-firmware', () => {
    if (policy.allowProvisionalFirmware === true) return;
    if (report.currentTcb !== report.committedTcb) {
      const cur = formatTcb(decodeTcb(report.currentTcb, product));
      const com = formatTcb(decodeTcb(report.committedTcb, product));
      reject('POLICY_PROVISIONAL_FIRMWARE', `current_tcb ${cur} differs from committed_tcb ${com}: provisional firmware`, 'CURRENT_TCB', com, cur);
    }
    const cur = report.currentVersion;
    const com = report.committedVersion;
    if (cur.major !== com.major || cur.minor !== com.minor || cur.build !== com.build) {
      reject('POLICY_PROVISIONAL_FIRMWARE', `current firmware ${fwString(cur)} differs from committed ${fwString(com)}: provisional firmware`, 'CURRENT_BUILD', fwString(com), fwString(cur));
    }
  });

  if (policy.minTcb === undefined) log.skip('policy.min-tcb', 'no expectation set');
  else {
    const min = policy.minTcb;
    check('policy.min-tcb', () => {
      for (const [field, raw] of [['REPORTED_TCB', report.reportedTcb], ['CURRENT_TCB', report.currentTcb], ['COMMITTED_TCB', report.committedTcb]] as const) {
        const tcb = decodeTcb(raw, product);
        for (const k of TCB_COMPONENTS) {
          const want = min[k];
          const have = tcb[k];
          // Components a product does not have (FMC before Turin) are not compared.
          if (want !== undefined && have !== undefined && have < want) {
            reject('POLICY_TCB_TOO_LOW', `${field.toLowerCase()} ${formatTcb(tcb)} is lower than minimum ${k}=${want}`, `${field}.${k}`, `>= ${want}`, String(have));
          }
        }
      }
    });
  }

  if (policy.minBuild === undefined && policy.minVersion === undefined) log.skip('policy.min-firmware', 'no expectation set');
  else {
    check('policy.min-firmware', () => {
      for (const [field, v] of [['CURRENT', report.currentVersion], ['COMMITTED', report.committedVersion]] as const) {
        if (policy.minBuild !== undefined && v.build < policy.minBuild) {
          reject('POLICY_FIRMWARE_TOO_OLD', `${field.toLowerCase()}_build ${v.build} is lower than minimum ${policy.minBuild}`, `${field}_BUILD`, `>= ${policy.minBuild}`, String(v.build));
        }
        if (policy.minVersion !== undefined) {
          const [maj, min] = policy.minVersion.split('.').map(Number) as [number, number];
          if (v.major < maj || (v.major === maj && v.minor < min)) {
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
