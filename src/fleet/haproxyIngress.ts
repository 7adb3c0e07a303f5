// The fleet's gateway on the HAProxy Kubernetes Ingress Controller (haproxytech/kubernetes-ingress, 3.x;
// docs/deploy.md "The HAProxy Ingress Controller"), as the HAProxy text its configuration points take:
// - the frontend-config-snippet (controller ConfigMap): the request rules of `cloister fleet haproxy`
//   (haproxyGatewayRules), held to the fleet's host because that frontend serves every Ingress of the controller;
// - the key map as a pattern file (--configmap-patternfiles), which the controller writes under patterns/ beside its
//   haproxy.cfg (`default-path config`, so the relative name resolves there);
// - a route-acl per node Service: the controller writes `use_backend <that Service's backend> if <host> <path> <acl>`
//   ahead of its host and path maps, so a POST goes to the node its key ID names, whatever the backend is called;
// - a backend-config-snippet per Service: the 503 a node answers when no server is up, and 502/504, as problems.
import { HAPROXY_UNAVAILABLE, haproxyGatewayRules, haproxyUpstreamErrors } from './haproxyConfig.js';

/** The key map's name in the frontend snippet: the controller's pattern file `keyids`. */
export const INGRESS_KEY_MAP = 'patterns/keyids';

/** A Kubernetes object name as the controller puts it into HAProxy's configuration unquoted. */
const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export interface IngressSnippetOptions {
  /** The gateway's host name as relays reach it (the Ingress rules' host). */
  readonly host: string;
  /** The node's largest encapsulated request, in bytes (default: the gateway's limit). */
  readonly maxBodyBytes?: number;
}

/** The controller's frontend-config-snippet: the fleet's answers and key ID lookup into `txn.node`, for its host only. */
export function ingressFrontendSnippet(options: IngressSnippetOptions): string {
  if (!/^[a-z0-9.-]+$/i.test(options.host)) throw new Error(`the gateway host ${JSON.stringify(options.host)} is not a DNS name`);
  const rules = haproxyGatewayRules({ mapFile: INGRESS_KEY_MAP, host: options.host, ...(options.maxBodyBytes === undefined ? {} : { maxBodyBytes: options.maxBodyBytes }) });
  return `${rules.join('\n')}\n`;
}

/** A node Service's route-acl: its backend takes the requests whose key ID the key map gives to that node. */
export function ingressRouteAcl(node: string): string {
  if (!NAME.test(node)) throw new Error(`node name ${JSON.stringify(node)} is not a Kubernetes object name`);
  return `var(txn.node) -m str ${node}`;
}

/** A Service's backend-config-snippet: its 503 when no server is up, then 502 and 504. */
export function ingressBackendSnippet(backend: keyof typeof HAPROXY_UNAVAILABLE): string {
  return `${[HAPROXY_UNAVAILABLE[backend], ...haproxyUpstreamErrors()].join('\n')}\n`;
}
