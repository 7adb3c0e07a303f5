// Direct-boot events against a real OVMF direct-boot log (trustee CCEL_data_ovmf), and explainTdxMeasurement
// naming the first difference: in MRTD, in the replay, in a mutated real log, and for another kernel or command line.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { toHex } from '../../bytes.js';
import { vector } from '../../testing/vectors.js';
import { authenticodeHash } from './authenticode.js';
import { parseCcelEventLog, replayRtmrs } from './ccel.js';
import { directBootEvents, loadOptions } from './directBoot.js';
import { TCG_EVENT_TYPES, TPM_ALG } from './eventTypes.js';
import { explainTdxMeasurement } from './explainTdMeasurements.js';
import { tdxMrtd } from './mrtd.js';

/** A crypto-agile log holding SHA-384 digests only: the Spec ID header event, then the records. */
function ccelLog(events: readonly { mrIndex: number; type: number; digest: Uint8Array; data?: Uint8Array }[]): Uint8Array {
  const specId = Buffer.alloc(0x1c + 4 + 1);
  specId.write('Spec ID Event03\0', 0, 'ascii');
  specId.writeUInt8(2, 0x15);
  specId.writeUInt8(2, 0x17);
  specId.writeUInt32LE(1, 0x18);
  specId.writeUInt16LE(TPM_ALG.SHA384, 0x1c);
  specId.writeUInt16LE(48, 0x1e);
  const header = Buffer.alloc(0x20);
  header.writeUInt32LE(TCG_EVENT_TYPES.EV_NO_ACTION, 4);
  header.writeUInt32LE(specId.length, 0x1c);
  const records = events.map((e) => {
    const data = Buffer.from(e.data ?? new Uint8Array(4));
    const r = Buffer.alloc(12 + 2 + 48 + 4);
    r.writeUInt32LE(e.mrIndex, 0);
    r.writeUInt32LE(e.type, 4);
    r.writeUInt32LE(1, 8);
    r.writeUInt16LE(TPM_ALG.SHA384, 12);
    Buffer.from(e.digest).copy(r, 14);
    r.writeUInt32LE(data.length, 62);
    return Buffer.concat([r, data]);
  });
  return new Uint8Array(Buffer.concat([header, specId, ...records, Buffer.alloc(64)]));
}

const sha384 = (b: Uint8Array | string): Uint8Array => new Uint8Array(createHash('sha384').update(b).digest());

describe('directBootEvents', () => {
  it("predicts the EV_EFI_ACTION strings and the separator of a real OVMF direct-boot log's RTMR1", async () => {
    const log = parseCcelEventLog(vector('trustee/eventlog/CCEL_data_ovmf'));
    const logged = log.filter((e) => e.rtmr === 1 && e.type !== TCG_EVENT_TYPES.EV_EFI_BOOT_SERVICES_APPLICATION).map((e) => toHex(e.digests.get(TPM_ALG.SHA384) as Uint8Array));
    const predicted = (await directBootEvents({}, undefined, { rtmr1Separator: false })).filter((e) => e.rtmr === 1).map((e) => toHex(e.digest));
    assert.deepEqual(predicted, logged);
    const separator = log.find((e) => e.type === TCG_EVENT_TYPES.EV_SEPARATOR);
    const withSeparator = await directBootEvents({});
    assert.equal(toHex(withSeparator[1]?.digest ?? new Uint8Array()), toHex(separator?.digests.get(TPM_ALG.SHA384) ?? new Uint8Array(1)));
  });

  it('measures the load options as OVMF builds them: UTF-16LE, " initrd=initrd" with an initrd, NUL-terminated', async () => {
    assert.deepEqual(loadOptions('console=hvc0', true), new Uint8Array(Buffer.from('console=hvc0 initrd=initrd\0', 'utf16le')));
    assert.deepEqual(loadOptions('quiet', false), new Uint8Array(Buffer.from('quiet\0', 'utf16le')));
    assert.equal(loadOptions('', false), undefined);
    // OVMF widens each byte of the UTF-8 command line, as "%a" does: é (C3 A9) is two units, not one.
    assert.deepEqual(loadOptions('é', false), Uint8Array.from([0xc3, 0, 0xa9, 0, 0, 0]));
    const kernel = vector('debian/systemd-boot-efi/systemd-bootx64.efi');
    const events = await directBootEvents({ kernel, initrd: new Uint8Array([1, 2, 3]), append: 'quiet' });
    assert.deepEqual(events.map((e) => [e.rtmr, e.typeName]), [
      [1, 'EV_EFI_BOOT_SERVICES_APPLICATION'], [1, 'EV_EFI_ACTION'], [1, 'EV_SEPARATOR'], [1, 'EV_EFI_ACTION'], [1, 'EV_EFI_ACTION'], [2, 'EV_EVENT_TAG'], [2, 'EV_EVENT_TAG'],
    ]);
    assert.deepEqual(events.map((e) => toHex(e.digest)), [
      toHex(await authenticodeHash(kernel)), toHex(sha384('Calling EFI Application from Boot Option')), toHex(sha384(new Uint8Array(4))),
      toHex(sha384('Exit Boot Services Invocation')), toHex(sha384('Exit Boot Services Returned with Success')),
      toHex(sha384(Buffer.from('quiet initrd=initrd\0', 'utf16le'))), toHex(sha384(new Uint8Array([1, 2, 3]))),
    ]);
  });
});

