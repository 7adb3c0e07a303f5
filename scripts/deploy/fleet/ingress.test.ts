// Offline validation of the fleet's gateway on the HAProxy Kubernetes Ingress Controller (docs/deploy.md "The HAProxy
// Ingress Controller"): the ingress/ component over each node pool overlay against the Kubernetes 1.36 schemas, its
// wiring (a Service and a route-acl per node pod, the key map, ports and selectors), and, where haproxy is installed,
// HAProxy 2.6+ itself on a model of the configuration the controller would write around the snippets
// (ingressControllerModel.ts): `haproxy -c`, then requests routed to stand-in nodes on loopback. The controller
// itself is not run here.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { freePort } from '../../../src/cli/haproxyChild.js';
import { haproxyKeyMap } from '../../../src/fleet/haproxyConfig.js';
import { controllerModel, type ControllerModel } from './ingressControllerModel.js';
import { ANY_NODE_PATHS, ANY_NODE_SERVICE, DIRECTORY_PATH, DIRECTORY_SERVICE, INGRESS_CLASS, INGRESS_CONTROLLER, OHTTP_PATH, PATTERNS_CONFIGMAP, POD_NAME_LABEL } from './ingressManifests.js';
import { K8S, overlayObjects, OVERLAYS, schemaErrors } from './manifestCheck.js';
import { at, DEFAULT_GATEWAY, fleetNodes, loadManifests, nodeSets, renderIngress } from './renderKubernetes.js';

const INGRESS = join(K8S, 'ingress');
const HOST = new URL(DEFAULT_GATEWAY).hostname;

const generated = (): unknown[] => loadManifests(join(INGRESS, 'generated.yaml'));
const values = (): unknown => loadManifests(join(INGRESS, 'controller-values.yaml'))[0];
const frontendSnippet = (): string => String(at(values(), 'controller', 'config', 'frontend-config-snippet'));
const logFormat = (): string => String(at(values(), 'controller', 'config', 'log-format'));
const patternFiles = (): Record<string, string> => at(generated().find((o) => at(o, 'kind') === 'ConfigMap' && at(o, 'metadata', 'name') === PATTERNS_CONFIGMAP), 'data') as Record<string, string>;
/** kustomize's identity of an object: group, version, kind, namespace (none for cluster objects) and name. */
function id(o: unknown): string {
  const namespace = at(o, 'metadata', 'namespace');
  return `${String(at(o, 'apiVersion'))} ${String(at(o, 'kind'))} ${typeof namespace === 'string' ? namespace : '-'}/${String(at(o, 'metadata', 'name'))}`;
}

/** The component over an overlay, as kustomize would assemble it: the overlay's objects less the deleted ones, plus generated.yaml. */
function ingressVariant(overlay: string): unknown[] {
  const component = loadManifests(join(INGRESS, 'kustomization.yaml'))[0];
  assert.equal(at(component, 'kind'), 'Component');
  assert.deepEqual(at(component, 'resources'), ['generated.yaml']);
  const kustomization = loadManifests(join(K8S, `${overlay}-ingress`, 'kustomization.yaml'))[0];
  assert.deepEqual([at(kustomization, 'kind'), at(kustomization, 'resources'), at(kustomization, 'components')], ['Kustomization', [`../${overlay}`], ['../ingress']]);
  const deleted = (at(component, 'patches') as unknown[]).map((p) => parse(String(at(p, 'patch'))) as unknown);
  const objects = overlayObjects(overlay);
  for (const d of deleted) {
    assert.equal(at(d, '$patch'), 'delete');
    assert.equal(objects.filter((o) => id(o) === id(d)).length, 1, `${id(d)} is in the base to be deleted`);
  }
  const deletedIds = new Set(deleted.map(id));
  return [...objects.filter((o) => !deletedIds.has(id(o))), ...generated()];
}

/** The model's haproxy.cfg, maps and pattern files, written into its directory. */
function writeModel(dir: string, model: ControllerModel): void {
  for (const [f, text] of Object.entries(model.files)) {
    mkdirSync(dirname(join(dir, f)), { recursive: true });
    writeFileSync(join(dir, f), text);
  }
  writeFileSync(join(dir, 'haproxy.cfg'), model.config);
}

