import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CloisterError } from '../../attestation/errors.js';
import { temporaryDirectories } from '../testing/tempDirs.js';
import { serializeOemStrings } from '../tee/smbios.js';
import { readInstanceKeyIds, type InstanceKeyIdOptions } from './instanceKeyIds.js';
import { ordinalKeyIds, colourLayout } from './keyIdScheme.js';

const tempDir = temporaryDirectories('cloister-instance-key-ids-');
const AZURE_TAG = '7783-7084-3265-9085-8269-3286-77';

/** A fake /sys: SMBIOS OEM strings and DMI identity files. */
function fakeSys(o: { oem?: readonly string[]; dmi?: Record<string, string> }): { smbiosEntries: string; dmiId: string } {
  const root = tempDir();
  const smbiosEntries = join(root, 'entries');
  const dmiId = join(root, 'id');
  mkdirSync(smbiosEntries);
  mkdirSync(dmiId);
  if (o.oem !== undefined) {
    mkdirSync(join(smbiosEntries, '11-0'));
    writeFileSync(join(smbiosEntries, '11-0', 'raw'), serializeOemStrings(o.oem));
  }
  for (const [k, v] of Object.entries(o.dmi ?? { sys_vendor: 'QEMU', product_name: 'Standard PC (Q35 + ICH9, 2009)' })) writeFileSync(join(dmiId, k), `${v}\n`);
  return { smbiosEntries, dmiId };
}

const servers: Server[] = [];
after(() => {
  for (const s of servers) s.closeAllConnections();
  for (const s of servers) s.close();
});

