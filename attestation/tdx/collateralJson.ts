// Typed reading of Intel's signed collateral JSON (TCB info, QE identity): every value is checked for its type and
// range where it is read, and a bad one is a MALFORMED_COLLATERAL ParseError naming its path.
import { fromHex } from '../bytes.js';
import { ParseError } from '../errors.js';

export const TCB_STATUSES = ['UpToDate', 'SWHardeningNeeded', 'ConfigurationNeeded', 'ConfigurationAndSWHardeningNeeded', 'OutOfDate', 'OutOfDateConfigurationNeeded', 'Revoked'] as const;
export type TcbStatus = (typeof TCB_STATUSES)[number];

export function malformedCollateral(path: string, message: string): never {
  throw new ParseError('MALFORMED_COLLATERAL', `${path} ${message}`, { field: path });
}

/** A JSON object being read, with the path of every member for error messages. */
export class JsonReader {
  readonly path: string;
  readonly #o: Record<string, unknown>;

  private constructor(o: Record<string, unknown>, path: string) {
    this.#o = o;
    this.path = path;
  }

  static of(value: unknown, path: string): JsonReader {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) malformedCollateral(path, 'must be a JSON object');
    return new JsonReader(value as Record<string, unknown>, path);
  }

  static parse(text: string, path: string): JsonReader {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (cause) {
      throw new ParseError('MALFORMED_COLLATERAL', `${path} is not JSON: ${(cause as Error).message}`, { field: path, cause });
    }
    return JsonReader.of(value, path);
  }

  has(key: string): boolean {
    return this.#o[key] !== undefined;
  }

  #at(key: string): string {
    return `${this.path}.${key}`;
  }

  string(key: string): string {
    const v = this.#o[key];
    if (typeof v !== 'string') malformedCollateral(this.#at(key), 'must be a string');
    return v;
  }

  integer(key: string, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.#o[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) malformedCollateral(this.#at(key), `must be an integer 0..${max}`);
    return v;
  }

  hex(key: string, bytes: number): Uint8Array {
    const v = this.string(key);
    if (v.length !== 2 * bytes || !/^[0-9a-fA-F]*$/.test(v)) malformedCollateral(this.#at(key), `must be ${bytes} bytes of hex`);
    return fromHex(v);
  }

  date(key: string): Date {
    const v = this.string(key);
    const d = new Date(v);
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(v) || Number.isNaN(d.getTime())) malformedCollateral(this.#at(key), 'must be an ISO 8601 UTC time');
    return d;
  }

  status(key: string, allowed: readonly string[] = TCB_STATUSES): TcbStatus {
    const v = this.string(key);
    if (!allowed.includes(v)) malformedCollateral(this.#at(key), `is ${JSON.stringify(v)}, not one of ${allowed.join(', ')}`);
    return v as TcbStatus;
  }

  object(key: string): JsonReader {
    return JsonReader.of(this.#o[key], this.#at(key));
  }

  array(key: string, { min = 0, length }: { min?: number; length?: number } = {}): unknown[] {
    const v = this.#o[key];
    if (!Array.isArray(v)) malformedCollateral(this.#at(key), 'must be an array');
    if (length !== undefined && v.length !== length) malformedCollateral(this.#at(key), `must have ${length} entries, has ${v.length}`);
    if (v.length < min) malformedCollateral(this.#at(key), `must have at least ${min} entr${min === 1 ? 'y' : 'ies'}`);
    return v;
  }

  objects(key: string, options?: { min?: number; length?: number }): JsonReader[] {
    return this.array(key, options).map((v, i) => JsonReader.of(v, `${this.#at(key)}[${i}]`));
  }

  /** advisoryIDs: absent means none. */
  advisoryIds(): readonly string[] {
    if (!this.has('advisoryIDs')) return [];
    return this.array('advisoryIDs').map((v, i) => {
      if (typeof v !== 'string' || v === '') malformedCollateral(`${this.#at('advisoryIDs')}[${i}]`, 'must be a non-empty string');
      return v;
    });
  }
}

/** A TCB level's common part: its date, status and advisories. */
export interface LevelOutcome {
  readonly tcbDate: Date;
  readonly tcbStatus: TcbStatus;
  readonly advisoryIds: readonly string[];
}

export const levelOutcome = (r: JsonReader, allowed?: readonly string[]): LevelOutcome => ({ tcbDate: r.date('tcbDate'), tcbStatus: r.status('tcbStatus', allowed), advisoryIds: r.advisoryIds() });
