// The fleet's gateway on the HAProxy Kubernetes Ingress Controller (docs/deploy.md "The HAProxy Ingress
// Controller"), in place of the base's HAProxy Deployment. Kubernetes objects: the pattern files ConfigMap (the key
// map), a Service per node pod (its route-acl names the node), one Service over every node for key configurations,
// attestation and status, one for the directory, and the Ingress that lists them all. And the values of the
// controller's Helm chart (haproxytech/helm-charts kubernetes-ingress), which creates the IngressClass and the
// controller's ConfigMap itself: a controller dedicated to the fleet's class, with the frontend snippet and the
// pattern files ConfigMap. The HAProxy text is src/fleet/haproxyIngress.ts.
import { haproxyKeyMap, haproxyLogFormat, type HaproxyNode } from '../../../src/fleet/haproxyConfig.js';
import { ingressBackendSnippet, ingressFrontendSnippet, ingressRouteAcl, INGRESS_KEY_MAP } from '../../../src/fleet/haproxyIngress.js';

export const INGRESS_CLASS = 'cloister-fleet';
/** The controller started with --ingress.class=cloister-fleet implements this class (its documentation/ingressclass.md). */
export const INGRESS_CONTROLLER = `haproxy.org/ingress-controller/${INGRESS_CLASS}`;
export const PATTERNS_CONFIGMAP = 'cloister-gateway-patterns';
export const ANY_NODE_SERVICE = 'cloister-any-node';
export const DIRECTORY_SERVICE = 'cloister-fleet-directory';
export const GATEWAY_INGRESS = 'cloister-gateway';
/** The label the StatefulSet controller puts on each of its pods. */
export const POD_NAME_LABEL = 'statefulset.kubernetes.io/pod-name';

export const OHTTP_PATH = '/.well-known/ohttp-gateway';
export const ANY_NODE_PATHS = [OHTTP_PATH, '/.well-known/cloister/attestation', '/status'] as const;
export const DIRECTORY_PATH = '/.well-known/cloister/fleet';

export interface IngressOptions {
  readonly namespace: string;
  /** Every node pod HAProxy routes to (draining ones included). */
  readonly nodes: readonly HaproxyNode[];
  /** The gateway's host name as relays reach it. */
  readonly host: string;
  /** The node pods' labels, and the name of their HTTPS container port and its number. */
  readonly nodeLabels: Readonly<Record<string, string>>;
  readonly nodePort: { readonly name: string; readonly port: number };
  /** The directory pods' labels, and their HTTP container port. */
  readonly directoryLabels: Readonly<Record<string, string>>;
  readonly directoryPort: { readonly name: string; readonly port: number };
}

// TLS to the pods without verifying (server-ssl: `ssl verify none`; RA-TLS certificates are self-signed and OHTTP is
// end to end), health checks on GET /status every second, and the node's 30 s deadline.
const NODE_BACKEND = {
  'haproxy.org/server-ssl': 'true',
  'haproxy.org/check-http': '/status',
  'haproxy.org/check-interval': '1s',
  'haproxy.org/timeout-server': '30s',
};

const servicePort = (p: { readonly name: string; readonly port: number }): { name: string; port: number; targetPort: string } => ({ name: p.name, port: p.port, targetPort: p.name });

const path = (p: string, service: string, port: string): unknown => ({ path: p, pathType: 'Exact', backend: { service: { name: service, port: { name: port } } } });

/**
 * Values for the controller's Helm chart: the IngressClass it creates (`controller: haproxy.org/ingress-controller/
 * CLASS` for `ingressClass: CLASS`), the ConfigMap it creates and passes as --configmap (`config`: the frontend
 * snippet and the log format), and the pattern files ConfigMap as an extra argument.
 */
export function controllerValues(o: Pick<IngressOptions, 'namespace' | 'host'>): unknown {
  return {
    controller: {
      ingressClass: INGRESS_CLASS,
      ingressClassResource: { name: INGRESS_CLASS, default: false },
      extraArgs: [`--configmap-patternfiles=${o.namespace}/${PATTERNS_CONFIGMAP}`],
      // The request log as the plain gateway's: method and path only of the fleet's own requests (the controller's
      // default logs every request's host and path as sent).
      config: { 'frontend-config-snippet': ingressFrontendSnippet({ host: o.host }), 'log-format': haproxyLogFormat({ host: o.host }) },
    },
  };
}

export function ingressObjects(o: IngressOptions): unknown[] {
  const meta = (name: string, annotations?: Record<string, string>): unknown => ({ name, namespace: o.namespace, ...(annotations === undefined ? {} : { annotations }) });
  const patterns = { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(PATTERNS_CONFIGMAP), data: { [INGRESS_KEY_MAP.replace(/^patterns\//, '')]: haproxyKeyMap(o.nodes) } };
  const anyNode = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(ANY_NODE_SERVICE, { ...NODE_BACKEND, 'haproxy.org/backend-config-snippet': ingressBackendSnippet('anyNode') }),
    spec: { selector: { ...o.nodeLabels }, ports: [servicePort(o.nodePort)] },
  };
  const perNode = o.nodes.map((n) => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(n.name, { ...NODE_BACKEND, 'haproxy.org/route-acl': ingressRouteAcl(n.name), 'haproxy.org/backend-config-snippet': ingressBackendSnippet('node') }),
    spec: { selector: { ...o.nodeLabels, [POD_NAME_LABEL]: n.name }, ports: [servicePort(o.nodePort)] },
  }));
  const directory = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(DIRECTORY_SERVICE, { 'haproxy.org/backend-config-snippet': ingressBackendSnippet('directory') }),
    spec: { selector: { ...o.directoryLabels }, ports: [servicePort(o.directoryPort)] },
  };
  const ingress = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: meta(GATEWAY_INGRESS),
    spec: {
      ingressClassName: INGRESS_CLASS,
      rules: [
        {
          host: o.host,
          http: {
            paths: [
              ...ANY_NODE_PATHS.map((p) => path(p, ANY_NODE_SERVICE, o.nodePort.name)),
              path(DIRECTORY_PATH, DIRECTORY_SERVICE, o.directoryPort.name),
              ...o.nodes.map((n) => path(OHTTP_PATH, n.name, o.nodePort.name)),
            ],
          },
        },
      ],
    },
  };
  return [patterns, anyNode, ...perNode, directory, ingress];
}
