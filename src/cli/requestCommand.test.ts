// `cloister request --shard-relay`: parsing only; the shards themselves are src/cli/fleetShards.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { shardRelays } from './requestCommand.js';

const FLEET = 'https://fleet.example/.well-known/cloister/fleet';

describe('--shard-relay GATEWAY=URL', () => {
  it('keys each relay by the gateway\'s origin', () => {
    assert.deepEqual(shardRelays(['https://Shard-B.example:443/=https://relay.example/b', 'http://[::1]:8444=http://127.0.0.1:8081/c'], FLEET), { 'https://shard-b.example': 'https://relay.example/b', 'http://[::1]:8444': 'http://127.0.0.1:8081/c' });
  });

  it('refuses one gateway given twice, however it is written', () => {
    assert.throws(() => shardRelays(['https://shard-b.example=https://relay.example/b', 'https://SHARD-B.example:443=https://relay.example/c'], FLEET), { code: 'USAGE', message: /--shard-relay gives gateway https:\/\/shard-b\.example twice/ });
  });

  it('refuses a gateway with userinfo, a path or no scheme, and --shard-relay without --fleet', () => {
    for (const spec of ['https://u:p@shard-b.example=https://relay.example/b', 'https://shard-b.example/x=https://relay.example/b', 'shard-b.example=https://relay.example/b']) {
      assert.throws(() => shardRelays([spec], FLEET), { code: 'USAGE' }, spec);
    }
    assert.throws(() => shardRelays(['https://shard-b.example=https://relay.example/b'], undefined), { code: 'USAGE', message: /needs --fleet/ });
  });
});
