// The Kubernetes fleet's generated manifests (docs/deploy.md "A fleet"): from the node StatefulSets of
// kubernetes/base/nodes.yaml (their replicas and key ID ranges), the HAProxy configuration and key map that
// `cloister fleet haproxy` writes, as a ConfigMap, and the `cloister fleet` directory Deployment with one --node per
// pod. Re-run after changing replicas, and with --draining COLOUR while a colour drains (its pods stay routed by
// HAProxy but leave the directory). With --ingress-dir, also the ingress/ component's generated.yaml and the
// controller's Helm values: the same routing done by the HAProxy Kubernetes Ingress Controller (ingressManifests.ts).
// manifests.test.ts and ingress.test.ts check that the files are what this writes.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { haproxyConfig, haproxyKeyMap, type HaproxyNode } from '../../../src/fleet/haproxyConfig.js';
import { COLOUR_KEY_IDS, ordinalKeyIds } from '../../../src/fleet/keyIdScheme.js';
import { isMain, scriptArgs } from '../../scriptArgs.js';
import { controllerValues, ingressObjects } from './ingressManifests.js';

export const NAMESPACE = 'cloister';
export const NODE_SERVICE = 'cloister-nodes';
export const NODE_PORT = 8080;
export const DIRECTORY_PORT = 8090;
export const GATEWAY_LISTEN = '0.0.0.0:8443';
export const HAPROXY_DIR = '/etc/haproxy';
export const HAPROXY_SOCKET = '/run/haproxy/admin.sock';
// Placeholders for the committed generated.yaml; a deployment passes its own.
export const DEFAULT_GATEWAY = 'https://gateway.example';
export const DEFAULT_LOG = 'https://log.example/cloister';
const IMAGE = 'registry.example/cloister@sha256:0000000000000000000000000000000000000000000000000000000000000000';

/** One node StatefulSet: pod i serves key IDs base + i * perNode ... + perNode - 1 (src/fleet/keyIdScheme.ts). */
export interface NodeSet {
  readonly name: string;
  readonly colour: string;
  readonly replicas: number;
  readonly base: number;
  readonly perNode: number;
}

/** Every YAML document of a file, as plain data; a YAML error throws, naming the file. */
export function loadManifests(file: string): unknown[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
    return doc.toJS() as unknown;
  });
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The value at a path of object keys and array indexes, or undefined. */
export function at(value: unknown, ...path: (string | number)[]): unknown {
  let v = value;
  for (const k of path) {
    if (typeof k === 'number') v = Array.isArray(v) ? (v[k] as unknown) : undefined;
    else v = isRecord(v) ? v[k] : undefined;
  }
  return v;
}

const envValue = (container: unknown, name: string): string | undefined => {
  const env = at(container, 'env');
  const entry: unknown = Array.isArray(env) ? (env as unknown[]).find((e) => at(e, 'name') === name) : undefined;
  const v = at(entry, 'value');
  return typeof v === 'string' ? v : undefined;
};

/** The node StatefulSets (label app: cloister-node) of nodes.yaml, with their ranges from the serve container's env. */
export function nodeSets(objects: readonly unknown[]): NodeSet[] {
  return objects
    .filter((o) => at(o, 'kind') === 'StatefulSet' && at(o, 'metadata', 'labels', 'app') === 'cloister-node')
    .map((o) => {
      const name = at(o, 'metadata', 'name');
      const colour = at(o, 'metadata', 'labels', 'colour');
      const replicas = at(o, 'spec', 'replicas');
      const serve = at(o, 'spec', 'template', 'spec', 'containers', 0);
      const base = Number(envValue(serve, 'KEY_ID_BASE'));
      const perNode = Number(envValue(serve, 'KEY_IDS_PER_NODE'));
      if (typeof name !== 'string' || typeof colour !== 'string' || typeof replicas !== 'number' || !Number.isInteger(base) || !Number.isInteger(perNode) || perNode < 1) {
        throw new Error(`node StatefulSet ${String(name)}: needs metadata.name, labels.colour, spec.replicas and the KEY_ID_BASE, KEY_IDS_PER_NODE env of its first container`);
      }
      return { name, colour, replicas, base, perNode };
    });
}

