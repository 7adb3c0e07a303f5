// TdxPolicy from untrusted JSON (a --policy file): every bad field is reported at once, by path.
import { ParseError, PolicyError } from '../errors.js';
import { TDX_TCB_STATUSES } from './tcbEvaluation.js';
import type { TdxPolicy } from './validate.js';

const KNOWN = new Set(['allowDebug', 'allowSeptVe', 'allowMigratable', 'mrtds', 'rtmrs', 'reportData', 'acceptedTcbStatuses', 'mrConfigId', 'mrOwner', 'mrOwnerConfig', 'xfam', 'minTeeTcbSvn', 'mrSeams', 'mrServiceTds']);
const ACCEPTABLE = TDX_TCB_STATUSES.filter((s) => s !== 'Revoked');
const isHex = (v: unknown, bytes: number): boolean => typeof v === 'string' && new RegExp(`^[0-9a-fA-F]{${2 * bytes}}$`).test(v);

/** Throws a PolicyError (MALFORMED_POLICY) naming every invalid field path. */
export function assertTdxPolicy(value: unknown): TdxPolicy {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new PolicyError('MALFORMED_POLICY', 'policy must be a JSON object', { field: '$' });
  }
  const o = value as Record<string, unknown>;
  const problems: string[] = [];
  for (const k of Object.keys(o)) if (!KNOWN.has(k)) problems.push(`$.${k}: unknown field`);
  for (const k of ['allowDebug', 'allowSeptVe', 'allowMigratable']) if (k in o && typeof o[k] !== 'boolean') problems.push(`$.${k}: must be true or false`);
  const hexFields: [string, number][] = [['reportData', 64], ['mrConfigId', 48], ['mrOwner', 48], ['mrOwnerConfig', 48], ['xfam', 8], ['minTeeTcbSvn', 16]];
  for (const [k, bytes] of hexFields) if (k in o && !isHex(o[k], bytes)) problems.push(`$.${k}: must be ${bytes} bytes of hex (${2 * bytes} digits)`);
  for (const k of ['mrtds', 'mrSeams', 'mrServiceTds']) {
    if (!(k in o)) continue;
    const list = o[k];
    if (!Array.isArray(list) || list.length === 0) problems.push(`$.${k}: must be a non-empty array of hex strings`);
    else list.forEach((h, i) => { if (!isHex(h, 48)) problems.push(`$.${k}[${i}]: must be 48 bytes of hex (96 digits)`); });
  }
  if ('acceptedTcbStatuses' in o) {
    const list = o.acceptedTcbStatuses;
    if (!Array.isArray(list) || list.length === 0) problems.push(`$.acceptedTcbStatuses: must be a non-empty array of ${ACCEPTABLE.join(', ')}`);
    else list.forEach((v, i) => { if (!(ACCEPTABLE as readonly unknown[]).includes(v)) problems.push(`$.acceptedTcbStatuses[${i}]: must be one of ${ACCEPTABLE.join(', ')}${v === 'Revoked' ? ' (Revoked is never accepted)' : ''}`); });
  }
  if ('rtmrs' in o) {
    const list = o.rtmrs;
    if (!Array.isArray(list) || list.length !== 4) problems.push('$.rtmrs: must be an array of 4 entries (RTMR0..RTMR3), each hex or null');
    else list.forEach((h, i) => { if (h !== null && !isHex(h, 48)) problems.push(`$.rtmrs[${i}]: must be 48 bytes of hex (96 digits) or null`); });
  }
  if (problems.length > 0) {
    throw new PolicyError('MALFORMED_POLICY', `invalid policy: ${problems.join('; ')}`, { field: problems.map((p) => p.split(':')[0]).join(',') });
  }
  return Object.freeze({ ...(o as TdxPolicy) });
}

export function parseTdxPolicyJson(text: string): TdxPolicy {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new ParseError('MALFORMED_POLICY', `policy is not valid JSON: ${(cause as Error).message}`, { field: '$', cause });
  }
  return assertTdxPolicy(value);
}
