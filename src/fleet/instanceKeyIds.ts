// `cloister serve --ohttp-key-ids instance`: a fleet node's key ID range from the machine it runs on, for
// cloud instance groups whose VMs all boot the same measured image and command line (docs/deploy.md "A fleet").
// The range is not secret and need not be measured: the fleet directory refuses a node whose keys lie outside
// the range it was given. Sources, in order; the first that applies decides, and one that says something
// malformed fails the start (INSTANCE_KEY_IDS_INVALID) rather than fall through to another:
//   1. SMBIOS OEM string `cloister.ohttp-key-ids=FIRST-LAST` (../tee/smbios.ts; QEMU `-smbios type=11,value=...`).
//   2. Google Compute Engine, when DMI product_name is "Google Compute Engine" or "Google" (the test of
//      cloud.google.com/go/compute/metadata's systemInfoSuggestsGCE): custom instance metadata
//      `instance/attributes/cloister-key-ids` from the metadata server with `Metadata-Flavor: Google`
//      (cloud.google.com/compute/docs/metadata/querying-metadata; 404 when the key is not set, 503 during
//      maintenance: retried). At 169.254.169.254, the server's address as well as metadata.google.internal's:
//      the image has no resolver configuration.
//   3. Azure, when DMI chassis_asset_tag is Azure's 7783-7084-3265-9085-8269-3286-77 (cloud-init's
//      DataSourceAzure AZURE_CHASSIS_ASSET_TAG) or sys_vendor "Microsoft Corporation": IMDS
//      `instance/compute?api-version=2021-02-01` with `Metadata: true` (learn.microsoft.com/azure/virtual-machines/
//      instance-metadata-service; every primitive a string, missing ones empty). A tag `cloister-key-ids` in
//      `tagsList` ([{name, value}]) if present; else the instance ID of a Uniform scale set, whose VM `name` is
//      `{vmScaleSetName}_{instance-id}` (learn.microsoft.com/azure/virtual-machine-scale-sets/
//      virtual-machine-scale-sets-instance-ids), through keyIdScheme.ts with the colour the scale set's name ends in
//      (scripts/deploy/fleet/azure/scale-set.json names it cloister-blue or cloister-green).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RuntimeError } from '../base/runtimeErrors.js';
import { parseKeyIdRange, type KeyIdRange } from '../ohttp/rotationSchedule.js';
import { DMI_ENTRIES, readOemStrings } from '../tee/smbios.js';
import { colourLayout, isColour, KEY_IDS_PER_NODE, COLOUR_KEY_IDS, ordinalKeyIds } from './keyIdScheme.js';

export const SMBIOS_KEY = 'cloister.ohttp-key-ids';
export const METADATA_KEY = 'cloister-key-ids';
export const DMI_ID = '/sys/class/dmi/id';
export const GCE_METADATA = 'http://169.254.169.254/computeMetadata/v1/';
export const AZURE_IMDS = 'http://169.254.169.254/metadata/';
const AZURE_API_VERSION = '2021-02-01';
const AZURE_CHASSIS_ASSET_TAG = '7783-7084-3265-9085-8269-3286-77';
const MAX_ANSWER_BYTES = 256 * 1024;

/** Which source gave the range, as the server logs it. */
export type InstanceKeyIdSource = 'smbios' | 'gce-metadata' | 'azure-imds-tag' | 'azure-scale-set';

export interface InstanceKeyIds {
  readonly keyIds: KeyIdRange;
  readonly source: InstanceKeyIdSource;
}

export interface InstanceKeyIdOptions {
  /** Default /sys/firmware/dmi/entries. */
  readonly smbiosEntries?: string;
  /** Default /sys/class/dmi/id. */
  readonly dmiId?: string;
  readonly gceMetadata?: string;
  readonly azureImds?: string;
  /** Per request; default 2000. */
  readonly timeoutMs?: number;
  /** Requests per source when the server does not answer, times out or answers 5xx or 429; default 3. */
  readonly attempts?: number;
  readonly retryDelayMs?: number;
}

const invalid = (message: string, field: string): RuntimeError => new RuntimeError('INSTANCE_KEY_IDS_INVALID', message, { field });
const unavailable = (message: string, field: string): RuntimeError => new RuntimeError('INSTANCE_KEY_IDS_UNAVAILABLE', message, { field });

