// Offline validation of the coco/ overlay (docs/deploy.md "Measured pods"), a design made concrete: its JSON patch
// applied to both node StatefulSets as kustomize would (RFC 6902, modelled here: kustomize is not run) gives objects
// valid against the Kubernetes 1.36 schemas, pods of the CoCo runtime class without the host's configfs, and an
// init-data annotation that is initdata.toml, whose HOST_DATA and MRCONFIGID are the committed policy files' and
// whose image security policy names the StatefulSets' own image digest. No cluster, CoCo runtime or genpolicy here.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { initDataBinding } from '../../../attestation/measure/initData.js';
import { assertSnpPolicy } from '../../../attestation/snp/policy.js';
import { assertTdxPolicy } from '../../../attestation/tdx/policy.js';
import { baseObjects, isRecord, K8S, schemaErrors } from './manifestCheck.js';
import { at, loadManifests } from './renderKubernetes.js';
import { GUEST_REST_API, INIT_DATA_ANNOTATION, KERNEL_PARAMS_ANNOTATION, renderCoco, RUNTIME_CLASS, VCPUS_ANNOTATION } from './renderCoco.js';

const COCO = join(K8S, 'coco');
const read = (f: string): string => readFileSync(join(COCO, f), 'utf8');
const toml = (): Uint8Array => new Uint8Array(readFileSync(join(COCO, 'initdata.toml')));

interface Op { readonly op: string; readonly path: string; readonly value?: unknown }

// RFC 6902 add, remove and test on a JSON pointer, as kustomize's JSON patch does them (array indexes and object keys).
function applyJsonPatch(target: unknown, ops: readonly Op[]): unknown {
  const doc = structuredClone(target);
  for (const { op, path, value } of ops) {
    const keys = path.split('/').slice(1).map((k) => k.replaceAll('~1', '/').replaceAll('~0', '~'));
    const last = keys.pop() as string;
    const parent = keys.reduce<unknown>((v, k) => (Array.isArray(v) ? v[Number(k)] : isRecord(v) ? v[k] : undefined), doc);
    const get = (): unknown => (Array.isArray(parent) ? parent[Number(last)] : isRecord(parent) ? parent[last] : undefined);
    if (!Array.isArray(parent) && !isRecord(parent)) throw new Error(`${op} ${path}: no parent`);
    if (op === 'test') {
      assert.deepEqual(get(), value, `test ${path}`);
    } else if (op === 'remove') {
      if (get() === undefined) throw new Error(`remove ${path}: nothing there`);
      if (Array.isArray(parent)) parent.splice(Number(last), 1);
      else Reflect.deleteProperty(parent, last);
    } else if (op === 'add') {
      if (Array.isArray(parent)) parent.splice(last === '-' ? parent.length : Number(last), 0, value);
      else parent[last] = value;
    } else throw new Error(`unmodelled op ${op}`);
  }
  return doc;
}

function cocoObjects(patchOps: readonly Op[] = parse(read('pod-vm.yaml')) as Op[]): unknown[] {
  const kustomization = loadManifests(join(COCO, 'kustomization.yaml'))[0];
  assert.deepEqual(at(kustomization, 'resources'), ['../base']);
  assert.deepEqual(at(kustomization, 'patches'), [{ path: 'pod-vm.yaml', target: { kind: 'StatefulSet', labelSelector: 'app=cloister-node' } }]);
  return baseObjects().map((o) => (at(o, 'kind') === 'StatefulSet' && at(o, 'metadata', 'labels', 'app') === 'cloister-node' ? applyJsonPatch(o, patchOps) : o));
}