describe('fleet gateway on the HAProxy Ingress Controller (validated offline; the controller is not run here)', () => {
  it('ingress/generated.yaml and controller-values.yaml are what renderKubernetes --ingress-dir writes from nodes.yaml', () => {
    const sets = nodeSets(loadManifests(join(K8S, 'base', 'nodes.yaml')));
    const rendered = renderIngress({ sets });
    const run = 'run: node dist/scripts/deploy/fleet/renderKubernetes.js --nodes scripts/deploy/fleet/kubernetes/base/nodes.yaml --out scripts/deploy/fleet/kubernetes/base/generated.yaml --ingress-dir scripts/deploy/fleet/kubernetes/ingress';
    assert.equal(readFileSync(join(INGRESS, 'generated.yaml'), 'utf8'), rendered.manifests, run);
    assert.equal(readFileSync(join(INGRESS, 'controller-values.yaml'), 'utf8'), rendered.controllerValues, run);
  });

  for (const overlay of OVERLAYS) {
    it(`${overlay}-ingress: every object valid against the Kubernetes 1.36 schemas, each once, and no HAProxy Deployment of the base left`, () => {
      const objects = ingressVariant(overlay);
      assert.deepEqual(objects.flatMap(schemaErrors), []);
      const ids = objects.map(id);
      assert.equal(new Set(ids).size, ids.length, 'kustomize refuses an object twice');
      assert.deepEqual(ids.filter((i) => / cloister\/cloister-gateway(-haproxy)?$/.test(i) && !i.includes(' Ingress ')), []);
      assert.ok(objects.some((o) => at(o, 'kind') === 'StatefulSet' && at(o, 'spec', 'template', 'spec', 'tolerations') !== undefined), 'the node pool patch is kept');
    });
  }

  it('the schema check covers Ingress objects: a bad pathType and a missing backend fail', () => {
    const ingress = generated().find((o) => at(o, 'kind') === 'Ingress') as { spec: { rules: { http: { paths: Record<string, unknown>[] } }[] } };
    const bad = structuredClone(ingress);
    const paths = bad.spec.rules[0]?.http.paths ?? [];
    paths[0] = { ...paths[0], pathType: 'Sometimes' };
    delete paths[1]?.backend;
    const errors = schemaErrors(bad).join('\n');
    assert.match(errors, /\/spec\/rules\/0\/http\/paths\/0\/pathType /);
    assert.match(errors, /\/spec\/rules\/0\/http\/paths\/1 /);
  });

  it('the Helm values give a controller of the fleet\'s own class, reading the pattern files ConfigMap, with the frontend snippet', () => {
    const controller = at(values(), 'controller');
    assert.deepEqual([at(controller, 'ingressClass'), at(controller, 'ingressClassResource', 'name'), at(controller, 'ingressClassResource', 'default')], [INGRESS_CLASS, INGRESS_CLASS, false]);
    // The IngressClass the chart's templates/controller-ingressclass.yaml makes of these values.
    const ingressClass = { apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: at(controller, 'ingressClassResource', 'name') }, spec: { controller: `haproxy.org/ingress-controller/${String(at(controller, 'ingressClass'))}` } };
    assert.deepEqual(schemaErrors(ingressClass), []);
    assert.equal(ingressClass.spec.controller, INGRESS_CONTROLLER);
    assert.deepEqual(at(controller, 'extraArgs'), [`--configmap-patternfiles=cloister/${PATTERNS_CONFIGMAP}`]);
    assert.deepEqual(Object.keys(at(controller, 'config') as object), ['frontend-config-snippet', 'log-format']);
    assert.match(logFormat(), / "%\[var\(txn\.cloister_method\)\] %\[var\(txn\.cloister_path\)\] %HV"$/);
  });

  it('wiring: a Service and a route-acl per node pod, the key map of every pod, the class of a dedicated controller, ports and selectors that exist', () => {
    const objects = ingressVariant('gke');
    const find = (kind: string, name: string): unknown => objects.find((o) => at(o, 'kind') === kind && at(o, 'metadata', 'name') === name);
    const sets = objects.filter((o) => at(o, 'kind') === 'StatefulSet');
    const nodes = fleetNodes(nodeSets(sets));
    assert.ok(nodes.length > 0);
    const ingress = find('Ingress', 'cloister-gateway');
    assert.equal(at(ingress, 'spec', 'ingressClassName'), INGRESS_CLASS);
    const rules = at(ingress, 'spec', 'rules') as unknown[];
    assert.deepEqual(rules.map((r) => at(r, 'host')), [HOST]);
    const paths = (at(rules[0], 'http', 'paths') as unknown[]).map((p) => [at(p, 'path'), at(p, 'backend', 'service', 'name')]);
    assert.deepEqual(paths, [...ANY_NODE_PATHS.map((p) => [p, ANY_NODE_SERVICE]), [DIRECTORY_PATH, DIRECTORY_SERVICE], ...nodes.map((n) => [OHTTP_PATH, n.name])]);
    const containerPorts = sets.flatMap((s) => (at(s, 'spec', 'template', 'spec', 'containers', 0, 'ports') as unknown[]).map((p) => at(p, 'name')));
    for (const n of nodes) {
      const svc = find('Service', n.name);
      assert.deepEqual(at(svc, 'spec', 'selector'), { app: 'cloister-node', [POD_NAME_LABEL]: n.name });
      assert.equal(at(svc, 'metadata', 'annotations', 'haproxy.org/route-acl'), `var(txn.node) -m str ${n.name}`);
      assert.ok(containerPorts.includes(at(svc, 'spec', 'ports', 0, 'targetPort')));
      const set = sets.find((s) => n.name.startsWith(`${String(at(s, 'metadata', 'name'))}-`));
      for (const [k, v] of Object.entries({ app: 'cloister-node' })) assert.equal(at(set, 'spec', 'template', 'metadata', 'labels', k), v);
    }
    assert.equal(at(find('ConfigMap', PATTERNS_CONFIGMAP), 'data', 'keyids'), haproxyKeyMap(nodes));
    const snippet = frontendSnippet();
    assert.match(snippet, /map\("patterns\/keyids"\)/);
    for (const line of snippet.trimEnd().split('\n').filter((l) => l.startsWith('http-request'))) assert.match(line, / if cloister_host /, 'every rule holds for the fleet host only');
    const directory = find('Deployment', 'cloister-fleet');
    assert.deepEqual(at(find('Service', DIRECTORY_SERVICE), 'spec', 'selector'), at(directory, 'spec', 'selector', 'matchLabels'));
    assert.equal(at(find('Service', DIRECTORY_SERVICE), 'spec', 'ports', 0, 'targetPort'), at(directory, 'spec', 'template', 'spec', 'containers', 0, 'ports', 0, 'name'));
  });

  const haproxy = ['/usr/sbin/haproxy', '/usr/bin/haproxy'].find((p) => existsSync(p));
  const skip = haproxy === undefined ? 'haproxy is not installed (Debian: apt-get install haproxy)' : false;

  it('HAProxy accepts the configuration the controller would write around the snippets (haproxy -c)', { skip }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'cloister-ingress-check-'));
    try {
      const endpoints = Object.fromEntries(fleetNodes(nodeSets(loadManifests(join(K8S, 'base', 'nodes.yaml')))).map((n, i) => [n.name, [`10.0.0.${i + 1}:8080`]]));
      const model = controllerModel({ objects: generated(), frontendSnippet: frontendSnippet(), logFormat: logFormat(), patternFiles: patternFiles(), dir, bind: '127.0.0.1:18080', endpoints: { ...endpoints, [ANY_NODE_SERVICE]: Object.values(endpoints).flat() } });
      writeModel(dir, model);
      assert.equal(model.backends['cloister-node-blue-0'], 'cloister_svc_cloister-node-blue-0_https');
      const r = spawnSync(haproxy as string, ['-c', '-f', join(dir, 'haproxy.cfg')], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /Configuration file is valid/);
      // The one warning expected: the snippet's http-request rules follow the controller's use_backend lines, and
      // HAProxy runs them first anyway, which is what the routing relies on.
      const warnings = r.stderr.split('\n').filter((l) => l.includes('[WARNING]'));
      assert.ok(warnings.length > 0);
      assert.deepEqual(warnings.filter((l) => !l.includes("a 'http-request' rule placed after a 'use_backend' rule will still be processed before")), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('HAProxy routes as the fleet does with the snippets in place (stand-in nodes on loopback)', { skip }, () => {
    // Stand-ins answer with their own name; node-blue-2 has no ready pod, so its backend's server slot is disabled.
    const names = ['cloister-node-blue-0', 'cloister-node-blue-1', 'cloister-node-blue-3', 'directory'];
    const servers: Server[] = [];
    const origins: Record<string, string> = {};
    let port = 0;
    let child: ReturnType<typeof spawn> | undefined;
    let dir = '';

    before(async () => {
      for (const name of names) {
        const server = createServer((req, res) => {
          req.resume();
          req.on('end', () => res.end(name));
        });
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        servers.push(server);
        origins[name] = `127.0.0.1:${(server.address() as { port: number }).port}`;
      }
      dir = mkdtempSync(join(tmpdir(), 'cloister-ingress-route-'));
      port = await freePort();
      const nodeEndpoints = names.filter((n) => n !== 'directory').map((n) => origins[n] as string);
      const model = controllerModel({
        objects: generated(),
        frontendSnippet: frontendSnippet(),
        logFormat: logFormat(),
        patternFiles: patternFiles(),
        dir,
        bind: `127.0.0.1:${port}`,
        plainServers: true,
        endpoints: { ...Object.fromEntries(names.map((n) => [n, [origins[n] as string]])), [ANY_NODE_SERVICE]: nodeEndpoints, [DIRECTORY_SERVICE]: [origins.directory as string] },
      });
      writeModel(dir, model);
      child = spawn(haproxy as string, ['-db', '-f', join(dir, 'haproxy.cfg')], { stdio: ['ignore', 'ignore', 'pipe'] });
      for (let i = 0; i < 100; i++) {
        if ((await send('GET', '/status').catch(() => undefined)) !== undefined) return;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error('haproxy did not answer');
    });

    after(async () => {
      if (child?.pid !== undefined && child.exitCode === null) {
        const exited = new Promise((resolve) => child?.once('exit', resolve));
        process.kill(child.pid, 'SIGTERM');
        await exited;
      }
      for (const s of servers) s.close();
      if (dir !== '') rmSync(dir, { recursive: true, force: true });
    });

    // With `declaredLength`, the body sent is only its start and the request is dropped once answered.
    function send(method: string, path: string, options: { host?: string; body?: Buffer; type?: string; declaredLength?: number } = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
      return new Promise((resolve, reject) => {
        const headers: Record<string, string> = { host: options.host ?? HOST };
        if (options.type !== undefined) headers['content-type'] = options.type;
        if (options.body !== undefined) headers['content-length'] = String(options.declaredLength ?? options.body.length);
        const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
            req.destroy();
          });
        });
        req.on('error', reject);
        if (options.declaredLength === undefined) req.end(options.body);
        else req.write(options.body);
      });
    }
    const post = (keyId: number, host?: string): ReturnType<typeof send> => send('POST', OHTTP_PATH, { body: Buffer.from([keyId, 0, 1, 0, 1, 0, 1, 2, 3]), type: 'message/ohttp-req', ...(host === undefined ? {} : { host }) });
    const code = (body: string): unknown => (JSON.parse(body) as { code: unknown }).code;

    it('a POST goes to the node its key ID names (the route-acl use_backend)', async () => {
      for (const [keyId, node] of [[0x00, 'cloister-node-blue-0'], [0x03, 'cloister-node-blue-0'], [0x05, 'cloister-node-blue-1'], [0x0f, 'cloister-node-blue-3'], [0x0c, 'cloister-node-blue-3']] as const) {
        const r = await post(keyId);
        assert.deepEqual([r.status, r.body], [200, node], `key ID ${keyId}`);
      }
    });

    it('a key ID no node holds is 422 OHTTP_KEY, not cached; a key whose node has no ready pod is 503 NODE_UNAVAILABLE with Retry-After', async () => {
      const unknown = await post(0x42);
      assert.deepEqual([unknown.status, code(unknown.body), unknown.headers['cache-control']], [422, 'OHTTP_KEY', 'no-store']);
      const down = await post(0x09);
      assert.deepEqual([down.status, code(down.body), down.headers['retry-after']], [503, 'NODE_UNAVAILABLE', '1']);
    });

    it('GETs of key configurations, attestation and status go to any node; the directory path to the directory', async () => {
      const up = new Set(['cloister-node-blue-0', 'cloister-node-blue-1', 'cloister-node-blue-3']);
      for (const path of ANY_NODE_PATHS) {
        const r = await send('GET', path);
        assert.equal(r.status, 200, path);
        assert.ok(up.has(r.body), `${path}: ${r.body}`);
      }
      assert.deepEqual([(await send('GET', DIRECTORY_PATH)).body], ['directory']);
    });

    it('the node answers for a wrong method, media type, size or path, as problems', async () => {
      const cases: [Promise<{ status: number; body: string }>, number, string][] = [
        [send('PUT', OHTTP_PATH), 405, 'METHOD_NOT_ALLOWED'],
        [send('POST', '/status', { body: Buffer.from([0]), type: 'message/ohttp-req' }), 405, 'METHOD_NOT_ALLOWED'],
        [send('POST', OHTTP_PATH, { body: Buffer.from([0]), type: 'text/plain' }), 415, 'UNSUPPORTED_MEDIA_TYPE'],
        [send('POST', OHTTP_PATH, { body: Buffer.from([0]), declaredLength: 1_052_673, type: 'message/ohttp-req' }), 413, 'PAYLOAD_TOO_LARGE'],
        [send('GET', '/elsewhere'), 404, 'NOT_FOUND'],
      ];
      for (const [p, status, c] of cases) {
        const r = await p;
        assert.deepEqual([r.status, code(r.body)], [status, c]);
      }
    });

    it('another host on the same controller is left alone: no fleet rule holds for it', async () => {
      const r = await post(0x05, 'other.example');
      assert.deepEqual([r.status, r.body], [404, 'default backend']);
      assert.deepEqual([(await send('PUT', OHTTP_PATH, { host: 'other.example' })).body], ['default backend']);
    });
  });
});