describe('explainTdxMeasurement', () => {
  const kernel = vector('debian/systemd-boot-efi/systemd-bootx64.efi');
  const initrd = new TextEncoder().encode('an initrd');
  const append = 'console=hvc0 root=/dev/vda1';
  const inputs = { kernel, initrd, append };

  /** A log of a direct boot of `inputs`, with one RTMR0 event before it. */
  async function bootLog(): Promise<Uint8Array> {
    const events = await directBootEvents(inputs);
    return ccelLog([{ mrIndex: 1, type: TCG_EVENT_TYPES.EV_SEPARATOR, digest: sha384(new Uint8Array(4)) }, ...events.map((e) => ({ mrIndex: e.rtmr + 1, type: e.type, digest: e.digest }))]);
  }
  const quoteOf = async (log: Uint8Array, mrTd = new Uint8Array(48)): Promise<{ mrTd: Uint8Array; rtmrs: readonly Uint8Array[] }> => ({ mrTd, rtmrs: await replayRtmrs(parseCcelEventLog(log)) });

  it('matches when the log replays to the quote and holds the direct-boot events of the inputs, with and without the log', async () => {
    const log = await bootLog();
    const quote = await quoteOf(log);
    assert.deepEqual(await explainTdxMeasurement(quote, { ...inputs, eventLog: log }), { matched: true, line: "the event log's 8 events replay to RTMR0..3; its RTMR1/RTMR2 events are those of a direct boot of the given inputs" });
    assert.equal((await explainTdxMeasurement(quote, inputs)).matched, true);
  });

  it('names the first diverging event when the kernel differs', async () => {
    const log = await bootLog();
    const other = kernel.slice();
    other[0x500] = (other[0x500] ?? 0) ^ 1;
    const r = await explainTdxMeasurement(await quoteOf(log), { ...inputs, kernel: other, eventLog: log });
    assert.equal(r.matched, false);
    assert.equal(r.line, `event 1 at offset 0x${(0x20 + 0x21 + 66 + 4).toString(16)} (RTMR1 EV_EFI_BOOT_SERVICES_APPLICATION): expected EV_EFI_BOOT_SERVICES_APPLICATION kernel image (Authenticode SHA-384) with digest ${toHex(await authenticodeHash(other))}, the log has EV_EFI_BOOT_SERVICES_APPLICATION with ${toHex(await authenticodeHash(kernel))}`);
    const withoutLog = await explainTdxMeasurement(await quoteOf(log), { ...inputs, kernel: other });
    assert.match(withoutLog.line, /^RTMR1: direct boot of the given inputs predicts [0-9a-f]{96}, the quote reports [0-9a-f]{96}/);
  });

  it('names the command-line event when only -append differs', async () => {
    const log = await bootLog();
    const r = await explainTdxMeasurement(await quoteOf(log), { ...inputs, append: 'console=hvc0 root=/dev/vda2', eventLog: log });
    assert.equal(r.matched, false);
    assert.match(r.line, /^event 6 at offset 0x[0-9a-f]+ \(RTMR2 EV_EVENT_TAG\): expected EV_EVENT_TAG LOADED_IMAGE::LoadOptions \(command line, UTF-16LE\) with digest [0-9a-f]{96}, the log has EV_EVENT_TAG with [0-9a-f]{96}$/);
  });

  it('names the mutated event of a real log that the quote reflects, and the RTMR when the log does not replay to the quote', async () => {
    const real = vector('trustee/eventlog/CCEL_data_ovmf');
    const events = parseCcelEventLog(real);
    const calling = events[14];
    assert.equal(calling?.typeName, 'EV_EFI_ACTION');
    const mutated = real.slice();
    const digestAt = calling.offset + 14;
    mutated[digestAt] = (mutated[digestAt] ?? 0) ^ 0xff;
    const r = await explainTdxMeasurement(await quoteOf(mutated), { append: '', eventLog: mutated });
    assert.equal(r.matched, false);
    assert.equal(r.line, `event 14 at offset 0x${calling.offset.toString(16)} (RTMR1 EV_EFI_ACTION): expected EV_EFI_ACTION "Calling EFI Application from Boot Option" with digest ${toHex(sha384('Calling EFI Application from Boot Option'))}, the log has EV_EFI_ACTION with ${toHex(mutated.subarray(digestAt, digestAt + 48))}`);
    const stale = await explainTdxMeasurement(await quoteOf(real), { eventLog: mutated });
    assert.equal(stale.matched, false);
    assert.match(stale.line, /^RTMR1: the event log \(20 events\) replays to [0-9a-f]{96}, the quote reports [0-9a-f]{96}$/);
  });

  it('compares MRTD with the firmware, in either page order', async () => {
    const ovmf = vector('debian/ovmf/OVMF.fd');
    const mrTd = await tdxMrtd(ovmf);
    assert.deepEqual(await explainTdxMeasurement({ mrTd, rtmrs: [] }, { firmware: ovmf }), { matched: true, line: 'MRTD matches the firmware; RTMR0..3 not compared (give the event log, or the kernel for RTMR1 and RTMR2)' });
    const twoPass = await tdxMrtd(ovmf, undefined, { pageOrder: 'two-pass' });
    assert.equal((await explainTdxMeasurement({ mrTd: twoPass, rtmrs: [] }, { firmware: ovmf })).matched, true);
    const r = await explainTdxMeasurement({ mrTd: new Uint8Array(48), rtmrs: [] }, { firmware: ovmf });
    assert.deepEqual(r, { matched: false, line: `MRTD: the firmware predicts ${toHex(mrTd)}, the quote reports ${'00'.repeat(48)}` });
  });
});