/** The pods of the node sets as HAProxy and the directory address them: per-pod DNS names of the headless Service. */
export function fleetNodes(sets: readonly NodeSet[]): (HaproxyNode & { readonly colour: string })[] {
  return sets.flatMap((s) =>
    Array.from({ length: s.replicas }, (_, i) => {
      const name = `${s.name}-${i}`;
      const keyIds = ordinalKeyIds({ base: s.base, perNode: s.perNode }, i);
      if (keyIds === undefined) throw new Error(`node StatefulSet ${s.name}: pod ${i} has no key ID range (${s.perNode} per pod from ${s.base}, ${COLOUR_KEY_IDS} per colour): lower its replicas`);
      return { name, colour: s.colour, origin: `https://${name}.${NODE_SERVICE}.${NAMESPACE}.svc.cluster.local:${NODE_PORT}`, keyIds };
    }),
  );
}

// Pods come and go with new addresses, and a colour's pods are named before they exist: HAProxy resolves every
// server through the cluster's DNS at run time and starts without an address for those not yet there.
const RESOLVERS = `resolvers cluster
    parse-resolv-conf
    hold valid 10s
    hold nx 2s

`;

/** `cloister fleet haproxy`'s configuration, with run-time DNS resolution for Kubernetes. */
export function kubernetesHaproxyConfig(nodes: readonly HaproxyNode[]): string {
  const cfg = haproxyConfig({
    nodes,
    listen: GATEWAY_LISTEN,
    directory: `http://cloister-fleet.${NAMESPACE}.svc.cluster.local:${DIRECTORY_PORT}`,
    mapFile: `${HAPROXY_DIR}/keyids.map`,
    socket: HAPROXY_SOCKET,
  });
  const servers = cfg.match(/^ {4}server .*$/gm) ?? [];
  if (servers.length !== 2 * nodes.length + 1 || !cfg.includes('\nbackend nodes_by_key\n')) throw new Error('cloister fleet haproxy wrote an unexpected configuration: its server lines changed');
  return cfg.replace(/^( {4}server .*)$/gm, '$1 resolvers cluster init-addr last,libc,none').replace('\nbackend nodes_by_key\n', `\n${RESOLVERS}backend nodes_by_key\n`);
}

const yamlDocuments = (objects: readonly unknown[]): string => objects.map((o) => stringify(o, { lineWidth: 0, aliasDuplicateObjects: false })).join('---\n');

export interface RenderOptions {
  readonly sets: readonly NodeSet[];
  readonly gateway?: string;
  readonly log?: string;
  /** Colours whose pods leave the directory but stay routed (an upgrade's old colour). */
  readonly draining?: readonly string[];
}

/** generated.yaml: the HAProxy ConfigMap and the directory Deployment. */
export function renderGenerated(options: RenderOptions): string {
  const nodes = fleetNodes(options.sets);
  const draining = new Set(options.draining ?? []);
  const listed = nodes.filter((n) => !draining.has(n.colour));
  const configMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'cloister-gateway-haproxy', namespace: NAMESPACE },
    data: { 'haproxy.cfg': kubernetesHaproxyConfig(nodes), 'keyids.map': haproxyKeyMap(nodes) },
  };
  const labels = { app: 'cloister-fleet' };
  const args = [
    'fleet', '--host', '0.0.0.0', '--port', String(DIRECTORY_PORT),
    '--gateway', options.gateway ?? DEFAULT_GATEWAY,
    '--log', options.log ?? DEFAULT_LOG,
    '--publisher-key', '/etc/cloister-fleet/publisher.pub',
    '--log-key', '/etc/cloister-fleet/log.vkey',
    ...listed.flatMap((n) => ['--node', `${n.name}=${n.origin}=${n.keyIds.first}-${n.keyIds.last}`]),
  ];
  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'cloister-fleet', namespace: NAMESPACE, labels },
    spec: {
      replicas: 1,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          automountServiceAccountToken: false,
          containers: [
            {
              name: 'fleet',
              image: IMAGE,
              command: ['node', '/app/dist/src/cli/main.js'],
              args,
              // The log's checkpoints seen so far (consistency); an emptyDir starts over with each pod.
              env: [{ name: 'CLOISTER_STATE_DIR', value: '/var/lib/cloister' }],
              ports: [{ name: 'http', containerPort: DIRECTORY_PORT }],
              readinessProbe: { tcpSocket: { port: 'http' }, periodSeconds: 5 },
              securityContext: { runAsNonRoot: true, runAsUser: 65534, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true },
              volumeMounts: [
                { name: 'keys', mountPath: '/etc/cloister-fleet', readOnly: true },
                { name: 'state', mountPath: '/var/lib/cloister' },
              ],
            },
          ],
          volumes: [
            { name: 'keys', configMap: { name: 'cloister-fleet-keys' } },
            { name: 'state', emptyDir: {} },
          ],
        },
      },
    },
  };
  const header = `# Written by scripts/deploy/fleet/renderKubernetes.ts from nodes.yaml (${options.sets.map((s) => `${s.name}: ${s.replicas}`).join(', ')}${draining.size > 0 ? `; draining ${[...draining].join(', ')}` : ''}); do not edit.
# The HAProxy configuration of cloister fleet haproxy, and the directory listing every pod not draining.
`;
  return header + yamlDocuments([configMap, deployment]);
}

