// The CC event log parser and RTMR replay against real logs: go-tdx-guest's COS log replays to the RTMRs of the
// quote captured with it (T3), and trustee's six logs parse to the events trustee's own parser printed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { fromBase64, toHex } from '../../bytes.js';
import { ParseError } from '../../errors.js';
import { parseQuote } from '../../tdx/quote.js';
import { applyEdits, edits, onlyParseErrors } from '../../testing/parseErrors.js';
import { vector } from '../../testing/vectors.js';
import { parseCcelEventLog, replayRtmrs } from './ccel.js';
import { TPM_ALG } from './eventTypes.js';

const TRUSTEE_LOGS = ['CCEL_data', 'CCEL_data_ovmf', 'CCEL_data_grub', 'CCEL_data_grub_gke', 'CCEL_AAEL_alibabacloud', 'CCEL_data_csv'];
/** trustee's names for TPM_ALG_IDs (deps/eventlog/src/ccel/tcg_enum.rs). */
const TRUSTEE_ALG: Readonly<Record<string, number>> = { 'SHA-1': TPM_ALG.SHA1, 'SHA-256': TPM_ALG.SHA256, 'SHA-384': TPM_ALG.SHA384, 'SHA-512': TPM_ALG.SHA512, SM3: TPM_ALG.SM3_256 };

interface TrusteeEvent {
  readonly index: number;
  readonly type_name: string;
  readonly digests: readonly { alg: string; digest: string }[];
  readonly event: string;
}

const trusteeOut = (name: string): TrusteeEvent[] =>
  (JSON.parse(new TextDecoder().decode(vector(`trustee/eventlog/${name}_out.json`))) as { uefi_event_logs: TrusteeEvent[] }).uefi_event_logs;

function expectParseError(bytes: Uint8Array, code: string, offset?: number): void {
  assert.throws(() => parseCcelEventLog(bytes), (e: unknown) => {
    assert.ok(e instanceof ParseError, String(e));
    assert.equal(e.code, code, e.message);
    if (offset !== undefined) assert.equal(e.offset, offset, e.message);
    return true;
  });
}

describe('parseCcelEventLog and replayRtmrs', () => {
  it('replays go-tdx-guest ccel_data.dat to the RTMRs of the quote captured with it (T3)', async () => {
    const events = parseCcelEventLog(vector('go-tdx-guest/ccel/ccel_data.dat'));
    assert.equal(events.length, 43);
    const quote = parseQuote(vector('go-tdx-guest/ccel/cos-113-tdx-quote.dat'));
    const rtmrs = await replayRtmrs(events);
    assert.deepEqual(rtmrs.map(toHex), quote.body.rtmrs.map(toHex));
  });

  for (const name of TRUSTEE_LOGS) {
    it(`parses trustee ${name} to trustee's events: count, MR index, type name, digests and data`, () => {
      const events = parseCcelEventLog(vector(`trustee/eventlog/${name}`));
      const expected = trusteeOut(name);
      assert.equal(events.length, expected.length);
      events.forEach((e, i) => {
        const x = expected[i] as TrusteeEvent;
        assert.equal(e.index, i);
        assert.equal(e.mrIndex, x.index, `event ${i}`);
        assert.equal(e.rtmr, x.index >= 1 && x.index <= 4 ? x.index - 1 : undefined);
        assert.equal(e.typeName, x.type_name, `event ${i}`);
        assert.deepEqual([...e.digests].map(([alg, d]) => [alg, toHex(d)]), x.digests.map((d) => [TRUSTEE_ALG[d.alg], d.digest]), `event ${i}`);
        assert.deepEqual(e.data, fromBase64(x.event), `event ${i}`);
      });
    });
  }

  it('replays each SHA-384 trustee log to the chain of its digests, and refuses the SM3-only CSV log', async () => {
    const events = parseCcelEventLog(vector('trustee/eventlog/CCEL_data_ovmf'));
    const rtmrs = await replayRtmrs(events);
    const { createHash } = await import('node:crypto');
    const reference = [1, 2, 3, 4].map((mr) => events.filter((e) => e.mrIndex === mr).reduce((acc, e) => createHash('sha384').update(acc).update(e.digests.get(TPM_ALG.SHA384) as Uint8Array).digest(), Buffer.alloc(48)));
    assert.deepEqual(rtmrs.map(toHex), reference.map(toHex));
    await assert.rejects(replayRtmrs(parseCcelEventLog(vector('trustee/eventlog/CCEL_data_csv'))), (e: unknown) => e instanceof ParseError && e.code === 'UNSUPPORTED_ALGORITHM');
  });

  it('refuses a log without the Spec ID header, a truncated record, an oversized digest count and an undeclared algorithm, naming the offset', () => {
    const log = vector('trustee/eventlog/CCEL_data_ovmf');
    const first = parseCcelEventLog(log)[0];
    assert.ok(first !== undefined);
    expectParseError(log.subarray(0, 0x10), 'TRUNCATED');
    expectParseError(applyEdits(log, [[0x04, 0x04]]), 'MALFORMED_FIELD', 0x04);
    expectParseError(applyEdits(log, [[0x20, 0x58]]), 'MALFORMED_FIELD', 0x20);
    expectParseError(log.subarray(0, first.offset + 20), 'TRUNCATED');
    const count = first.offset + 8;
    expectParseError(applyEdits(log, [[count, 0xff], [count + 1, 0xff], [count + 2, 0xff], [count + 3, 0x7f]]), 'MALFORMED_FIELD', count);
    expectParseError(applyEdits(log, [[count + 4, 0x0b]]), 'MALFORMED_FIELD', count + 4);
    const sizeAt = first.offset + 12 + 2 + 48;
    expectParseError(applyEdits(log, [[sizeAt + 3, 0x7f]]), 'TRUNCATED');
  });

  it('stops at 0xFF-filled and zero-filled space, and at the end of the buffer', () => {
    const log = vector('trustee/eventlog/CCEL_data_ovmf');
    const events = parseCcelEventLog(log);
    const last = events.at(-1) as (typeof events)[number];
    const end = last.offset + 4 + 4 + 4 + 2 + 48 + 4 + last.data.length;
    assert.equal(parseCcelEventLog(log.subarray(0, end)).length, events.length);
    const ff = log.slice(0, end + 64);
    ff.fill(0xff, end);
    assert.equal(parseCcelEventLog(ff).length, events.length);
  });

  it('on arbitrary bytes and on mutated real logs: events or ParseError, nothing else', () => {
    const logs = ['trustee/eventlog/CCEL_data_ovmf', 'go-tdx-guest/ccel/ccel_data.dat'].map((p) => vector(p));
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (b) => { onlyParseErrors(() => parseCcelEventLog(b)); }), { numRuns: 300 });
    for (const log of logs) {
      const used = log.subarray(0, 4096);
      fc.assert(fc.property(edits(used.length), (list) => { onlyParseErrors(() => parseCcelEventLog(applyEdits(used, list))); }), { numRuns: 300 });
    }
  });
});
