// cloister fleet haproxy's output: the key map lists every key ID of every node's range once, in the upper-case
// two-digit hex HAProxy's `hex` converter prints; the configuration names every node in both backends, speaks TLS
// to https:// nodes, logs no more of a request than its method and path, and is accepted by `haproxy -c` when
// HAProxy is installed (skipped otherwise).
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { temporaryDirectories } from '../testing/tempDirs.js';
import { selfSignedCertificate } from '../testing/selfSignedCertificate.js';
import { haproxyConfig, haproxyKeyMap, type HaproxyNode } from './haproxyConfig.js';

const tempDir = temporaryDirectories('cloister-haproxy-config-');

const NODES: readonly HaproxyNode[] = [
  { name: 'node-0', origin: 'https://10.0.0.5:8443', keyIds: { first: 0, last: 3 } },
  { name: 'node-1', origin: 'http://[::1]:9000', keyIds: { first: 10, last: 15 } },
  { name: 'node-2', origin: 'https://localhost', keyIds: { first: 250, last: 255 } },
];

/** The map's entries, comments left out. */
const entries = (map: string): [string, string][] =>
  map
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => l.split(' ') as [string, string]);

function haproxyPath(): string | undefined {
  const r = spawnSync('sh', ['-c', 'command -v haproxy'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

describe('haproxyKeyMap', () => {
  it('lists every key ID of every range once, as two upper-case hex digits, with its node', () => {
    const map = entries(haproxyKeyMap(NODES));
    const expected = NODES.flatMap((n) => Array.from({ length: n.keyIds.last - n.keyIds.first + 1 }, (_, i) => [(n.keyIds.first + i).toString(16).toUpperCase().padStart(2, '0'), n.name]));
    assert.deepEqual(map, expected);
    assert.deepEqual(map.slice(0, 4), [['00', 'node-0'], ['01', 'node-0'], ['02', 'node-0'], ['03', 'node-0']]);
    assert.deepEqual(map[4], ['0A', 'node-1'], 'upper case, as hex prints');
    assert.deepEqual(map.at(-1), ['FF', 'node-2']);
    assert.equal(new Set(map.map(([id]) => id)).size, map.length, 'each key ID once');
    for (const [id] of map) assert.match(id, /^[0-9A-F]{2}$/);
  });

  it('a node with the whole range 0-255 has 256 lines, and one of a single key ID has one', () => {
    assert.equal(entries(haproxyKeyMap([{ name: 'all', origin: 'http://a:1', keyIds: { first: 0, last: 255 } }])).length, 256);
    assert.deepEqual(entries(haproxyKeyMap([{ name: 'one', origin: 'http://a:1', keyIds: { first: 7, last: 7 } }])), [['07', 'one']]);
  });
});

describe('haproxyConfig', () => {
  const options = { nodes: NODES, listen: '127.0.0.1:8443', directory: 'http://127.0.0.1:8090', mapFile: '/etc/haproxy/keyids.map', socket: '/run/haproxy/admin.sock' };

  it('names every node in nodes_by_key and any_node, TLS without verification to https:// nodes, default ports filled in', () => {
    const cfg = haproxyConfig(options);
    assert.match(cfg, /^ {4}server node-0 10\.0\.0\.5:8443 ssl verify none$/m);
    assert.match(cfg, /^ {4}server node-1 \[::1\]:9000$/m);
    assert.match(cfg, /^ {4}server node-2 localhost:443 ssl verify none$/m);
    assert.match(cfg, /^ {4}server node-1 \[::1\]:9000 track nodes_by_key\/node-1$/m);
    assert.match(cfg, /^ {4}server fleet 127\.0\.0\.1:8090$/m);
    assert.match(cfg, /map\("\/etc\/haproxy\/keyids\.map"\)/);
    assert.match(cfg, /bind "127\.0\.0\.1:8443"/);
    assert.match(cfg, /stats socket "\/run\/haproxy\/admin\.sock"/);
    assert.match(cfg, /req\.hdr_val\(content-length\) gt 1052672/);
    assert.match(cfg, /timeout server 30s/);
  });

  it('takes the body limit and timeout it is given', () => {
    const cfg = haproxyConfig({ ...options, maxBodyBytes: 2048, timeoutSeconds: 60 });
    assert.match(cfg, /gt 2048 \}/);
    assert.match(cfg, /timeout server 60s/);
    assert.match(cfg, /timeout client 65s/);
  });

  it('the problem bodies it returns are JSON with the code of the problem', () => {
    const cfg = haproxyConfig(options);
    const bodies = [...cfg.matchAll(/string '([^']*)'/g)].map((m) => JSON.parse(m[1] as string) as { status: number; code: string });
    assert.deepEqual(bodies.map((b) => [b.status, b.code]), [
      [408, 'REQUEST_TIMEOUT'], [502, 'BAD_GATEWAY'], [504, 'GATEWAY_TIMEOUT'],
      [404, 'NOT_FOUND'], [405, 'METHOD_NOT_ALLOWED'], [415, 'UNSUPPORTED_MEDIA_TYPE'], [413, 'PAYLOAD_TOO_LARGE'], [400, 'OHTTP_MALFORMED'], [422, 'OHTTP_KEY'],
      [503, 'NODE_UNAVAILABLE'], [503, 'NODE_UNAVAILABLE'], [503, 'FLEET_DIRECTORY_UNAVAILABLE'],
    ]);
  });

  it('logs a request line of method and path only where the gateway serves them, set before any rule answers', () => {
    const cfg = haproxyConfig(options);
    assert.doesNotMatch(cfg, /^ *option httplog/m);
    const format = /^ {4}log-format (.*)$/m.exec(cfg)?.[1] ?? '';
    assert.ok(format.endsWith('\\"%[var(txn.method)] %[var(txn.path)] %HV\\""'), format);
    // Only these variables: not %r, %HU or %HQ (the query string), nor %hr, %hs, %CC, %CS (captured headers, cookies).
    const variables = [...format.matchAll(/%(?:\{[^}]*\})?([A-Za-z]+)/g)].map((m) => m[1]);
    assert.deepEqual(variables, ['ci', 'cp', 'tr', 'ft', 'b', 's', 'TR', 'Tw', 'Tc', 'Tr', 'Ta', 'ST', 'B', 'tsc', 'ac', 'fc', 'bc', 'sc', 'rc', 'sq', 'bq', 'HV']);
    assert.deepEqual([...format.matchAll(/%\[([^\]]*)\]/g)].map((m) => m[1]), ['var(txn.method)', 'var(txn.path)']);
    const frontend = cfg.slice(cfg.indexOf('frontend gateway'));
    const firstAnswer = frontend.indexOf('http-request return');
    assert.ok(frontend.indexOf('set-var(txn.method) method if get or post') < firstAnswer);
    assert.ok(frontend.indexOf('set-var(txn.path) path if public or fleet') < firstAnswer);
  });

  it('is valid for haproxy -c (when HAProxy is installed)', (t) => {
    const haproxy = haproxyPath();
    if (haproxy === undefined) {
      t.skip('haproxy is not on PATH');
      return;
    }
    const dir = tempDir();
    const mapFile = join(dir, 'keyids.map');
    const cfgFile = join(dir, 'haproxy.cfg');
    writeFileSync(mapFile, haproxyKeyMap(NODES));
    writeFileSync(cfgFile, haproxyConfig({ ...options, mapFile, socket: join(dir, 'admin.sock') }));
    const out = execFileSync(haproxy, ['-c', '-f', cfgFile], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    assert.match(out, /Configuration file is valid/);
  });

  it('with tlsCertificate, listens for HTTPS with that certificate, and is valid for haproxy -c', async (t) => {
    const dir = tempDir();
    const pem = join(dir, 'gateway.pem');
    const cfg = haproxyConfig({ ...options, mapFile: join(dir, 'keyids.map'), socket: join(dir, 'admin.sock'), tlsCertificate: pem });
    assert.match(cfg, new RegExp(`^ {4}bind "${options.listen}" ssl crt "${pem}"$`, 'm'));
    const haproxy = haproxyPath();
    if (haproxy === undefined) {
      t.skip('haproxy is not on PATH');
      return;
    }
    const { cert, key } = await selfSignedCertificate();
    writeFileSync(pem, `${cert}${key}`);
    writeFileSync(join(dir, 'keyids.map'), haproxyKeyMap(NODES));
    writeFileSync(join(dir, 'haproxy.cfg'), cfg);
    assert.match(execFileSync(haproxy, ['-c', '-f', join(dir, 'haproxy.cfg')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }), /Configuration file is valid/);
  });
});
