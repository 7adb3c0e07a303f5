// SnpPolicy from untrusted JSON (a --policy file): every bad field is reported at once, by path.
import { PolicyError, ParseError } from '../errors.js';
import type { SnpPolicy } from './validate.js';
import { TCB_COMPONENTS } from './tcb.js';

const BOOLEAN_FIELDS = ['allowDebug', 'allowMigrationAgent', 'allowProvisionalFirmware', 'requireSmtDisabled', 'requireTsme', 'requireCiphertextHiding', 'requireCrl'] as const;
const UINT_FIELDS = { minBuild: 255, minGuestSvn: 0xffffffff, vmpl: 3 } as const;
const HEX_FIELDS = { hostData: 32, reportData: 64 } as const;
const HEX_LIST_FIELDS = { measurements: 48, idKeyDigests: 48, authorKeyDigests: 48, chipIds: 64 } as const;
const STRING_LIST_FIELDS = ['cspIds'] as const;
const TCB_FIELDS = ['minTcb', 'minLaunchTcb'] as const;
const KNOWN = new Set<string>([...STRING_LIST_FIELDS, ...BOOLEAN_FIELDS, ...Object.keys(UINT_FIELDS), ...Object.keys(HEX_FIELDS), ...Object.keys(HEX_LIST_FIELDS), ...TCB_FIELDS, 'minVersion', 'signingKeys']);

const isHex = (v: unknown, bytes: number): boolean => typeof v === 'string' && new RegExp(`^[0-9a-fA-F]{${2 * bytes}}$`).test(v);
const isUint = (v: unknown, max: number): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;
/** The firmware's CURRENT_MAJOR and CURRENT_MINOR are bytes. */
const isVersion = (v: unknown): boolean => typeof v === 'string' && /^\d{1,3}\.\d{1,3}$/.test(v) && v.split('.').every((n) => Number(n) <= 255);

/** Throws a PolicyError (MALFORMED_POLICY) naming every invalid field path. */
export function assertSnpPolicy(value: unknown): SnpPolicy {
  const problems: string[] = [];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new PolicyError('MALFORMED_POLICY', 'policy must be a JSON object', { field: '$' });
  }
  const o = value as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!KNOWN.has(k)) problems.push(`$.${k}: unknown field`);
  for (const k of BOOLEAN_FIELDS) if (k in o && typeof o[k] !== 'boolean') problems.push(`$.${k}: must be true or false`);
  for (const [k, max] of Object.entries(UINT_FIELDS)) if (k in o && !isUint(o[k], max)) problems.push(`$.${k}: must be an integer 0..${max}`);
  for (const [k, n] of Object.entries(HEX_FIELDS)) if (k in o && !isHex(o[k], n)) problems.push(`$.${k}: must be ${n} bytes of hex (${2 * n} digits)`);
  for (const [k, n] of Object.entries(HEX_LIST_FIELDS)) {
    if (!(k in o)) continue;
    const list = o[k];
    if (!Array.isArray(list) || list.length === 0) problems.push(`$.${k}: must be a non-empty array of hex strings`);
    else list.forEach((h, i) => { if (!isHex(h, n)) problems.push(`$.${k}[${i}]: must be ${n} bytes of hex (${2 * n} digits)`); });
  }
  for (const k of STRING_LIST_FIELDS) {
    const list = o[k];
    if (k in o && !(Array.isArray(list) && list.length > 0 && list.every((s) => typeof s === 'string' && s.length > 0))) problems.push(`$.${k}: must be a non-empty array of strings`);
  }
  if ('minVersion' in o && !isVersion(o.minVersion)) problems.push('$.minVersion: must be "major.minor", each an integer 0..255');
  if ('signingKeys' in o) {
    const s = o.signingKeys;
    if (!Array.isArray(s) || s.length === 0 || !s.every((k) => k === 'vcek' || k === 'vlek')) problems.push('$.signingKeys: must be a non-empty array of "vcek" | "vlek"');
  }
  for (const k of TCB_FIELDS) {
    const t = o[k];
    if (!(k in o)) continue;
    if (typeof t !== 'object' || t === null || Array.isArray(t)) {
      problems.push(`$.${k}: must be an object`);
      continue;
    }
    for (const [c, v] of Object.entries(t)) {
      if (!(TCB_COMPONENTS as readonly string[]).includes(c)) problems.push(`$.${k}.${c}: unknown component (${TCB_COMPONENTS.join(', ')})`);
      else if (!isUint(v, 255)) problems.push(`$.${k}.${c}: must be an integer 0..255`);
    }
  }
  if (problems.length > 0) {
    throw new PolicyError('MALFORMED_POLICY', `invalid policy: ${problems.join('; ')}`, { field: problems.map((p) => p.split(':')[0]).join(',') });
  }
  return Object.freeze({ ...(o as SnpPolicy) });
}

export function parseSnpPolicyJson(text: string): SnpPolicy {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new ParseError('MALFORMED_POLICY', `policy is not valid JSON: ${(cause as Error).message}`, { field: '$', cause });
  }
  return assertSnpPolicy(value);
}