/** The range the value states, or INSTANCE_KEY_IDS_INVALID naming where it came from. */
function rangeOf(value: string, where: string): KeyIdRange {
  const range = parseKeyIdRange(value.trim());
  if (range === undefined) throw invalid(`${where} must be FIRST-LAST with 0 <= FIRST <= LAST <= 255, such as 8-11, got "${value.slice(0, 100)}"`, where);
  return range;
}

/** The range of the SMBIOS OEM strings, undefined when none names one; differing strings are an error. */
export function smbiosKeyIds(strings: readonly string[]): KeyIdRange | undefined {
  const values = [...new Set(strings.filter((s) => s.startsWith(`${SMBIOS_KEY}=`)).map((s) => s.slice(SMBIOS_KEY.length + 1)))];
  if (values.length > 1) throw invalid(`the SMBIOS OEM strings state ${values.length} different ${SMBIOS_KEY}: ${values.map((v) => `"${v.slice(0, 20)}"`).join(', ')}`, SMBIOS_KEY);
  return values[0] === undefined ? undefined : rangeOf(values[0], `SMBIOS OEM string ${SMBIOS_KEY}`);
}

interface Dmi {
  readonly sysVendor: string;
  readonly productName: string;
  readonly chassisAssetTag: string;
}

async function readDmi(dir: string): Promise<Dmi> {
  const field = async (name: string): Promise<string> => (await readFile(join(dir, name), 'latin1').catch(() => '')).trim();
  return { sysVendor: await field('sys_vendor'), productName: await field('product_name'), chassisAssetTag: await field('chassis_asset_tag') };
}

const onGce = (d: Dmi): boolean => d.productName === 'Google Compute Engine' || d.productName === 'Google' || d.sysVendor === 'Google';
const onAzure = (d: Dmi): boolean => d.chassisAssetTag === AZURE_CHASSIS_ASSET_TAG || d.sysVendor === 'Microsoft Corporation';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The answer's text, read only up to MAX_ANSWER_BYTES: a longer one is INSTANCE_KEY_IDS_INVALID, the rest unread. */
async function boundedText(answer: Response, what: string): Promise<string> {
  const reader = answer.body?.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  for (;;) {
    const chunk = await reader?.read();
    if (chunk === undefined || chunk.done) break;
    length += chunk.value.length;
    if (length > MAX_ANSWER_BYTES) {
      await reader?.cancel();
      throw invalid(`${what} answered more than ${MAX_ANSWER_BYTES} bytes`, what);
    }
    chunks.push(chunk.value);
  }
  return new TextDecoder().decode(Buffer.concat(chunks));
}

/** One metadata GET, retried while the server is unreachable or busy; 200 and 404 are answers. */
async function metadataGet(url: string, headers: Record<string, string>, what: string, o: InstanceKeyIdOptions): Promise<{ status: number; body: string }> {
  const attempts = o.attempts ?? 3;
  let last = '';
  for (let i = 0; i < attempts; i++) {
    if (i > 0) await sleep(o.retryDelayMs ?? 500);
    try {
      const answer = await fetch(url, { headers, redirect: 'error', signal: AbortSignal.timeout(o.timeoutMs ?? 2000) });
      if (answer.status === 429 || answer.status >= 500) {
        await answer.body?.cancel();
        last = `answered ${answer.status}`;
        continue;
      }
      return { status: answer.status, body: await boundedText(answer, what) };
    } catch (e) {
      if (e instanceof RuntimeError) throw e;
      const cause = (e as { cause?: { code?: unknown; message?: unknown } }).cause;
      const why = typeof cause?.code === 'string' ? cause.code : typeof cause?.message === 'string' ? cause.message : (e as Error).message;
      last = (e as Error).name === 'TimeoutError' ? `did not answer within ${o.timeoutMs ?? 2000} ms` : `is unreachable (${why})`;
    }
  }
  throw unavailable(`${what} at ${url} ${last} (${attempts} attempt${attempts === 1 ? '' : 's'})`, what);
}

