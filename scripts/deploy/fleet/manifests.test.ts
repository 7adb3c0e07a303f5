// Offline validation of the fleet's deployment files (docs/deploy.md "A fleet"), since no cluster or cloud account
// is reachable here: every Kubernetes object (the base, and the base with each overlay's patch merged) against the
// Kubernetes 1.36 OpenAPI schemas that kubernetes-models 5.1.0 compiles (types, enums, required fields, formats; those
// schemas do not reject unknown fields, which a real API server's strict validation would); the fleet's own
// invariants (key ID ranges from ordinals, computed by the container's real command; digest-pinned images;
// generated.yaml current); HAProxy's own check of the generated configuration where haproxy is installed; and the
// GCP and Azure templates against the shape of the fields they use (not against the clouds' APIs).
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { colourLayout, COLOUR_KEY_IDS, isColour, KEY_IDS_PER_NODE } from '../../../src/fleet/keyIdScheme.js';
import { BASE, baseObjects, DIR, isRecord, K8S, mergePatch, overlayObjects, OVERLAYS, schemaErrors } from './manifestCheck.js';
import { at, fleetNodes, loadManifests, nodeSets, renderGenerated } from './renderKubernetes.js';

const MAX_ORDINAL_TRIED = 64;

const podSpecs = (o: unknown): unknown[] => [at(o, 'spec', 'template', 'spec')].filter((s) => s !== undefined);
const containers = (o: unknown): unknown[] => podSpecs(o).flatMap((s) => (at(s, 'containers') as unknown[] | undefined) ?? []);

// The serve container's own command, run by /bin/sh with a stand-in `node` that prints its arguments.
const fakeBin = mkdtempSync(join(tmpdir(), 'cloister-fleet-manifests-'));
writeFileSync(join(fakeBin, 'node'), '#!/bin/sh\nprintf "%s\\n" "$@"\n');
chmodSync(join(fakeBin, 'node'), 0o755);

function runServeCommand(sts: unknown, ordinal: number): { status: number | null; args: string[]; stderr: string } {
  const serve = containers(sts)[0];
  const command = at(serve, 'command') as string[];
  const env: Record<string, string> = { PATH: `${fakeBin}:/usr/bin:/bin`, ORDINAL: String(ordinal) };
  for (const e of at(serve, 'env') as unknown[]) {
    const v = at(e, 'value');
    if (typeof v === 'string') env[String(at(e, 'name'))] = v;
  }
  assert.deepEqual(at(serve, 'env', 0), { name: 'ORDINAL', valueFrom: { fieldRef: { fieldPath: "metadata.labels['apps.kubernetes.io/pod-index']" } } });
  const r = spawnSync(command[0] as string, command.slice(1), { env, encoding: 'utf8' });
  return { status: r.status, args: r.stdout.split('\n').filter((l) => l !== ''), stderr: r.stderr };
}

