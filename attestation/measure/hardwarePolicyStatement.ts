// The hardware acceptance policy as its own signed, versioned statement in the transparency log (issue 18,
// docs/transparency.md "Hardware policy"), separate from image measurements: which platforms' TCBs a client accepts.
//
//   { "_type": "https://in-toto.io/Statement/v1",
//     "subject": [ { "name": "hardware-policy.json", "digest": { "sha256": <SHA-256 of the predicate's JSON text> } } ],
//     "predicateType": "https://cloister.dev/attestation/hardware-policy/v1",
//     "predicate": { "schema": "cloister-hardware-policy/v1", "version": 3,
//                    "sev-snp": { "minTcb": { "Milan": { "bootloader": 4, "tee": 0, "snp": 24, "microcode": 219 }, ... } },
//                    "tdx": { "acceptedTcbStatuses": ["UpToDate"], "minTcbEvaluationDataNumber": 17,
//                             "mrSeams": [ <96 hex>, ... ] } } }                      mrSeams optional: any when absent
//
// `version` is a positive integer that each publish of a new policy raises; a client keeps the newest it accepted.
// Browser-safe: no I/O, no keys.
import { toHex } from '../bytes.js';
import { PolicyError } from '../errors.js';
import type { Hasher } from '../hash.js';
import type { Statement } from '../sigstore/inToto.js';
import type { JsonObject } from '../sigstore/jsonFields.js';
import { PRODUCTS, type Product } from '../snp/product.js';
import { TCB_COMPONENTS, type TcbComponent } from '../snp/tcb.js';
import { TDX_TCB_STATUSES, type TdxTcbStatus } from '../tdx/tcbEvaluation.js';

export const HARDWARE_POLICY_SCHEMA = 'cloister-hardware-policy/v1';
export const HARDWARE_POLICY_PREDICATE_TYPE = 'https://cloister.dev/attestation/hardware-policy/v1';
export const HARDWARE_POLICY_SUBJECT = 'hardware-policy.json';

export interface HardwarePolicy {
  readonly schema: typeof HARDWARE_POLICY_SCHEMA;
  readonly version: number;
  readonly 'sev-snp'?: { readonly minTcb: Readonly<Partial<Record<Product, Readonly<Partial<Record<TcbComponent, number>>>>>> };
  readonly tdx?: { readonly acceptedTcbStatuses: readonly TdxTcbStatus[]; readonly minTcbEvaluationDataNumber: number; readonly mrSeams?: readonly string[] };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown, max: number): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;

