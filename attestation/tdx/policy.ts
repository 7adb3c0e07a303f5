// TdxPolicy from untrusted JSON (a --policy file): every bad field is reported at once, by path.
import { ParseError, PolicyError } from '../errors.js';
import type { TdxPolicy } from './validate.js';

const KNOWN = new Set(['allowDebug', 'mrtds', 'rtmrs', 'reportData']);
const isHex = (v: unknown, bytes: number): boolean => typeof v === 'string' && new RegExp(`^[0-9a-fA-F]{${2 * bytes}}$`).test(v);

/** Throws a PolicyError (MALFORMED_POLICY) naming every invalid field path. */
export function assertTdxPolicy(value: unknown): TdxPolicy {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new PolicyError('MALFORMED_POLICY', 'policy must be a JSON object', { field: '$' });
  }
  const o = value as Record<string, unknown>;
  const problems: string[] = [];
  for (const k of Object.keys(o)) if (!KNOWN.has(k)) problems.push(`$.${k}: unknown field`);
  if ('allowDebug' in o && typeof o.allowDebug !== 'boolean') problems.push('$.allowDebug: must be true or false');
  if ('reportData' in o && !isHex(o.reportData, 64)) problems.push('$.reportData: must be 64 bytes of hex (128 digits)');
  if ('mrtds' in o) {
    const list = o.mrtds;
    if (!Array.isArray(list) || list.length === 0) problems.push('$.mrtds: must be a non-empty array of hex strings');
    else list.forEach((h, i) => { if (!isHex(h, 48)) problems.push(`$.mrtds[${i}]: must be 48 bytes of hex (96 digits)`); });
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