describe('fleet Kubernetes manifests (validated offline; never applied to a cluster here)', () => {
  it('every base object is valid against the Kubernetes 1.36 schemas', () => {
    const objects = baseObjects();
    assert.deepEqual(objects.flatMap(schemaErrors), []);
    assert.deepEqual(objects.map((o) => at(o, 'metadata', 'namespace') ?? at(o, 'metadata', 'name')).filter((n) => n !== 'cloister'), []);
  });

  it('the schema check is not vacuous: a mutated StatefulSet fails, naming each bad path', () => {
    const sts = baseObjects().find((o) => at(o, 'kind') === 'StatefulSet');
    const bad = mergePatch(sts, { spec: { replicas: 'four', updateStrategy: { type: 'Sometimes' }, selector: null, template: { spec: { restartPolicy: 'Never!' } } } });
    const errors = schemaErrors(bad).join('\n');
    for (const path of ['/spec/replicas', '/spec/updateStrategy/type', '/spec/selector', '/spec/template/spec/restartPolicy']) assert.ok(errors.includes(`${path} `), `${path} in\n${errors}`);
    assert.deepEqual(schemaErrors({ apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'x' } }), ['PodDisruptionBudget/x: no schema here for policy/v1 PodDisruptionBudget']);
  });

  for (const overlay of OVERLAYS) {
    it(`${overlay}: the kustomization's resources exist, and the node StatefulSets with its patch are valid and land on confidential nodes only`, () => {
      const base = loadManifests(join(BASE, 'kustomization.yaml'))[0];
      for (const r of at(base, 'resources') as string[]) assert.ok(existsSync(join(BASE, r)), r);
      assert.deepEqual(at(loadManifests(join(K8S, overlay, 'kustomization.yaml'))[0], 'resources'), ['../base']);
      const objects = overlayObjects(overlay);
      assert.deepEqual(objects.flatMap(schemaErrors), []);
      const sets = objects.filter((o) => at(o, 'kind') === 'StatefulSet');
      assert.equal(sets.length, 2);
      for (const s of sets) {
        const spec = podSpecs(s)[0];
        const selector = at(spec, 'nodeSelector') as Record<string, string>;
        if (overlay === 'gke') assert.equal(selector['cloud.google.com/gke-confidential-nodes-instance-type'], 'SEV_SNP');
        else {
          assert.equal(selector['kubernetes.azure.com/agentpool'], 'cvmpool');
          const sizes = at(spec, 'affinity', 'nodeAffinity', 'requiredDuringSchedulingIgnoredDuringExecution', 'nodeSelectorTerms', 0, 'matchExpressions', 0, 'values') as string[];
          assert.deepEqual(sizes.filter((z) => !/^Standard_[DE]C\d+as_v5$/.test(z)), []);
        }
        assert.deepEqual(at(spec, 'tolerations'), [{ key: 'cloister.dev/confidential', operator: 'Equal', value: 'true', effect: 'NoSchedule' }]);
        assert.equal(at(s, 'spec', 'template', 'spec', 'containers', 0, 'name'), 'serve', 'the patch keeps the containers');
      }
    });
  }

  it('key ID ranges from ordinals: the real command gives each pod its own range, never overlapping, and refuses past its colour\'s half', () => {
    const sets = baseObjects().filter((o) => at(o, 'kind') === 'StatefulSet');
    const owner = new Map<number, string>();
    for (const sts of sets) {
      const name = String(at(sts, 'metadata', 'name'));
      let started = 0;
      for (let ordinal = 0; ordinal < MAX_ORDINAL_TRIED; ordinal++) {
        const r = runServeCommand(sts, ordinal);
        if (r.status !== 0) {
          assert.equal(r.status, 1);
          assert.match(r.stderr, new RegExp(`ordinal ${ordinal} has no key ID range`));
          continue;
        }
        started++;
        assert.deepEqual(r.args.slice(0, 2), ['/app/dist/src/cli/main.js', 'serve']);
        const range = r.args[r.args.indexOf('--ohttp-key-ids') + 1] ?? '';
        const m = /^(\d+)-(\d+)$/.exec(range);
        assert.ok(m !== null, `${name}-${ordinal}: --ohttp-key-ids ${range}`);
        const [first, last] = [Number(m[1]), Number(m[2])];
        assert.ok(first <= last && last <= 255, `${name}-${ordinal}: ${range}`);
        for (let id = first; id <= last; id++) {
          assert.equal(owner.get(id), undefined, `key ID ${id}: ${name}-${ordinal} and ${String(owner.get(id))}`);
          owner.set(id, `${name}-${ordinal}`);
        }
        assert.equal(r.args.filter((a) => a === '--ohttp-key-ids').length, 1);
      }
      assert.equal(started, 32, `${name}: ordinals 0-31 start, the others refuse`);
      assert.ok((at(sts, 'spec', 'replicas') as number) <= started, `${name}: replicas within its range`);
    }
    assert.equal(owner.size, 256, 'the two colours share the 256 key IDs of one gateway URL');
    // The pods' shell arithmetic runs the fleet's scheme (src/fleet/keyIdScheme.ts), which an Azure node also uses.
    for (const s of nodeSets(sets)) {
      assert.ok(isColour(s.colour), s.colour);
      assert.deepEqual({ base: s.base, perNode: s.perNode }, colourLayout(s.colour), s.name);
    }
    // What the directory and HAProxy are told is what the pods compute.
    for (const n of fleetNodes(nodeSets(sets))) {
      const sts = sets.find((s) => n.name.startsWith(`${String(at(s, 'metadata', 'name'))}-`));
      const args = runServeCommand(sts, Number(n.name.split('-').at(-1))).args;
      assert.equal(args[args.indexOf('--ohttp-key-ids') + 1], `${n.keyIds.first}-${n.keyIds.last}`);
    }
  });

  it('every image is pinned by digest, none by tag alone or latest', () => {
    const images = [...baseObjects(), ...OVERLAYS.flatMap(overlayObjects)].flatMap(containers).map((c) => String(at(c, 'image')));
    assert.ok(images.length >= 3);
    assert.deepEqual(images.filter((i) => !/^[a-z0-9.-]+(\/[a-z0-9._-]+)+@sha256:[0-9a-f]{64}$/.test(i) || i.includes(':latest')), []);
  });

  it('the headless Service selects both colours and is each StatefulSet\'s serviceName; HAProxy and the directory are wired to their Services', () => {
    const objects = baseObjects();
    const byName = (kind: string, name: string): unknown => objects.find((o) => at(o, 'kind') === kind && at(o, 'metadata', 'name') === name);
    const nodesService = byName('Service', 'cloister-nodes');
    assert.equal(at(nodesService, 'spec', 'clusterIP'), 'None');
    for (const s of objects.filter((o) => at(o, 'kind') === 'StatefulSet')) {
      assert.equal(at(s, 'spec', 'serviceName'), 'cloister-nodes');
      assert.equal(at(s, 'spec', 'updateStrategy', 'type'), 'OnDelete');
      const labels = at(s, 'spec', 'template', 'metadata', 'labels') as Record<string, string>;
      for (const [k, v] of Object.entries(at(nodesService, 'spec', 'selector') as Record<string, string>)) assert.equal(labels[k], v);
    }
    assert.equal(at(byName('Deployment', 'cloister-gateway'), 'spec', 'template', 'spec', 'volumes', 0, 'configMap', 'name'), 'cloister-gateway-haproxy');
    assert.ok(byName('ConfigMap', 'cloister-gateway-haproxy') !== undefined && byName('Service', 'cloister-fleet') !== undefined);
  });

  it('generated.yaml is what renderKubernetes writes from nodes.yaml; a draining colour stays routed but leaves the directory', () => {
    const sets = nodeSets(loadManifests(join(BASE, 'nodes.yaml')));
    assert.equal(readFileSync(join(BASE, 'generated.yaml'), 'utf8'), renderGenerated({ sets }), 'run: node dist/scripts/deploy/fleet/renderKubernetes.js --nodes scripts/deploy/fleet/kubernetes/base/nodes.yaml --out scripts/deploy/fleet/kubernetes/base/generated.yaml');
    const upgrading = sets.map((s) => ({ ...s, replicas: 2 }));
    const docs = renderGenerated({ sets: upgrading, draining: ['blue'] }).split('\n---\n');
    const map = docs[0] ?? '';
    const directoryArgs = docs[1] ?? '';
    for (const name of ['cloister-node-blue-1', 'cloister-node-green-1']) assert.match(map, new RegExp(`server ${name} ${name}\\.cloister-nodes\\.cloister\\.svc\\.cluster\\.local:8080 ssl verify none resolvers cluster`));
    assert.match(map, /^ {4}07 cloister-node-blue-1$/m);
    assert.match(map, /^ {4}87 cloister-node-green-1$/m);
    assert.doesNotMatch(directoryArgs, /cloister-node-blue-/);
    assert.match(directoryArgs, /- cloister-node-green-1=https:\/\/cloister-node-green-1\.cloister-nodes\.cloister\.svc\.cluster\.local:8080=132-135$/m);
  });

  const haproxy = ['/usr/sbin/haproxy', '/usr/bin/haproxy'].find((p) => existsSync(p));
  it('HAProxy accepts the generated configuration (haproxy -c)', { skip: haproxy === undefined ? 'haproxy is not installed (Debian: apt-get install haproxy)' : false }, () => {
    const configMap = loadManifests(join(BASE, 'generated.yaml'))[0];
    const dir = mkdtempSync(join(tmpdir(), 'cloister-fleet-haproxy-'));
    writeFileSync(join(dir, 'keyids.map'), String(at(configMap, 'data', 'keyids.map')));
    // Here, paths in a temporary directory, and no name lookups: the cluster's names exist only in the cluster.
    const cfg = String(at(configMap, 'data', 'haproxy.cfg')).replaceAll('/etc/haproxy/', `${dir}/`).replace('/run/haproxy/', `${dir}/`).replaceAll('init-addr last,libc,none', 'init-addr none');
    writeFileSync(join(dir, 'haproxy.cfg'), cfg);
    const out = execFileSync(haproxy as string, ['-c', '-f', join(dir, 'haproxy.cfg')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    assert.match(out, /Configuration file is valid/);
  });
});

// The cloud templates: the shape of the fields they use, as the clouds' API references give them.
type Shape = 'string' | 'number' | 'boolean' | readonly [Shape] | RegExp | readonly (string | number | boolean)[] | { readonly [k: string]: Shape };

/** Every path where `value` differs from `shape` (missing, wrong type, a value outside an enum, an unknown key). */
function shapeErrors(value: unknown, shape: Shape, path = '$'): string[] {
  if (shape instanceof RegExp) return typeof value === 'string' && shape.test(value) ? [] : [`${path}: ${JSON.stringify(value)} does not match ${String(shape)}`];
  if (typeof shape === 'string') return typeof value === shape ? [] : [`${path}: not a ${shape}`];
  if (Array.isArray(shape)) {
    if (shape.length === 1 && typeof shape[0] !== 'string' && typeof shape[0] !== 'number' && typeof shape[0] !== 'boolean') {
      const item = shape[0] as Shape;
      return Array.isArray(value) && value.length > 0 ? value.flatMap((v, i) => shapeErrors(v, item, `${path}[${i}]`)) : [`${path}: not a non-empty array`];
    }
    return (shape as readonly unknown[]).includes(value) ? [] : [`${path}: ${JSON.stringify(value)} not one of ${JSON.stringify(shape)}`];
  }
  if (!isRecord(value)) return [`${path}: not an object`];
  const fields = shape as { readonly [k: string]: Shape };
  return [
    ...Object.keys(value).filter((k) => !(k in fields)).map((k) => `${path}.${k}: unknown`),
    ...Object.entries(fields).flatMap(([k, s]) => (k in value ? shapeErrors(value[k], s, `${path}.${k}`) : [`${path}.${k}: missing`])),
  ];
}

const GCP_NAME = /^[a-z]([-a-z0-9_A-Z]*[a-z0-9A-Z_])?$/;
const FIXED = { fixed: 'number' } as const;
const GCP_TEMPLATE: Shape = {
  name: GCP_NAME,
  description: 'string',
  properties: {
    machineType: /^(n2d|c3)-(standard|highmem|highcpu)-\d+$/,
    minCpuPlatform: ['AMD Milan', 'AMD Genoa'],
    confidentialInstanceConfig: { confidentialInstanceType: ['SEV_SNP', 'TDX'] },
    scheduling: { onHostMaintenance: ['TERMINATE'], automaticRestart: 'boolean' },
    shieldedInstanceConfig: { enableSecureBoot: 'boolean', enableVtpm: 'boolean', enableIntegrityMonitoring: 'boolean' },
    disks: [{ boot: 'boolean', autoDelete: 'boolean', type: ['PERSISTENT'], initializeParams: { sourceImage: /^projects\/[^/]+\/global\/images\/[^/]+$/, diskType: 'string', diskSizeGb: /^\d+$/ } }],
    networkInterfaces: [{ subnetwork: /^projects\/[^/]+\/regions\/[^/]+\/subnetworks\/[^/]+$/ }],
    labels: { app: 'string' },
  },
};
const GCP_MIG: Shape = {
  name: GCP_NAME,
  description: 'string',
  baseInstanceName: GCP_NAME,
  instanceTemplate: /^projects\/[^/]+\/global\/instanceTemplates\/[^/]+$/,
  targetSize: 'number',
  distributionPolicy: { targetShape: ['EVEN', 'BALANCED', 'ANY', 'ANY_SINGLE_ZONE'] },
  autoHealingPolicies: [{ healthCheck: /^projects\/[^/]+\/global\/healthChecks\/[^/]+$/, initialDelaySec: 'number' }],
  updatePolicy: {
    type: ['PROACTIVE', 'OPPORTUNISTIC'],
    minimalAction: ['NONE', 'REFRESH', 'RESTART', 'REPLACE'],
    mostDisruptiveAllowedAction: ['NONE', 'REFRESH', 'RESTART', 'REPLACE'],
    replacementMethod: ['RECREATE', 'SUBSTITUTE'],
    maxSurge: FIXED,
    maxUnavailable: FIXED,
    instanceRedistributionType: ['NONE', 'PROACTIVE'],
  },
};
const GCP_PER_INSTANCE: Shape = { description: 'string', perInstanceConfigs: [{ name: GCP_NAME, preservedState: { metadata: { 'cloister-key-ids': /^\d+-\d+$/ } } }] };
const ARM_EXPR = /^\[.+\]$/;
const AZURE_SCALE_SET: Shape = {
  $schema: /^https:\/\/schema\.management\.azure\.com\/schemas\/2019-04-01\/deploymentTemplate\.json#$/,
  contentVersion: 'string',
  metadata: { description: 'string' },
  parameters: {
    colour: { type: ['string'], allowedValues: [['blue', 'green']] },
    instanceCount: { type: ['int'], defaultValue: 'number', minValue: 'number', maxValue: 'number' },
    imageVersionId: { type: ['string'], metadata: { description: 'string' } },
    subnetId: { type: ['string'] },
    healthProbeId: { type: ['string'], metadata: { description: 'string' } },
  },
  resources: [
    {
      type: ['Microsoft.Compute/virtualMachineScaleSets'],
      apiVersion: /^\d{4}-\d{2}-\d{2}$/,
      name: ARM_EXPR,
      location: ARM_EXPR,
      comments: 'string',
      sku: { name: /^Standard_[DE]C\d+as_v5$/, tier: ['Standard'], capacity: ARM_EXPR },
      properties: {
        orchestrationMode: ['Uniform'],
        overprovision: [false],
        upgradePolicy: {
          mode: ['Rolling'],
          rollingUpgradePolicy: { maxBatchInstancePercent: 'number', maxUnhealthyInstancePercent: 'number', maxUnhealthyUpgradedInstancePercent: 'number', pauseTimeBetweenBatches: /^PT\d+S$/, maxSurge: 'boolean' },
        },
        virtualMachineProfile: {
          securityProfile: { securityType: ['ConfidentialVM'], uefiSettings: { secureBootEnabled: 'boolean', vTpmEnabled: [true] } },
          storageProfile: {
            imageReference: { id: ARM_EXPR },
            osDisk: { createOption: ['FromImage'], caching: ['None', 'ReadOnly', 'ReadWrite'], managedDisk: { storageAccountType: 'string', securityProfile: { securityEncryptionType: ['VMGuestStateOnly', 'DiskWithVMGuestState'] } } },
          },
          networkProfile: {
            healthProbe: { id: ARM_EXPR },
            networkInterfaceConfigurations: [{ name: 'string', properties: { primary: 'boolean', ipConfigurations: [{ name: 'string', properties: { subnet: { id: ARM_EXPR } } }] } }],
          },
        },
      },
    },
  ],
};

const json = (file: string): unknown => JSON.parse(readFileSync(join(DIR, file), 'utf8')) as unknown;

describe('fleet cloud templates (shape only; never created in GCP or Azure here)', () => {
  it('every template in gcp/ and azure/ is checked', () => {
    assert.deepEqual([...readdirSync(join(DIR, 'gcp')).map((f) => `gcp/${f}`), ...readdirSync(join(DIR, 'azure')).map((f) => `azure/${f}`)].sort(), ['azure/scale-set.json', 'gcp/instance-group-manager.json', 'gcp/instance-template.json', 'gcp/per-instance-configs.json']);
  });

  it('GCP: a confidential instance template, a stateful regional MIG with a rolling update policy, per-instance key ID ranges', () => {
    assert.deepEqual(shapeErrors(json('gcp/instance-template.json'), GCP_TEMPLATE), []);
    assert.deepEqual(shapeErrors(json('gcp/instance-group-manager.json'), GCP_MIG), []);
    const perInstance = json('gcp/per-instance-configs.json');
    assert.deepEqual(shapeErrors(perInstance, GCP_PER_INSTANCE), []);
    // Names and ranges as the blue StatefulSet's pods have them; a regional MIG recreating in place wants
    // maxSurge 0 and maxUnavailable 0 or at least its zones (3).
    const sets = nodeSets(loadManifests(join(BASE, 'nodes.yaml')));
    const blue = fleetNodes(sets).filter((n) => n.colour === 'blue');
    assert.deepEqual(at(perInstance, 'perInstanceConfigs'), blue.map((n) => ({ name: n.name, preservedState: { metadata: { 'cloister-key-ids': `${n.keyIds.first}-${n.keyIds.last}` } } })));
    const mig = json('gcp/instance-group-manager.json');
    assert.equal(at(mig, 'targetSize'), blue.length);
    assert.equal(at(mig, 'updatePolicy', 'maxSurge', 'fixed'), 0);
    assert.ok((at(mig, 'updatePolicy', 'maxUnavailable', 'fixed') as number) >= 3);
  });

  it('Azure: a Uniform scale set of confidential VMs with a rolling upgrade policy, at most 32 per colour, named by colour', () => {
    const template = json('azure/scale-set.json');
    assert.deepEqual(shapeErrors(template, AZURE_SCALE_SET), []);
    assert.equal(at(template, 'parameters', 'instanceCount', 'maxValue'), COLOUR_KEY_IDS / KEY_IDS_PER_NODE);
    // Instances are named cloister-COLOUR_N: a node takes its colour from the scale set's name (src/fleet/instanceKeyIds.ts).
    assert.equal(at(template, 'resources', 0, 'name'), "[concat('cloister-', parameters('colour'))]");
  });

  it('the shape check itself names each bad path', () => {
    assert.deepEqual(shapeErrors({ a: 'x', b: [1], z: 1 }, { a: ['y'], b: [{ c: 'string' }], d: 'number' }), ['$.z: unknown', '$.a: "x" not one of ["y"]', '$.b[0]: not an object', '$.d: missing']);
  });
});