/** A fake metadata server on loopback: `answer` per request, with the request count. */
async function metadataServer(answer: (req: IncomingMessage, res: ServerResponse, n: number) => void): Promise<string> {
  let n = 0;
  const server = createServer((req, res) => {
    answer(req, res, n++);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

/** The GCE metadata server: the attribute at its path, only with Metadata-Flavor: Google. */
const gce = (status: number, body: string): Promise<string> =>
  metadataServer((req, res) => {
    if (req.headers['metadata-flavor'] !== 'Google') return void res.writeHead(403).end();
    if (req.url !== '/computeMetadata/v1/instance/attributes/cloister-key-ids') return void res.writeHead(404).end();
    res.writeHead(status, { 'content-type': 'application/text', 'metadata-flavor': 'Google' }).end(body);
  }).then((u) => `${u}computeMetadata/v1/`);

/** Azure IMDS: the compute metadata as JSON text, only with Metadata: true and the API version asked for. */
const imds = (compute: unknown): Promise<string> =>
  metadataServer((req, res) => {
    if (req.headers.metadata !== 'true') return void res.writeHead(400).end();
    if (req.url !== '/metadata/instance/compute?api-version=2021-02-01') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end(typeof compute === 'string' ? compute : JSON.stringify(compute));
  }).then((u) => `${u}metadata/`);

const ON_GCE = { dmi: { sys_vendor: 'Google', product_name: 'Google Compute Engine' } };
const ON_AZURE = { dmi: { sys_vendor: 'Microsoft Corporation', product_name: 'Virtual Machine', chassis_asset_tag: AZURE_TAG } };
const FAST = { timeoutMs: 200, attempts: 2, retryDelayMs: 0 } as const;

const rejects = async (options: InstanceKeyIdOptions, code: string, message: RegExp): Promise<void> => {
  await assert.rejects(readInstanceKeyIds(options), (e: unknown) => {
    assert.ok(e instanceof CloisterError, String(e));
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    assert.ok(!e.message.includes('\n'));
    return true;
  });
};

describe('ordinalKeyIds: the fleet\'s key ID scheme', () => {
  it('gives node N of a colour 4 IDs from the colour\'s base, 32 nodes per colour, none past them', () => {
    assert.deepEqual(ordinalKeyIds(colourLayout('blue'), 0), { first: 0, last: 3 });
    assert.deepEqual(ordinalKeyIds(colourLayout('blue'), 31), { first: 124, last: 127 });
    assert.deepEqual(ordinalKeyIds(colourLayout('green'), 0), { first: 128, last: 131 });
    assert.deepEqual(ordinalKeyIds(colourLayout('green'), 31), { first: 252, last: 255 });
    for (const n of [32, -1, 0.5, Number.NaN]) assert.equal(ordinalKeyIds(colourLayout('blue'), n), undefined, String(n));
    assert.equal(ordinalKeyIds({ base: 250, perNode: 4, span: 100 }, 1), undefined, 'never past key ID 255');
  });
});

describe('readInstanceKeyIds: a fleet node\'s range from where it runs', () => {
  it('takes the SMBIOS OEM string first, even on a cloud', async () => {
    assert.deepEqual(await readInstanceKeyIds(fakeSys({ oem: ['vendor=1', 'cloister.ohttp-key-ids=8-11'], ...ON_GCE })), { keyIds: { first: 8, last: 11 }, source: 'smbios' });
    assert.deepEqual(await readInstanceKeyIds(fakeSys({ oem: ['cloister.ohttp-key-ids=8-11', 'cloister.ohttp-key-ids=8-11'] })), { keyIds: { first: 8, last: 11 }, source: 'smbios' });
  });

  for (const [why, oem] of [
    ['past 255', ['cloister.ohttp-key-ids=252-256']],
    ['reversed', ['cloister.ohttp-key-ids=11-8']],
    ['not a range', ['cloister.ohttp-key-ids=eight']],
    ['empty', ['cloister.ohttp-key-ids=']],
    ['two different ranges', ['cloister.ohttp-key-ids=0-3', 'cloister.ohttp-key-ids=4-7']],
  ] as const) {
    it(`refuses an SMBIOS range ${why} (INSTANCE_KEY_IDS_INVALID), not falling through to the cloud`, async () => {
      await rejects({ ...fakeSys({ oem, ...ON_GCE }), gceMetadata: 'http://127.0.0.1:1/' }, 'INSTANCE_KEY_IDS_INVALID', /cloister\.ohttp-key-ids/);
    });
  }

  it('refuses a malformed SMBIOS structure with SMBIOS_INVALID', async () => {
    const sys = fakeSys({});
    mkdirSync(join(sys.smbiosEntries, '11-0'));
    writeFileSync(join(sys.smbiosEntries, '11-0', 'raw'), Uint8Array.from([11, 5, 0, 0, 2, 0x41, 0, 0]));
    await rejects(sys, 'SMBIOS_INVALID', /declares 2 strings/);
  });

  it('says so when nothing applies: no SMBIOS string and neither cloud', async () => {
    await rejects(fakeSys({ oem: ['vendor=1'] }), 'INSTANCE_KEY_IDS_UNAVAILABLE', /no SMBIOS OEM string cloister\.ohttp-key-ids=FIRST-LAST, and DMI names neither .* \(sys_vendor "QEMU"/);
  });

  describe('GCE', () => {
    it('reads the instance metadata cloister-key-ids with Metadata-Flavor: Google', async () => {
      const gceMetadata = await gce(200, '8-11');
      assert.deepEqual(await readInstanceKeyIds({ ...fakeSys(ON_GCE), gceMetadata }), { keyIds: { first: 8, last: 11 }, source: 'gce-metadata' });
      assert.deepEqual(await readInstanceKeyIds({ ...fakeSys({ dmi: { product_name: 'Google' } }), gceMetadata }), { keyIds: { first: 8, last: 11 }, source: 'gce-metadata' });
    });

    it('retries a 503 (a maintenance event) and then takes the answer', async () => {
      const gceMetadata = await metadataServer((_req, res, n) => void res.writeHead(n < 1 ? 503 : 200).end(n < 1 ? '' : '132-135')).then((u) => `${u}computeMetadata/v1/`);
      assert.deepEqual(await readInstanceKeyIds({ ...fakeSys(ON_GCE), gceMetadata, ...FAST }), { keyIds: { first: 132, last: 135 }, source: 'gce-metadata' });
    });

    it('refuses a malformed or too large value', async () => {
      await rejects({ ...fakeSys(ON_GCE), gceMetadata: await gce(200, '250-260') }, 'INSTANCE_KEY_IDS_INVALID', /GCE instance metadata cloister-key-ids must be FIRST-LAST .* got "250-260"/);
      await rejects({ ...fakeSys(ON_GCE), gceMetadata: await gce(200, '0-3,4-7') }, 'INSTANCE_KEY_IDS_INVALID', /got "0-3,4-7"/);
    });

    it('stops reading an answer past 256 KiB and says so, not holding an endless answer until the timeout', async () => {
      const endless = await metadataServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/text' });
        const chunk = Buffer.alloc(64 * 1024, 0x38);
        const more = (): void => {
          while (!res.destroyed && res.write(chunk));
          if (!res.destroyed) res.once('drain', more);
        };
        more();
      }).then((u) => `${u}computeMetadata/v1/`);
      await rejects({ ...fakeSys(ON_GCE), gceMetadata: endless, timeoutMs: 5000, attempts: 1 }, 'INSTANCE_KEY_IDS_INVALID', /the GCE metadata server answered more than 262144 bytes/);
    });

    it('names the missing attribute (404)', async () => {
      const gceMetadata = await metadataServer((_req, res) => void res.writeHead(404).end('not found')).then((u) => `${u}computeMetadata/v1/`);
      await rejects({ ...fakeSys(ON_GCE), gceMetadata }, 'INSTANCE_KEY_IDS_UNAVAILABLE', /has no metadata cloister-key-ids .*per-instance-configs\.json/);
    });

    it('gives up on a server that does not answer in time, or at all, naming it', async () => {
      const silent = await metadataServer(() => undefined);
      await rejects({ ...fakeSys(ON_GCE), gceMetadata: `${silent}computeMetadata/v1/`, ...FAST }, 'INSTANCE_KEY_IDS_UNAVAILABLE', /the GCE metadata server at http:\/\/127\.0\.0\.1:\d+\/computeMetadata\/v1\/instance\/attributes\/cloister-key-ids did not answer within 200 ms \(2 attempts\)/);
      const busy = await metadataServer((_req, res) => void res.writeHead(503).end());
      await rejects({ ...fakeSys(ON_GCE), gceMetadata: `${busy}computeMetadata/v1/`, ...FAST }, 'INSTANCE_KEY_IDS_UNAVAILABLE', /answered 503 \(2 attempts\)/);
      const closed = servers.pop() as Server;
      closed.close();
      await rejects({ ...fakeSys(ON_GCE), gceMetadata: `${busy}computeMetadata/v1/`, ...FAST }, 'INSTANCE_KEY_IDS_UNAVAILABLE', /is unreachable \(ECONNREFUSED\) \(2 attempts\)/);
    });
  });

  describe('Azure', () => {
    const instance = (name: string, vmScaleSetName: string, tagsList: unknown[] = []): Record<string, unknown> => ({ name, vmScaleSetName, tagsList, tags: '', vmId: '02aab8a4-74ef-476e-8182-f6d2ba4166a6', azEnvironment: 'AzurePublicCloud' });

    it('takes the tag cloister-key-ids first', async () => {
      const azureImds = await imds(instance('cloister-blue_3', 'cloister-blue', [{ name: 'owner', value: 'x' }, { name: 'cloister-key-ids', value: '200-203' }]));
      assert.deepEqual(await readInstanceKeyIds({ ...fakeSys(ON_AZURE), azureImds }), { keyIds: { first: 200, last: 203 }, source: 'azure-imds-tag' });
    });

    it('matches the tag name in any case, as Azure does (tag names are case-insensitive), rather than fall through to the scale set', async () => {
      const azureImds = await imds(instance('cloister-blue_3', 'cloister-blue', [{ name: 'Cloister-Key-IDs', value: '200-203' }]));
      assert.deepEqual(await readInstanceKeyIds({ ...fakeSys(ON_AZURE), azureImds }), { keyIds: { first: 200, last: 203 }, source: 'azure-imds-tag' });
      const twice = await imds(instance('cloister-blue_3', 'cloister-blue', [{ name: 'cloister-key-ids', value: '200-203' }, { name: 'CLOISTER-KEY-IDS', value: '204-207' }]));
      await rejects({ ...fakeSys(ON_AZURE), azureImds: twice }, 'INSTANCE_KEY_IDS_INVALID', /lists the tag cloister-key-ids 2 times/);
    });

    it('else derives the range from the Uniform scale set\'s instance ID and colour, as the Kubernetes pods do from their ordinal', async () => {
      for (const [name, set, first] of [['cloister-blue_0', 'cloister-blue', 0], ['cloister-blue_5', 'cloister-blue', 20], ['cloister-green_3', 'cloister-green', 140], ['cloister-green_31', 'cloister-green', 252]] as const) {
        const azureImds = await imds(instance(name, set));
        assert.deepEqual(await readInstanceKeyIds({ ...fakeSys({ dmi: { chassis_asset_tag: AZURE_TAG } }), azureImds }), { keyIds: { first, last: first + 3 }, source: 'azure-scale-set' }, name);
      }
      const azureImds = await imds(instance('cloister-green_1', 'cloister-green'));
      assert.equal((await readInstanceKeyIds({ ...fakeSys({ dmi: { sys_vendor: 'Microsoft Corporation' } }), azureImds })).source, 'azure-scale-set');
    });

    for (const [why, compute, code, message] of [
      ['an instance past its colour\'s 32', instance('cloister-blue_32', 'cloister-blue'), 'INSTANCE_KEY_IDS_UNAVAILABLE', /instance 32 of scale set cloister-blue has no key ID range: blue holds 32 instances \(IDs 0-31\)/],
      ['a scale set without a colour', instance('web_2', 'web'), 'INSTANCE_KEY_IDS_UNAVAILABLE', /the scale set "web" names no colour/],
      ['a VM outside a scale set, untagged', instance('examplevmname', ''), 'INSTANCE_KEY_IDS_UNAVAILABLE', /no tag cloister-key-ids and is not an instance of a Uniform scale set \(name "examplevmname", vmScaleSetName ""\)/],
      ['a Flexible scale set (a GUID suffix)', instance('cloister-blue_1a2b3c4d', 'cloister-blue'), 'INSTANCE_KEY_IDS_UNAVAILABLE', /not an instance of a Uniform scale set/],
      ['a malformed tag', instance('cloister-blue_1', 'cloister-blue', [{ name: 'cloister-key-ids', value: '4-7-9' }]), 'INSTANCE_KEY_IDS_INVALID', /Azure tag cloister-key-ids must be FIRST-LAST/],
      ['a tag listed twice', instance('cloister-blue_1', 'cloister-blue', [{ name: 'cloister-key-ids', value: '4-7' }, { name: 'cloister-key-ids', value: '8-11' }]), 'INSTANCE_KEY_IDS_INVALID', /lists the tag cloister-key-ids 2 times/],
      ['a tagsList that is not one', { ...instance('cloister-blue_1', 'cloister-blue'), tagsList: 'a:b' }, 'INSTANCE_KEY_IDS_INVALID', /compute\.tagsList is not a list/],
      ['no name', { vmScaleSetName: 'cloister-blue' }, 'INSTANCE_KEY_IDS_INVALID', /compute\.name and compute\.vmScaleSetName must be strings/],
      ['not JSON', '<html>', 'INSTANCE_KEY_IDS_INVALID', /answered something other than JSON/],
      ['not an object', '[]', 'INSTANCE_KEY_IDS_INVALID', /not a JSON object/],
    ] as const) {
      it(`refuses ${why}`, async () => {
        await rejects({ ...fakeSys(ON_AZURE), azureImds: await imds(compute) }, code, message);
      });
    }

    it('gives up on IMDS that does not answer in time, naming it', async () => {
      const silent = await metadataServer(() => undefined);
      await rejects({ ...fakeSys(ON_AZURE), azureImds: `${silent}metadata/`, ...FAST }, 'INSTANCE_KEY_IDS_UNAVAILABLE', /Azure IMDS at http:\/\/127\.0\.0\.1:\d+\/metadata\/instance\/compute\?api-version=2021-02-01 did not answer within 200 ms/);
    });
  });
});
