// cloister fleet's command line: each usage error is one line and exit 2, before anything listens or is written;
// `cloister fleet haproxy --out DIR` writes DIR/haproxy.cfg and DIR/keyids.map from the --node list.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { temporaryDirectories } from '../testing/tempDirs.js';
import { fleetCommand, parseNodeSpec } from './fleetCommand.js';
import { processIo } from './io.js';

const tempDir = temporaryDirectories('cloister-fleet-command-');

async function run(args: readonly string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await fleetCommand([...args], { ...processIo, stdout: (t) => (out += t), stderr: (t) => (err += t) }, { stopSignal: () => assert.fail('nothing may start') });
  return { code, out, err };
}

const N0 = 'node-0=https://10.0.0.5:8443=0-3';
const N1 = 'node-1=https://10.0.0.6:8443=4-7';

describe('parseNodeSpec', () => {
  it('reads NAME=URL=FIRST-LAST, a trailing slash dropped', () => {
    assert.deepEqual(parseNodeSpec('node-0=https://10.0.0.5:8443/=0-3'), { name: 'node-0', origin: 'https://10.0.0.5:8443', keyIds: { first: 0, last: 3 } });
    assert.deepEqual(parseNodeSpec('n=http://[::1]:9000=255-255'), { name: 'n', origin: 'http://[::1]:9000', keyIds: { first: 255, last: 255 } });
  });

  it('reads a fourth part as the gateway of the node\'s shard', () => {
    assert.deepEqual(parseNodeSpec('node-64=https://10.0.1.5:8443=0-3=https://shard-b.fleet.example/'), { name: 'node-64', origin: 'https://10.0.1.5:8443', keyIds: { first: 0, last: 3 }, gateway: 'https://shard-b.fleet.example' });
    assert.equal(parseNodeSpec('node-64=https://10.0.1.5:8443=0-3=HTTPS://Shard-B.Fleet.Example:443').gateway, 'https://shard-b.fleet.example', 'as an origin, the form clients match it in');
  });
});

describe('cloister fleet: usage errors, one line each, exit 2', () => {
  const measurement = ['--measurement', 'ab'.repeat(48)];
  for (const [why, args, message] of [
    ['no --node', ['--gateway', 'https://fleet.example', ...measurement], /missing --node/],
    ['a node spec without a range', ['--node', 'node-0=https://10.0.0.5:8443', '--gateway', 'https://fleet.example', ...measurement], /--node must be NAME=URL=FIRST-LAST/],
    ['a node name in upper case', ['--node', 'Node=https://10.0.0.5:8443=0-3', '--gateway', 'https://fleet.example', ...measurement], /--node must be NAME=URL=FIRST-LAST/],
    ['a node URL with a path', ['--node', 'n=https://10.0.0.5:8443/x=0-3', '--gateway', 'https://fleet.example', ...measurement], /--node must be/],
    ['a node URL of another scheme', ['--node', 'n=ftp://10.0.0.5=0-3', '--gateway', 'https://fleet.example', ...measurement], /--node must be/],
    ['a reversed range', ['--node', 'n=https://10.0.0.5=3-0', '--gateway', 'https://fleet.example', ...measurement], /--node must be/],
    ['a range above 255', ['--node', 'n=https://10.0.0.5=250-256', '--gateway', 'https://fleet.example', ...measurement], /--node must be/],
    ['a duplicate name', ['--node', N0, '--node', 'node-0=https://10.0.0.6:8443=4-7', '--gateway', 'https://fleet.example', ...measurement], /node name "node-0" is given twice/],
    ['overlapping ranges', ['--node', N0, '--node', 'node-1=https://10.0.0.6:8443=3-7', '--gateway', 'https://fleet.example', ...measurement], /the key ID ranges of "node-0" and "node-1" overlap/],
    ['a shard gateway with a path', ['--node', 'n=https://10.0.0.5=0-3=https://shard-b.example/x', '--gateway', 'https://fleet.example', ...measurement], /--node must be NAME=URL=FIRST-LAST\[=GATEWAY\]/],
    ['overlapping ranges on one shard', ['--node', `${N0}=https://shard-b.example`, '--node', 'node-1=https://10.0.0.6:8443=3-7=https://shard-b.example', '--gateway', 'https://fleet.example', ...measurement], /overlap on one gateway/],
    ['overlapping ranges, one on the default gateway named outright', ['--node', `${N0}=https://fleet.example`, '--node', 'node-1=https://10.0.0.6:8443=3-7', '--gateway', 'https://fleet.example', ...measurement], /overlap on one gateway/],
    ['overlapping ranges, one on the default gateway written in capitals', ['--node', `${N0}=https://FLEET.example`, '--node', 'node-1=https://10.0.0.6:8443=3-7', '--gateway', 'https://fleet.example', ...measurement], /overlap on one gateway/],
    ['overlapping ranges, one on the default gateway with its default port', ['--node', `${N0}=https://fleet.example:443`, '--node', 'node-1=https://10.0.0.6:8443=3-7', '--gateway', 'https://fleet.example', ...measurement], /overlap on one gateway/],
    ['overlapping ranges on one shard written two ways', ['--node', `${N0}=https://shard-b.example`, '--node', 'node-1=https://10.0.0.6:8443=3-7=https://Shard-B.Example:443/', '--gateway', 'https://fleet.example', ...measurement], /overlap on one gateway/],
    ['no --gateway', ['--node', N0, ...measurement], /--gateway must be/],
    ['a --gateway with a path', ['--node', N0, '--gateway', 'https://fleet.example/ohttp', ...measurement], /--gateway must be/],
    ['a --gateway that is not a URL', ['--node', N0, '--gateway', 'fleet.example', ...measurement], /--gateway must be/],
    ['a --refresh of 0', ['--node', N0, '--gateway', 'https://fleet.example', '--refresh', '0', ...measurement], /--refresh must be a whole number of seconds/],
    ['a --max-age that is not a number', ['--node', N0, '--gateway', 'https://fleet.example', '--max-age', '1m', ...measurement], /--max-age must be a whole number of seconds/],
    ['a --port out of range', ['--node', N0, '--gateway', 'https://fleet.example', '--port', '70000', ...measurement], /--port must be 0 to 65535/],
    ['no measurement source', ['--node', N0, '--node', N1, '--gateway', 'https://fleet.example'], /measurement/i],
    ['an unknown option', ['--node', N0, '--gateway', 'https://fleet.example', '--nodes', 'x', ...measurement], /nodes/],
  ] as const) {
    it(`refuses ${why}`, async () => {
      const r = await run(args);
      assert.equal(r.code, 2, r.err);
      assert.match(r.err, message);
      assert.equal(r.err.trim().split('\n').length, 1, r.err);
      assert.equal(r.out, '');
    });
  }

  it('--help prints the usage, exit 0', async () => {
    const r = await run(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.out, /^Usage: cloister fleet --node NAME=URL=FIRST-LAST/);
  });
});

