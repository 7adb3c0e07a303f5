import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CloisterError } from '../../attestation/errors.js';
import { temporaryDirectories } from '../testing/tempDirs.js';
import { parseOemStrings, readOemStrings, serializeOemStrings } from './smbios.js';

const tempDir = temporaryDirectories('cloister-smbios-');

describe('SMBIOS OEM strings (type 11)', () => {
  it('round-trips strings through a type 11 structure as QEMU lays it out', () => {
    const strings = ['other vendor string', 'cloister.ohttp-key-ids=8-11', 'xyz'];
    const raw = serializeOemStrings(strings);
    assert.deepEqual([...raw.subarray(0, 5)], [11, 5, 0x00, 0x0b, 3]);
    assert.deepEqual(parseOemStrings(raw), strings);
    assert.deepEqual(parseOemStrings(serializeOemStrings([])), []);
  });

  it('reads each byte as the Latin-1 character of that code, as it writes them (TextDecoder\'s "latin1" is windows-1252)', () => {
    const every = String.fromCharCode(...Array.from({ length: 255 }, (_, i) => i + 1));
    assert.deepEqual(parseOemStrings(serializeOemStrings([every, 'a\u0080b'])), [every, 'a\u0080b']);
  });

  for (const [why, raw] of [
    ['another SMBIOS type', Uint8Array.from([1, 5, 0, 0, 1, 0x41, 0, 0])],
    ['a string count beyond the strings', Uint8Array.from([11, 5, 0, 0, 2, 0x41, 0, 0])],
    ['a structure cut short', Uint8Array.from([11, 5, 0])],
  ] as const) {
    it(`refuses ${why} with SMBIOS_INVALID`, () => {
      assert.throws(() => parseOemStrings(raw), (e: unknown) => e instanceof CloisterError && e.code === 'SMBIOS_INVALID');
    });
  }

  it('reads every 11-N/raw in order, skips other types, and finds none without the directory', async () => {
    const dir = tempDir();
    for (const [name, strings] of [['11-1', ['b']], ['11-0', ['a', 'c']]] as const) {
      mkdirSync(join(dir, name));
      writeFileSync(join(dir, name, 'raw'), serializeOemStrings(strings));
    }
    mkdirSync(join(dir, '1-0'));
    writeFileSync(join(dir, '1-0', 'raw'), Uint8Array.from([1, 5, 0, 0]));
    assert.deepEqual(await readOemStrings(dir), ['a', 'c', 'b']);
    assert.deepEqual(await readOemStrings(join(dir, 'missing')), []);
  });
});
