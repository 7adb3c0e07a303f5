// The Ingress controller's snippets answer exactly as `cloister fleet haproxy`'s configuration does (the same rules
// and problem bodies, held to the fleet's host), and refuse names that would not survive unquoted in HAProxy's
// configuration. HAProxy itself runs them in scripts/deploy/fleet/ingress.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { haproxyConfig, haproxyGatewayRules } from './haproxyConfig.js';
import { ingressBackendSnippet, ingressFrontendSnippet, ingressRouteAcl, INGRESS_KEY_MAP } from './haproxyIngress.js';

const bodies = (text: string): string[] => [...text.matchAll(/string '([^']*)'/g)].map((m) => m[1] as string);

describe('ingressFrontendSnippet', () => {
  const snippet = ingressFrontendSnippet({ host: 'Fleet.Example' });

  it('holds the gateway rules of the plain configuration, each only for the fleet host, with the key map as a pattern file', () => {
    const plain = haproxyConfig({ nodes: [], listen: '127.0.0.1:1', directory: 'http://127.0.0.1:2', mapFile: INGRESS_KEY_MAP, socket: '/run/a.sock' });
    assert.deepEqual(bodies(snippet), bodies(haproxyGatewayRules({ mapFile: INGRESS_KEY_MAP }).join('\n')));
    for (const body of bodies(snippet)) assert.ok(plain.includes(body), body);
    assert.match(snippet, /^acl cloister_host req\.hdr\(host\),field\(1,:\),lower -m str fleet\.example$/m);
    const rules = snippet.split('\n').filter((l) => l.startsWith('http-request'));
    assert.equal(rules.length, 11);
    for (const r of rules) assert.match(r, / if cloister_host /);
    assert.match(snippet, / if cloister_host !cloister_get !cloister_ohttp or cloister_host !cloister_get !cloister_post$/m);
    assert.match(snippet, /set-var\(txn\.node\) var\(txn\.keyid\),map\("patterns\/keyids"\)/);
  });

  it('takes the body limit it is given, and refuses a host that is not a DNS name', () => {
    assert.match(ingressFrontendSnippet({ host: 'a.example', maxBodyBytes: 2048 }), /gt 2048 \}/);
    assert.throws(() => ingressFrontendSnippet({ host: 'a.example }' }), /is not a DNS name/);
  });
});

describe('ingressRouteAcl and ingressBackendSnippet', () => {
  it('a node is chosen by the name the key map gives it; a name HAProxy would misread is refused', () => {
    assert.equal(ingressRouteAcl('cloister-node-blue-0'), 'var(txn.node) -m str cloister-node-blue-0');
    for (const bad of ['', 'Node', 'a b', 'a}', '-a']) assert.throws(() => ingressRouteAcl(bad), /is not a Kubernetes object name/);
  });

  it('each backend answers 503 as its problem with Retry-After, then 502 and 504', () => {
    const codes = (text: string): string[] => bodies(text).map((b) => (JSON.parse(b) as { code: string }).code);
    assert.deepEqual(codes(ingressBackendSnippet('node')), ['NODE_UNAVAILABLE', 'BAD_GATEWAY', 'GATEWAY_TIMEOUT']);
    assert.deepEqual(codes(ingressBackendSnippet('directory')), ['FLEET_DIRECTORY_UNAVAILABLE', 'BAD_GATEWAY', 'GATEWAY_TIMEOUT']);
    assert.match(ingressBackendSnippet('anyNode'), /^http-error status 503 content-type application\/problem\+json hdr retry-after 1 string .*no node of the fleet is up/);
  });
});