/** Throws PolicyError MALFORMED_POLICY naming every invalid field path. */
export function assertHardwarePolicy(value: unknown): HardwarePolicy {
  if (!isObject(value)) throw new PolicyError('MALFORMED_POLICY', 'hardware policy must be a JSON object', { field: '$' });
  const problems: string[] = [];
  if (value.schema !== HARDWARE_POLICY_SCHEMA) problems.push(`$.schema: must be "${HARDWARE_POLICY_SCHEMA}"`);
  if (!isCount(value.version, Number.MAX_SAFE_INTEGER) || value.version === 0) problems.push('$.version: must be a positive integer');
  for (const k of Object.keys(value)) if (!['schema', 'version', 'sev-snp', 'tdx'].includes(k)) problems.push(`$.${k}: unknown member`);
  const snp = value['sev-snp'];
  if (snp !== undefined) {
    if (!isObject(snp) || !isObject(snp.minTcb)) problems.push('$.sev-snp.minTcb: must be an object of products');
    else {
      for (const [product, tcb] of Object.entries(snp.minTcb)) {
        if (!(PRODUCTS as readonly string[]).includes(product)) problems.push(`$.sev-snp.minTcb.${product}: unknown product (${PRODUCTS.join(', ')})`);
        else if (!isObject(tcb)) problems.push(`$.sev-snp.minTcb.${product}: must be an object of TCB components`);
        else for (const [c, v] of Object.entries(tcb)) if (!(TCB_COMPONENTS as readonly string[]).includes(c) || !isCount(v, 255)) problems.push(`$.sev-snp.minTcb.${product}.${c}: must be a TCB component (${TCB_COMPONENTS.join(', ')}) with an SPL 0..255`);
      }
    }
  }
  const tdx = value.tdx;
  if (tdx !== undefined) {
    if (!isObject(tdx)) problems.push('$.tdx: must be an object');
    else {
      const statuses = tdx.acceptedTcbStatuses;
      if (!Array.isArray(statuses) || statuses.length === 0 || !statuses.every((s) => (TDX_TCB_STATUSES as readonly unknown[]).includes(s))) problems.push(`$.tdx.acceptedTcbStatuses: must be a non-empty list of ${TDX_TCB_STATUSES.join(', ')}`);
      if (!isCount(tdx.minTcbEvaluationDataNumber, 0xffffffff)) problems.push('$.tdx.minTcbEvaluationDataNumber: must be an integer 0..2^32-1');
      if (tdx.mrSeams !== undefined && (!Array.isArray(tdx.mrSeams) || !tdx.mrSeams.every((m) => typeof m === 'string' && /^[0-9a-f]{96}$/.test(m)))) problems.push('$.tdx.mrSeams: must be a list of 48-byte lowercase hex values');
    }
  }
  if (problems.length > 0) throw new PolicyError('MALFORMED_POLICY', `invalid hardware policy: ${problems.join('; ')}`, { field: problems.map((p) => p.split(':')[0]).join(',') });
  return value as unknown as HardwarePolicy;
}

/** The SHA-256 the statement's subject names: of the policy's JSON text as the statement carries it. */
async function policyDigest(policy: HardwarePolicy, hasher: Hasher): Promise<string> {
  return toHex(await hasher.digest('SHA-256', [new TextEncoder().encode(JSON.stringify(policy))]));
}

/** The statement of `policy`. */
export async function hardwarePolicyStatement(policy: HardwarePolicy, hasher: Hasher): Promise<Omit<Statement, 'type'>> {
  assertHardwarePolicy(policy);
  return { subject: [{ name: HARDWARE_POLICY_SUBJECT, digest: { sha256: await policyDigest(policy, hasher) } }], predicateType: HARDWARE_POLICY_PREDICATE_TYPE, predicate: policy as unknown as JsonObject };
}

/**
 * The hardware policy a verified statement publishes: MALFORMED_STATEMENT for another predicate type or a predicate
 * that is not a hardware policy, SUBJECT_MISMATCH when no subject is the predicate's digest.
 */
export async function parseHardwarePolicyStatement(statement: Statement, hasher: Hasher): Promise<HardwarePolicy> {
  if (statement.predicateType !== HARDWARE_POLICY_PREDICATE_TYPE) {
    throw new PolicyError('MALFORMED_STATEMENT', `the statement's predicate type is ${statement.predicateType}, not ${HARDWARE_POLICY_PREDICATE_TYPE}`, { field: '$.predicateType', expected: HARDWARE_POLICY_PREDICATE_TYPE, actual: statement.predicateType });
  }
  let policy: HardwarePolicy;
  try {
    policy = assertHardwarePolicy(statement.predicate);
  } catch (e) {
    throw new PolicyError('MALFORMED_STATEMENT', `the statement's predicate: ${(e as Error).message}`, { field: '$.predicate', cause: e });
  }
  const digest = await policyDigest(policy, hasher);
  if (!statement.subject.some((s) => s.name === HARDWARE_POLICY_SUBJECT && s.digest.sha256 === digest)) {
    throw new PolicyError('SUBJECT_MISMATCH', `no subject of the statement is ${HARDWARE_POLICY_SUBJECT} sha256:${digest}, the policy it carries`, { field: '$.subject', expected: `${HARDWARE_POLICY_SUBJECT} sha256:${digest}` });
  }
  return policy;
}
