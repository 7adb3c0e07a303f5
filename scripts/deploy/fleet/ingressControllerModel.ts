// What the HAProxy Kubernetes Ingress Controller would write into haproxy.cfg for the ingress/ objects, modelled
// from its source (haproxytech/kubernetes-ingress at v3.2.0-78-gfc120676, July 2026) so that HAProxy itself can
// check the fleet's snippets in place and route test requests (manifests.test.ts); the controller is not run here.
// What is modelled, and where the controller does it:
// - the main frontend (fs/usr/local/etc/haproxy/haproxy.cfg, `frontend http from haproxytech`) with the controller's
//   set-var rules for host and path matching (pkg/controller/controller.go setupHAProxyRules), one `use_backend`
//   per Service with a route-acl ahead of the map-driven one (pkg/route/route.go AddCustomRoute, at index 0), then
//   the frontend-config-snippet (documentation/annotations.md: controller logic first);
// - host and path maps for the Ingress paths whose Service has no route-acl (route.go AddHostPathRoute, Exact);
// - pattern files under patterns/, resolved beside haproxy.cfg (`default-path config`);
// - one backend per Service port, named NAMESPACE_svc_SERVICE_PORTNAME (pkg/service/service.go GetBackendName,
//   since v3.2.0), servers SRV_1... (pkg/service/endpoints.go; a slot with no endpoint is `disabled` at
//   127.0.0.1:1), `default-server ... ssl alpn h2,http/1.1 verify none` for server-ssl (annotations/service/ssl.go),
//   `option httpchk URI` for check-http, and the backend-config-snippet at the end.
// The controller's default backend is stood in for by a backend that answers 404.
import { at } from './renderKubernetes.js';

export interface ControllerModelOptions {
  /** The Services and Ingresses of ingress/generated.yaml. */
  readonly objects: readonly unknown[];
  /** The controller ConfigMap's frontend-config-snippet. */
  readonly frontendSnippet: string;
  /** The controller ConfigMap's log-format, if any (written into the defaults section, in double quotes). */
  readonly logFormat?: string;
  /** The pattern files ConfigMap's data. */
  readonly patternFiles: Readonly<Record<string, string>>;
  /** The directory haproxy.cfg is in: maps/ and patterns/ are written below it. */
  readonly dir: string;
  /** ADDRESS:PORT of the main HTTP frontend. */
  readonly bind: string;
  /** The ready endpoints (ADDRESS:PORT) of each Service by name; a Service not listed has none. */
  readonly endpoints: Readonly<Record<string, readonly string[]>>;
  /** Leave TLS to the pods out (plain HTTP stand-ins for the nodes). */
  readonly plainServers?: boolean;
}

export interface ControllerModel {
  readonly config: string;
  /** Files to write below `dir`, by relative path. */
  readonly files: Readonly<Record<string, string>>;
  /** The backend name the controller gives each Service, by Service name. */
  readonly backends: Readonly<Record<string, string>>;
}

const DEFAULT_BACKEND = 'default-local-service';
const SERVER_SLOTS = 2;

const annotation = (o: unknown, name: string): string | undefined => {
  const v = at(o, 'metadata', 'annotations', `haproxy.org/${name}`);
  return typeof v === 'string' ? v : undefined;
};

const snippet = (text: string, origin: string): string[] => ['  ###_config-snippet_### BEGIN', `  ### ${origin} ###`, ...text.trimEnd().split('\n').map((l) => `  ${l}`), '  ###_config-snippet_### END'];

