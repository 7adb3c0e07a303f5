import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { toHex } from '../../../attestation/bytes.js';
import { CloisterError } from '../../../attestation/errors.js';
import { temporaryDirectories } from '../../testing/tempDirs.js';
import { serializeOemStrings } from '../smbios.js';
import { hostLaunchFromStrings, hostLaunchOemStrings, readHostLaunch } from './hostLaunch.js';

const tempDir = temporaryDirectories('cloister-host-launch-');
const A = new Uint8Array(48).fill(0xa1);
const B = new Uint8Array(48).fill(0xb2);

describe('the launch measurement a host states for the simulated TEE (SMBIOS OEM strings)', () => {
  it('reads the prefixed strings and ignores everyone else\'s', () => {
    const launch = hostLaunchFromStrings(['vendor=1', ...hostLaunchOemStrings({ snpMeasurement: A, tdxRtmr2: B })]);
    assert.equal(toHex(launch.snpMeasurement ?? new Uint8Array()), toHex(A));
    assert.equal(toHex(launch.tdxRtmr2 ?? new Uint8Array()), toHex(B));
    assert.equal(launch.tdxMrtd, undefined);
    assert.deepEqual(hostLaunchFromStrings(['nothing of ours']), {});
  });

  for (const [why, text, field] of [
    ['a short value', `cloister.simulated.sev-snp.measurement=${'ab'.repeat(47)}`, 'sev-snp.measurement'],
    ['not hex', `cloister.simulated.tdx.mrtd=${'zz'.repeat(48)}`, 'tdx.mrtd'],
    ['no value', 'cloister.simulated.tdx.rtmr1', 'tdx.rtmr1'],
    ['an unknown member', `cloister.simulated.tdx.rtmr3=${'ab'.repeat(48)}`, 'tdx.rtmr3'],
  ] as const) {
    it(`refuses ${why} with SIMULATED_LAUNCH_INVALID naming it`, () => {
      assert.throws(() => hostLaunchFromStrings([text]), (e: unknown) => e instanceof CloisterError && e.code === 'SIMULATED_LAUNCH_INVALID' && e.field === field);
    });
  }

  it('reads /sys/firmware/dmi/entries/11-N/raw, and finds nothing where there are no OEM strings', async () => {
    const dir = tempDir();
    for (const [name, strings] of [['11-0', ['vendor']], ['11-1', hostLaunchOemStrings({ tdxMrtd: A })]] as const) {
      mkdirSync(join(dir, name));
      writeFileSync(join(dir, name, 'raw'), serializeOemStrings(strings));
    }
    mkdirSync(join(dir, '1-0'));
    writeFileSync(join(dir, '1-0', 'raw'), Uint8Array.from([1, 5, 0, 0]));
    assert.equal(toHex((await readHostLaunch(dir)).tdxMrtd ?? new Uint8Array()), toHex(A));
    assert.deepEqual(await readHostLaunch(join(dir, 'missing')), {});
  });
});