describe('coco/ overlay: node pods as Confidential Containers pod VMs (a design; validated offline only)', () => {
  it('pod-vm.yaml and the policy files are what renderCoco writes from initdata.toml', async () => {
    const rendered = await renderCoco(toml());
    const run = 'run: node dist/scripts/deploy/fleet/renderCoco.js --dir scripts/deploy/fleet/kubernetes/coco';
    assert.equal(read('policy-snp.json'), rendered.snpPolicy, run);
    assert.equal(read('policy-tdx.json'), rendered.tdxPolicy, run);
    // gzip's bytes may differ between zlib builds; the annotation is compared by what it decodes to, below.
    const withoutAnnotation = (text: string): unknown => (parse(text) as Op[]).map((o) => (o.path === '/spec/template/metadata/annotations' ? { ...o, value: { ...(o.value as object), [INIT_DATA_ANNOTATION]: '' } } : o));
    assert.deepEqual(withoutAnnotation(read('pod-vm.yaml')), withoutAnnotation(rendered.podVmPatch), run);
  });

  it('the patched StatefulSets are valid, of the CoCo runtime class, with neither the host\'s configfs nor privilege, and a fixed vCPU count', () => {
    const objects = cocoObjects();
    assert.deepEqual(objects.flatMap(schemaErrors), []);
    const sets = objects.filter((o) => at(o, 'kind') === 'StatefulSet');
    assert.equal(sets.length, 2);
    for (const s of sets) {
      const pod = at(s, 'spec', 'template');
      assert.equal(at(pod, 'spec', 'runtimeClassName'), RUNTIME_CLASS);
      assert.deepEqual((at(pod, 'spec', 'volumes') as unknown[]).filter((v) => at(v, 'hostPath') !== undefined), []);
      assert.deepEqual((at(pod, 'spec', 'containers', 0, 'volumeMounts') as unknown[]).map((m) => at(m, 'name')), ['tmp']);
      assert.equal(at(pod, 'spec', 'containers', 0, 'securityContext', 'privileged'), undefined);
      assert.equal(at(pod, 'metadata', 'annotations', KERNEL_PARAMS_ANNOTATION), GUEST_REST_API);
      assert.equal(at(pod, 'spec', 'containers', 0, 'resources', 'limits', 'cpu'), undefined, 'no CPU limit adds vCPUs to the measured count');
      assert.match(String(at(pod, 'metadata', 'annotations', VCPUS_ANNOTATION)), /^[1-9]\d*$/);
    }
  });

  it('the patch refuses a base whose first volume is not the configfs one, rather than remove another', () => {
    const ops = parse(read('pod-vm.yaml')) as Op[];
    const sts = baseObjects().find((o) => at(o, 'kind') === 'StatefulSet');
    const reordered = structuredClone(sts) as { spec: { template: { spec: { volumes: unknown[] } } } };
    reordered.spec.template.spec.volumes.reverse();
    assert.throws(() => applyJsonPatch(reordered, ops), /test \/spec\/template\/spec\/volumes\/0\/name/);
  });

  it('the annotation is initdata.toml; its HOST_DATA and MRCONFIGID are the policy files\', which the verifier\'s policy checks accept', async () => {
    const committed = toml();
    for (const s of cocoObjects().filter((o) => at(o, 'kind') === 'StatefulSet')) {
      const annotation = String(at(s, 'spec', 'template', 'metadata', 'annotations', INIT_DATA_ANNOTATION));
      assert.deepEqual(new Uint8Array(gunzipSync(Buffer.from(annotation, 'base64'))), committed);
    }
    const binding = await initDataBinding(committed);
    const snp = assertSnpPolicy(JSON.parse(read('policy-snp.json')) as unknown);
    const tdx = assertTdxPolicy(JSON.parse(read('policy-tdx.json')) as unknown);
    assert.deepEqual([snp.hostData, tdx.mrConfigId], [binding.hostData, binding.mrConfigId]);
  });

  it('the init-data\'s image security policy accepts exactly the image the StatefulSets run, by digest, and rejects by default', () => {
    const images = new Set(baseObjects().filter((o) => at(o, 'kind') === 'StatefulSet').map((s) => String(at(s, 'spec', 'template', 'spec', 'containers', 0, 'image'))));
    assert.equal(images.size, 1);
    const cdh = /"cdh\.toml" = '''\n([\s\S]*?)'''/.exec(read('initdata.toml'))?.[1] ?? '';
    const policyJson = /image_security_policy = """\n([\s\S]*?)"""/.exec(cdh)?.[1] ?? '';
    const policy = JSON.parse(policyJson) as unknown;
    assert.deepEqual(at(policy, 'default'), [{ type: 'reject' }]);
    assert.deepEqual(Object.keys(at(policy, 'transports', 'docker') as object), [...images]);
  });
});