async function gceKeyIds(o: InstanceKeyIdOptions): Promise<InstanceKeyIds> {
  const what = 'the GCE metadata server';
  const url = new URL(`instance/attributes/${METADATA_KEY}`, o.gceMetadata ?? GCE_METADATA).href;
  const { status, body } = await metadataGet(url, { 'Metadata-Flavor': 'Google' }, what, o);
  if (status === 404) throw unavailable(`this GCE instance has no metadata ${METADATA_KEY} (set it per instance: scripts/deploy/fleet/gcp/per-instance-configs.json)`, METADATA_KEY);
  if (status !== 200) throw unavailable(`${what} answered ${status} for ${url}`, what);
  return { keyIds: rangeOf(body, `GCE instance metadata ${METADATA_KEY}`), source: 'gce-metadata' };
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

async function azureKeyIds(o: InstanceKeyIdOptions): Promise<InstanceKeyIds> {
  const what = 'Azure IMDS';
  const url = new URL(`instance/compute?api-version=${AZURE_API_VERSION}`, o.azureImds ?? AZURE_IMDS).href;
  const { status, body } = await metadataGet(url, { Metadata: 'true' }, what, o);
  if (status !== 200) throw unavailable(`${what} answered ${status} for ${url}`, what);
  let compute: unknown;
  try {
    compute = JSON.parse(body);
  } catch {
    throw invalid(`${what} answered something other than JSON for ${url}`, what);
  }
  if (!isRecord(compute)) throw invalid(`${what}'s compute metadata is not a JSON object`, what);
  const tags = compute['tagsList'] ?? [];
  if (!Array.isArray(tags) || !tags.every((t) => isRecord(t) && typeof t['name'] === 'string' && typeof t['value'] === 'string')) throw invalid(`${what}'s compute.tagsList is not a list of {name, value} strings`, 'compute.tagsList');
  // Azure's tag names are case-insensitive (learn.microsoft.com/azure/azure-resource-manager/management/tag-resources):
  // Cloister-Key-Ids is the same tag, kept as it was written.
  const tag = (tags as { name: string; value: string }[]).filter((t) => t.name.toLowerCase() === METADATA_KEY);
  if (tag.length > 1) throw invalid(`${what} lists the tag ${METADATA_KEY} ${tag.length} times`, METADATA_KEY);
  if (tag[0] !== undefined) return { keyIds: rangeOf(tag[0].value, `Azure tag ${METADATA_KEY}`), source: 'azure-imds-tag' };
  const name = compute['name'];
  const scaleSet = compute['vmScaleSetName'];
  if (typeof name !== 'string' || typeof scaleSet !== 'string') throw invalid(`${what}'s compute.name and compute.vmScaleSetName must be strings`, 'compute.name');
  const instance = scaleSet === '' || !name.startsWith(`${scaleSet}_`) ? undefined : name.slice(scaleSet.length + 1);
  if (instance === undefined || !/^\d{1,9}$/.test(instance)) {
    throw unavailable(`this Azure VM has no tag ${METADATA_KEY} and is not an instance of a Uniform scale set (name "${name.slice(0, 80)}", vmScaleSetName "${scaleSet.slice(0, 80)}")`, METADATA_KEY);
  }
  const colour = /-(blue|green)$/.exec(scaleSet)?.[1];
  if (colour === undefined || !isColour(colour)) throw unavailable(`the scale set "${scaleSet.slice(0, 80)}" names no colour (its name must end in -blue or -green), so instance ${instance} has no key ID range; or tag the VM ${METADATA_KEY}`, 'vmScaleSetName');
  const range = ordinalKeyIds(colourLayout(colour), Number(instance));
  if (range === undefined) throw unavailable(`instance ${instance} of scale set ${scaleSet} has no key ID range: ${colour} holds ${COLOUR_KEY_IDS / KEY_IDS_PER_NODE} instances (IDs 0-${COLOUR_KEY_IDS / KEY_IDS_PER_NODE - 1}) of ${KEY_IDS_PER_NODE} key IDs`, 'vmScaleSetName');
  return { keyIds: range, source: 'azure-scale-set' };
}

/** This machine's key ID range, from the first source that applies (the file header); none is an error. */
export async function readInstanceKeyIds(o: InstanceKeyIdOptions = {}): Promise<InstanceKeyIds> {
  const fromSmbios = smbiosKeyIds(await readOemStrings(o.smbiosEntries ?? DMI_ENTRIES));
  if (fromSmbios !== undefined) return { keyIds: fromSmbios, source: 'smbios' };
  const dmi = await readDmi(o.dmiId ?? DMI_ID);
  if (onGce(dmi)) return gceKeyIds(o);
  if (onAzure(dmi)) return azureKeyIds(o);
  throw unavailable(
    `--ohttp-key-ids instance found no range for this machine: no SMBIOS OEM string ${SMBIOS_KEY}=FIRST-LAST, and DMI names neither Google Compute Engine nor Azure (sys_vendor "${dmi.sysVendor.slice(0, 60)}", product_name "${dmi.productName.slice(0, 60)}")`,
    'instance',
  );
}