export function controllerModel(o: ControllerModelOptions): ControllerModel {
  const of = (kind: string): unknown[] => o.objects.filter((x) => at(x, 'kind') === kind);
  const services = new Map(of('Service').map((s) => [String(at(s, 'metadata', 'name')), s]));
  const ingresses = of('Ingress');

  const backends: Record<string, string> = {};
  const routes: string[] = [];
  const hostMap = new Set<string>();
  const pathExact: string[] = [];
  for (const ing of ingresses) {
    const namespace = String(at(ing, 'metadata', 'namespace'));
    for (const rule of at(ing, 'spec', 'rules') as unknown[]) {
      const host = String(at(rule, 'host'));
      for (const p of at(rule, 'http', 'paths') as unknown[]) {
        const name = String(at(p, 'backend', 'service', 'name'));
        const svc = services.get(name);
        if (svc === undefined) throw new Error(`Ingress path ${String(at(p, 'path'))}: no Service ${name}`);
        if (at(p, 'pathType') !== 'Exact') throw new Error(`Ingress path ${String(at(p, 'path'))}: only Exact is modelled`);
        const portName = String(at(p, 'backend', 'service', 'port', 'name'));
        if (!(at(svc, 'spec', 'ports') as unknown[]).some((sp) => at(sp, 'name') === portName)) throw new Error(`Service ${name} has no port ${portName}`);
        const backend = `${namespace}_svc_${name}_${portName}`;
        backends[name] = backend;
        const acl = annotation(svc, 'route-acl');
        if (acl === undefined) {
          hostMap.add(`${host}\t\t\t${host}`);
          pathExact.push(`${host}${String(at(p, 'path'))}\t\t\t${backend}`);
        } else {
          routes.push(`  use_backend ${backend} if { var(txn.host) -m str ${host} } { path ${String(at(p, 'path'))} } { ${acl} } `);
        }
      }
    }
  }

  const maps = (name: string): string => `${o.dir}/maps/${name}.map`;
  const frontend = [
    'frontend http from haproxytech',
    '  mode http',
    `  bind ${o.bind}`,
    '  http-request set-var(txn.base) base',
    '  http-request set-var(txn.path) path',
    '  http-request set-var(txn.host) req.hdr(Host),field(1,:),lower',
    `  http-request set-var(txn.host_match) var(txn.host),map(${maps('host')})`,
    `  http-request set-var(txn.host_match) var(txn.host),regsub(^[^.]*,,),map(${maps('host')},'') if !{ var(txn.host_match) -m found }`,
    `  http-request set-var(txn.path_match) var(txn.host_match),concat(,txn.path,),map(${maps('path-exact')})`,
    `  http-request set-var(txn.path_match) var(txn.host_match),concat(,txn.path,),map(${maps('path-prefix-exact')}) if !{ var(txn.path_match) -m found }`,
    `  http-request set-var(txn.path_match) var(txn.host_match),concat(,txn.path,),map_beg(${maps('path-prefix')}) if !{ var(txn.path_match) -m found }`,
    ...routes,
    '  use_backend %[var(txn.path_match),field(1,.)]',
    `  default_backend ${DEFAULT_BACKEND}`,
    ...snippet(o.frontendSnippet, 'configmap'),
  ];

  const backendSections = [...new Set(Object.keys(backends))].map((name) => {
    const svc = services.get(name);
    const endpoints = o.endpoints[name] ?? [];
    const ssl = annotation(svc, 'server-ssl') === 'true' && o.plainServers !== true ? ' ssl alpn h2,http/1.1 verify none' : '';
    const interval = annotation(svc, 'check-interval');
    const checkHttp = annotation(svc, 'check-http');
    const timeout = annotation(svc, 'timeout-server');
    const backendSnippet = annotation(svc, 'backend-config-snippet');
    const slots = Math.max(SERVER_SLOTS, endpoints.length);
    return [
      `backend ${backends[name] ?? ''} from haproxytech`,
      '  mode http',
      ...(checkHttp === undefined ? [] : [`  option httpchk ${checkHttp}`]),
      ...(timeout === undefined ? [] : [`  timeout server ${timeout}`]),
      `  default-server check${interval === undefined ? '' : ` inter ${interval}`}${ssl}`,
      ...Array.from({ length: slots }, (_, i) => (endpoints[i] === undefined ? `  server SRV_${i + 1} 127.0.0.1:1 disabled` : `  server SRV_${i + 1} ${endpoints[i]} enabled`)),
      ...(backendSnippet === undefined ? [] : snippet(backendSnippet, `service: ${backends[name] ?? ''}/${name}`)),
    ].join('\n');
  });

  const config = `# A model of the HAProxy Kubernetes Ingress Controller's haproxy.cfg (scripts/deploy/fleet/ingressControllerModel.ts)
global
  default-path config
  # The controller's default syslog-server (documentation/annotations.md): address 127.0.0.1, facility local0.
  log 127.0.0.1 local0 notice

defaults haproxytech
  timeout http-request 5000
  timeout connect 5000
  timeout client 50000
  timeout queue 5000
  timeout server 50000
  timeout tunnel 3600000
  timeout http-keep-alive 60000
  log global
${o.logFormat === undefined ? '' : `  log-format "${o.logFormat.replaceAll('"', '\\"')}"\n`}
${frontend.join('\n')}

${backendSections.join('\n\n')}

backend ${DEFAULT_BACKEND} from haproxytech
  mode http
  http-request return status 404 content-type text/plain string "default backend"
`;
  const files: Record<string, string> = {
    'maps/host.map': [...hostMap].map((l) => `${l}\n`).join(''),
    'maps/path-exact.map': pathExact.map((l) => `${l}\n`).join(''),
    'maps/path-prefix-exact.map': '',
    'maps/path-prefix.map': '',
    ...Object.fromEntries(Object.entries(o.patternFiles).map(([k, v]) => [`patterns/${k}`, v])),
  };
  return { config, files, backends };
}
