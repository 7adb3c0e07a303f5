// Test support: the real TDX quotes T1..T8 of testdata/attestation/README.md.
import { vector } from './vectors.js';

export interface TdxVectorRow {
  readonly id: string;
  readonly path: string;
  /** The quote as parsers should see it (T1 without go-tdx-guest's test suffix, see below). */
  readonly quote: Uint8Array;
  readonly version: 4 | 5;
  /** Zero bytes after the signature data. */
  readonly padding: number;
  /** A time inside the PCK certificate's validity. */
  readonly at: Date;
}

/**
 * go-tdx-guest appended the 39 bytes "\nextra bytes(only for testing purpose)\n" to its T1 sample to test
 * that its parser carries extra bytes along. They are not zero padding, so parseQuote rejects the file as
 * is (TRAILING_BYTES at 0x1347); the rows use the quote without them, the bytes a TD actually produced.
 */
export const T1_TEST_SUFFIX = new TextEncoder().encode('\nextra bytes(only for testing purpose)\n');

export function tdxVectorRows(): TdxVectorRow[] {
  const t1 = vector('go-tdx-guest/tdx_prod_quote_SPR_E4.dat');
  const row = (id: string, path: string, version: 4 | 5, padding: number, at: string, quote = vector(path)): TdxVectorRow => ({ id, path, quote, version, padding, at: new Date(at) });
  return [
    row('T1', 'go-tdx-guest/tdx_prod_quote_SPR_E4.dat', 4, 0, '2023-07-01T00:00:00Z', t1.slice(0, t1.length - T1_TEST_SUFFIX.length)),
    row('T2', 'go-tdx-guest/quote_v5_sample.dat', 5, 0, '2026-06-01T00:00:00Z'),
    row('T3', 'go-tdx-guest/ccel/cos-113-tdx-quote.dat', 4, 3065, '2025-01-01T00:00:00Z'),
    row('T4', 'trustee/tdx/tdx_quote_4.dat', 4, 0, '2023-07-01T00:00:00Z'),
    row('T5', 'trustee/tdx/tdx_quote_5.dat', 5, 0, '2025-01-01T00:00:00Z'),
    row('T6', 'trustee/tdx/tdx_quote_6.dat', 4, 70, '2025-06-01T00:00:00Z'),
    row('T7', 'trustee/az-tdx-vtpm/td-quote.bin', 4, 70, '2024-01-01T00:00:00Z'),
    row('T8', 'dcap-qvl/tdx_quote', 4, 70, '2025-06-25T00:00:00Z'),
  ];
}