export interface RenderedIngress {
  /** ingress/generated.yaml: the objects of the ingress/ component. */
  readonly manifests: string;
  /** ingress/controller-values.yaml: the controller's Helm chart values. */
  readonly controllerValues: string;
}

/** The gateway as HAProxy Ingress Controller configuration, routing every pod of the node sets. */
export function renderIngress(options: Pick<RenderOptions, 'sets' | 'gateway'>): RenderedIngress {
  const host = new URL(options.gateway ?? DEFAULT_GATEWAY).hostname;
  const from = `from nodes.yaml (${options.sets.map((s) => `${s.name}: ${s.replicas}`).join(', ')}); do not edit.`;
  const manifests = `# Written by scripts/deploy/fleet/renderKubernetes.ts --ingress-dir ${from}
# The fleet's gateway on the HAProxy Kubernetes Ingress Controller (docs/deploy.md "The HAProxy Ingress Controller"),
# installed with controller-values.yaml. Validated offline (ingress.test.ts); never applied to a cluster here.
${yamlDocuments(ingressObjects({
    namespace: NAMESPACE,
    nodes: fleetNodes(options.sets),
    host,
    nodeLabels: { app: 'cloister-node' },
    nodePort: { name: 'https', port: NODE_PORT },
    directoryLabels: { app: 'cloister-fleet' },
    directoryPort: { name: 'http', port: DIRECTORY_PORT },
  }))}`;
  const values = `# Written by scripts/deploy/fleet/renderKubernetes.ts --ingress-dir; do not edit. Values of the HAProxy Kubernetes
# Ingress Controller's Helm chart (haproxytech/helm-charts kubernetes-ingress 1.52, controller 3.2) for a controller
# dedicated to the fleet (docs/deploy.md "The HAProxy Ingress Controller"):
#   helm install cloister-gateway haproxytech/kubernetes-ingress --namespace haproxy-cloister --create-namespace \\
#     --values controller-values.yaml
# Checked against the chart's templates by reading them, never installed here.
${yamlDocuments([controllerValues({ namespace: NAMESPACE, host })])}`;
  return { manifests, controllerValues: values };
}

const HELP = `Usage: node dist/scripts/deploy/fleet/renderKubernetes.js --nodes FILE --out FILE [--ingress-dir DIR] [--gateway URL] [--log URL] [--draining COLOUR]

Write the Kubernetes fleet's generated.yaml (the HAProxy ConfigMap and the cloister fleet Deployment) from the node
StatefulSets of FILE (scripts/deploy/fleet/kubernetes/base/nodes.yaml).

Options:
  --nodes FILE       the node StatefulSets
  --out FILE         where to write (scripts/deploy/fleet/kubernetes/base/generated.yaml)
  --ingress-dir DIR  also write the Ingress controller variant's generated.yaml and controller-values.yaml
                     (scripts/deploy/fleet/kubernetes/ingress)
  --gateway URL      the fleet's gateway URL as relays reach it; its host is the Ingress rules' (default ${DEFAULT_GATEWAY})
  --log URL          the transparency log the directory checks measurements against (default ${DEFAULT_LOG})
  --draining COLOUR  leave this colour's pods out of the directory (still routed); repeatable
  -h, --help         show this help
`;

if (isMain(import.meta.url)) {
  const v = scriptArgs(process.argv.slice(2), { nodes: { type: 'string' }, out: { type: 'string' }, 'ingress-dir': { type: 'string' }, gateway: { type: 'string' }, log: { type: 'string' }, draining: { type: 'string', multiple: true } }, HELP, ['nodes', 'out']);
  if (typeof v === 'number') process.exit(v);
  const draining = (v.draining ?? []) as string[];
  const sets = nodeSets(loadManifests(String(v.nodes)));
  const gateway = typeof v.gateway === 'string' ? { gateway: v.gateway } : {};
  writeFileSync(String(v.out), renderGenerated({ sets, ...gateway, ...(typeof v.log === 'string' ? { log: v.log } : {}), draining }));
  if (typeof v['ingress-dir'] === 'string') {
    const rendered = renderIngress({ sets, ...gateway });
    writeFileSync(join(v['ingress-dir'], 'generated.yaml'), rendered.manifests);
    writeFileSync(join(v['ingress-dir'], 'controller-values.yaml'), rendered.controllerValues);
  }
}
