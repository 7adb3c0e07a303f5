// The coco/ overlay (docs/deploy.md "Measured pods"), a design made concrete rather than a deployable fleet: the node
// StatefulSets as Confidential Containers pods (upstream CoCo's runtime class kata-qemu-snp), each pod VM launched
// with coco/initdata.toml as its init-data, and the HOST_DATA (SEV-SNP) and MRCONFIGID (TDX) a client then pins, as
// policy files. Writes coco/pod-vm.yaml (a JSON patch of both StatefulSets) and coco/policy-snp.json,
// coco/policy-tdx.json from coco/initdata.toml. coco.test.ts checks they are current.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { stringify } from 'yaml';
import { initDataBinding } from '../../../attestation/measure/initData.js';
import { isMain, scriptArgs } from '../../scriptArgs.js';

export const RUNTIME_CLASS = 'kata-qemu-snp';
export const INIT_DATA_ANNOTATION = 'io.katacontainers.config.hypervisor.cc_init_data';
export const KERNEL_PARAMS_ANNOTATION = 'io.katacontainers.config.hypervisor.kernel_params';
export const VCPUS_ANNOTATION = 'io.katacontainers.config.hypervisor.default_vcpus';
/** The pod VM's vCPUs: part of the SEV-SNP launch measurement, so fixed (the containers set no CPU limit to add to it). */
export const POD_VM_VCPUS = 2;
/** The attestation agent's REST API serves evidence only with this on the guest kernel command line (measured). */
export const GUEST_REST_API = 'agent.guest_components_rest_api=attestation';

/** The init-data annotation's value: base64 of the gzipped TOML, as Kata's runtime reads it. */
export const initDataAnnotation = (toml: Uint8Array): string => gzipSync(toml).toString('base64');

export interface RenderedCoco {
  readonly podVmPatch: string;
  readonly snpPolicy: string;
  readonly tdxPolicy: string;
}

export async function renderCoco(toml: Uint8Array): Promise<RenderedCoco> {
  const binding = await initDataBinding(toml);
  // JSON patch (RFC 6902), which kustomize applies to each node StatefulSet: the `test` operations make it fail
  // rather than remove the wrong volume if nodes.yaml's order changes.
  const ops = [
    { op: 'add', path: '/spec/template/spec/runtimeClassName', value: RUNTIME_CLASS },
    { op: 'add', path: '/spec/template/metadata/annotations', value: { [INIT_DATA_ANNOTATION]: initDataAnnotation(toml), [KERNEL_PARAMS_ANNOTATION]: GUEST_REST_API, [VCPUS_ANNOTATION]: String(POD_VM_VCPUS) } },
    { op: 'test', path: '/spec/template/spec/volumes/0/name', value: 'tsm' },
    { op: 'remove', path: '/spec/template/spec/volumes/0' },
    { op: 'test', path: '/spec/template/spec/containers/0/volumeMounts/0/name', value: 'tsm' },
    { op: 'remove', path: '/spec/template/spec/containers/0/volumeMounts/0' },
    { op: 'remove', path: '/spec/template/spec/containers/0/securityContext/privileged' },
  ];
  const podVmPatch = `# Written by scripts/deploy/fleet/renderCoco.ts from initdata.toml; do not edit. The node pods as Confidential
# Containers pod VMs (docs/deploy.md "Measured pods"): runtime class, init-data (HOST_DATA ${binding.hostData.slice(0, 16)}...),
# the attestation agent's evidence API on the (measured) kernel command line, a fixed vCPU count; no host configfs,
# not privileged. NOT deployable as it stands: cloister serve has no evidence source for the pod VM yet, and the
# init-data's agent policy is a placeholder until genpolicy writes it. Validated offline (coco.test.ts) only.
${stringify(ops, { lineWidth: 0 })}`;
  const json = (policy: Record<string, string>): string => `${JSON.stringify(policy, null, 2)}\n`;
  return { podVmPatch, snpPolicy: json({ hostData: binding.hostData }), tdxPolicy: json({ mrConfigId: binding.mrConfigId }) };
}

const HELP = `Usage: node dist/scripts/deploy/fleet/renderCoco.js --dir DIR

Write DIR/pod-vm.yaml, DIR/policy-snp.json and DIR/policy-tdx.json from DIR/initdata.toml
(scripts/deploy/fleet/kubernetes/coco): the init-data annotation and the HOST_DATA / MRCONFIGID a client pins.

Options:
  --dir DIR   the coco/ overlay
  -h, --help  show this help
`;

if (isMain(import.meta.url)) {
  const v = scriptArgs(process.argv.slice(2), { dir: { type: 'string' } }, HELP, ['dir']);
  if (typeof v === 'number') process.exit(v);
  const dir = String(v.dir);
  const rendered = await renderCoco(new Uint8Array(readFileSync(join(dir, 'initdata.toml'))));
  writeFileSync(join(dir, 'pod-vm.yaml'), rendered.podVmPatch);
  writeFileSync(join(dir, 'policy-snp.json'), rendered.snpPolicy);
  writeFileSync(join(dir, 'policy-tdx.json'), rendered.tdxPolicy);
}