describe('cloister fleet haproxy', () => {
  it('writes haproxy.cfg and keyids.map into --out (created), the map holding every key ID of every --node', async () => {
    const out = join(tempDir(), 'gateway');
    const r = await run(['haproxy', '--node', N0, '--node', N1, '--directory', 'http://127.0.0.1:8090/', '--listen', '0.0.0.0:8443', '--out', out]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /\(8 key IDs, 2 nodes\)/);
    const map = readFileSync(join(out, 'keyids.map'), 'utf8');
    assert.deepEqual(map.split('\n').filter((l) => l !== '' && !l.startsWith('#')), ['00 node-0', '01 node-0', '02 node-0', '03 node-0', '04 node-1', '05 node-1', '06 node-1', '07 node-1']);
    const cfg = readFileSync(join(out, 'haproxy.cfg'), 'utf8');
    assert.ok(cfg.includes(`map("${join(out, 'keyids.map')}")`), 'the map by its absolute path');
    assert.ok(cfg.includes(`stats socket "${join(out, 'admin.sock')}"`));
    assert.match(cfg, /bind "0\.0\.0\.0:8443"/);
    assert.match(cfg, /server fleet 127\.0\.0\.1:8090$/m);
  });

  for (const [why, args, message] of [
    ['no --out', ['--node', N0, '--directory', 'http://127.0.0.1:8090'], /missing --out DIR/],
    ['an https --directory', ['--node', N0, '--directory', 'https://127.0.0.1:8090', '--out', 'x'], /--directory must be cloister fleet's http:\/\/ origin/],
    ['a --listen without a port', ['--node', N0, '--directory', 'http://127.0.0.1:8090', '--listen', '127.0.0.1', '--out', 'x'], /--listen must be ADDRESS:PORT/],
    ['overlapping ranges', ['--node', N0, '--node', 'node-1=https://10.0.0.6:8443=0-0', '--directory', 'http://127.0.0.1:8090', '--out', 'x'], /overlap/],
    ['a bad --node', ['--node', 'node-0', '--directory', 'http://127.0.0.1:8090', '--out', 'x'], /--node must be NAME=URL=FIRST-LAST/],
    ['nodes of two shards', ['--node', N0, '--node', 'node-64=https://10.0.1.5:8443=0-3=https://shard-b.example', '--directory', 'http://127.0.0.1:8090', '--out', 'x'], /one HAProxy routes one gateway's key IDs: give the nodes of one shard/],
  ] as const) {
    it(`refuses ${why} with one line, exit 2, writing nothing`, async () => {
      const dir = tempDir();
      const r = await run(['haproxy', ...args.map((a) => (a === 'x' ? join(dir, 'out') : a))]);
      assert.equal(r.code, 2, r.err);
      assert.match(r.err, message);
      assert.equal(r.err.trim().split('\n').length, 1, r.err);
      assert.equal(existsSync(join(dir, 'out')), false);
    });
  }
});
