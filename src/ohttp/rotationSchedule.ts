// Whether an OHTTP key rotation schedule (docs/ohttp.md "Keys") can keep its promise to clients and to
// the caches between them and the gateway: checked once, before a server starts.
import { RuntimeError } from '../base/runtimeErrors.js';

/**
 * An overlap shorter than this is fragile: 60 s is the lifetime caches give key configurations that
 * carry no shorter max-age (older gateways served max-age=60, relays keep such answers 60 s), so a cache
 * that ignores a shorter max-age, or enforces a minimum lifetime, serves a retired key; and the overlap
 * is also the time the server has to re-issue the certificate after a rotation (a TDX quote can take
 * seconds) before the configurations it serves name only retired keys.
 */
export const FRAGILE_OVERLAP_SECONDS = 60;
/** Key IDs are one byte. */
export const ALL_KEY_IDS: KeyIdRange = Object.freeze({ first: 0, last: 255 });

/** The key IDs a gateway draws from, inclusive: all 256, or a fleet node's own range (docs/fleet.md). */
export interface KeyIdRange {
  readonly first: number;
  readonly last: number;
}

/** `FIRST-LAST` with 0 <= FIRST <= LAST <= 255, as `--ohttp-key-ids` and a fleet node's instance metadata say it; undefined otherwise. */
export function parseKeyIdRange(text: string): KeyIdRange | undefined {
  const m = /^(\d{1,3})-(\d{1,3})$/.exec(text);
  if (m === null) return undefined;
  const first = Number(m[1]);
  const last = Number(m[2]);
  return first <= last && last <= 255 ? { first, last } : undefined;
}

export interface RotationSchedule {
  /** 0: never. */
  readonly rotateSeconds: number;
  readonly overlapSeconds: number;
  /** Default ALL_KEY_IDS. */
  readonly keyIds?: KeyIdRange;
}

const describeRange = (r: KeyIdRange): string => (r.first === 0 && r.last === 255 ? 'the 256 key IDs' : `the ${r.last - r.first + 1} key IDs of ${r.first}-${r.last}`);

/** Throws OHTTP_SCHEDULE_UNWORKABLE for a schedule that cannot work; returns a warning for each way it is fragile. */
export function checkRotationSchedule({ rotateSeconds, overlapSeconds, keyIds = ALL_KEY_IDS }: RotationSchedule): string[] {
  const ids = keyIds.last - keyIds.first + 1;
  if (rotateSeconds === 0) return [];
  if (overlapSeconds === 0) {
    throw new RuntimeError('OHTTP_SCHEDULE_UNWORKABLE', `OHTTP keys rotated every ${rotateSeconds} s with no overlap: a rotated-out key would stop decrypting at once, failing the requests in flight and every cached copy of the key configurations`, {
      field: 'ohttp.overlapSeconds',
      expected: `at least 1 s while keys rotate (${FRAGILE_OVERLAP_SECONDS} s or more recommended)`,
      actual: '0',
    });
  }
  // Keys rotated out within the last overlap, the current one, and one more where a retirement and a rotation fall due together.
  const liveKeys = Math.floor(overlapSeconds / rotateSeconds) + 2;
  if (liveKeys > ids) {
    throw new RuntimeError('OHTTP_SCHEDULE_UNWORKABLE', `OHTTP keys rotated every ${rotateSeconds} s and kept ${overlapSeconds} s would need up to ${liveKeys} live keys, more than ${describeRange(keyIds)}`, {
      field: 'ohttp.overlapSeconds',
      expected: `less than ${(ids - 1) * rotateSeconds} s with rotation every ${rotateSeconds} s`,
      actual: String(overlapSeconds),
    });
  }
  return overlapSeconds < FRAGILE_OVERLAP_SECONDS
    ? [`OHTTP key overlap of ${overlapSeconds} s is under ${FRAGILE_OVERLAP_SECONDS} s: key configurations are served with max-age=${Math.floor(overlapSeconds)} at most, and a cache that keeps them longer (a minimum lifetime, or the customary 60 s) serves retired keys, whose clients fail until they refetch`]
    : [];
}
