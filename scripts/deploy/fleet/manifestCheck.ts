// The fleet's Kubernetes files as kustomize would assemble them, and their check against the Kubernetes schemas, for
// manifests.test.ts and ingress.test.ts (docs/deploy.md "A fleet"): the Kubernetes 1.36 OpenAPI schemas that
// kubernetes-models 5.1.0 compiles (types, enums, required fields, formats; not unknown fields, which a real API
// server's strict validation would reject). kustomize itself is not run here: its merge is modelled.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Service } from 'kubernetes-models/v1/Service';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { IngressClass } from 'kubernetes-models/networking.k8s.io/v1/IngressClass';
import { at, loadManifests } from './renderKubernetes.js';

export const DIR = fileURLToPath(new URL('../../../../scripts/deploy/fleet/', import.meta.url));
export const K8S = join(DIR, 'kubernetes');
export const BASE = join(K8S, 'base');
export const OVERLAYS = ['aks', 'gke'] as const;

type Validator = (data: unknown) => { validate(): void };
const MODELS: Readonly<Record<string, Validator>> = {
  'v1 Namespace': (d) => new Namespace(d as ConstructorParameters<typeof Namespace>[0]),
  'v1 Service': (d) => new Service(d as ConstructorParameters<typeof Service>[0]),
  'v1 ConfigMap': (d) => new ConfigMap(d as ConstructorParameters<typeof ConfigMap>[0]),
  'apps/v1 Deployment': (d) => new Deployment(d as ConstructorParameters<typeof Deployment>[0]),
  'apps/v1 StatefulSet': (d) => new StatefulSet(d as ConstructorParameters<typeof StatefulSet>[0]),
  'networking.k8s.io/v1 Ingress': (d) => new Ingress(d as ConstructorParameters<typeof Ingress>[0]),
  'networking.k8s.io/v1 IngressClass': (d) => new IngressClass(d as ConstructorParameters<typeof IngressClass>[0]),
};

export const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Kubernetes schema errors of one object, as "Kind/name: path message" lines. */
export function schemaErrors(o: unknown): string[] {
  const id = `${String(at(o, 'kind'))}/${String(at(o, 'metadata', 'name'))}`;
  const model = MODELS[`${String(at(o, 'apiVersion'))} ${String(at(o, 'kind'))}`];
  if (model === undefined) return [`${id}: no schema here for ${String(at(o, 'apiVersion'))} ${String(at(o, 'kind'))}`];
  try {
    model(o).validate();
    return [];
  } catch (e) {
    const errors = (e as { errors?: { instancePath: string; message?: string }[] }).errors;
    return errors === undefined ? [`${id}: ${(e as Error).message}`] : errors.map((x) => `${id}: ${x.instancePath} ${x.message ?? ''}`);
  }
}

// A strategic merge patch as kustomize applies these overlays: maps merge, and the lists they set (tolerations,
// nodeSelectorTerms) have no merge key, so they replace. The patch's name is the placeholder its target overrides.
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isRecord(target) || !isRecord(patch)) return patch;
  const out: Record<string, unknown> = { ...target };
  for (const [k, v] of Object.entries(patch)) out[k] = k in target ? mergePatch(target[k], v) : v;
  return out;
}

export const baseObjects = (): unknown[] => ['namespace.yaml', 'nodes.yaml', 'gateway.yaml', 'generated.yaml'].flatMap((f) => loadManifests(join(BASE, f)));

export function overlayObjects(overlay: string): unknown[] {
  const kustomization = loadManifests(join(K8S, overlay, 'kustomization.yaml'))[0];
  const patches = at(kustomization, 'patches');
  assert.ok(Array.isArray(patches) && patches.length === 1, `${overlay}: one patch`);
  assert.deepEqual(at(patches[0], 'target'), { kind: 'StatefulSet', labelSelector: 'app=cloister-node' });
  const patch = loadManifests(join(K8S, overlay, String(at(patches[0], 'path'))))[0];
  return baseObjects().map((o) => {
    if (at(o, 'kind') !== 'StatefulSet' || at(o, 'metadata', 'labels', 'app') !== 'cloister-node') return o;
    const merged = mergePatch(o, patch);
    return mergePatch(merged, { metadata: { name: at(o, 'metadata', 'name') } });
  });
}

