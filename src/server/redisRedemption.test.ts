// The Redis spent-token store against a real redis-server 7 on a loopback port: a token redeemed at one gateway is
// a replay at another sharing the server; with Redis killed the gateway refuses (503, fail closed) and serves
// again once Redis is back (the client reconnects by itself). Here, not in src/privacypass/, because it drives the
// OHTTP gateway.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { buildAuthorization, encodeToken } from '../../attestation/protocols/index.js';
import { challengeFor, fixture, mintToken, newIssuerKey, ohttpKey } from '../testing/privacyPassGateway.js';
import { REDIS_SERVER, RedisServer } from '../testing/redisServer.js';
import { parseRedisUrl, RedisSpentTokens } from '../privacypass/redemption/redisSpentTokens.js';

const code = (body: unknown): unknown => (body as { code?: unknown }).code;

async function eventually(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('not within the time allowed');
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('Redis spent-token store (redis-server 7)', { skip: existsSync(REDIS_SERVER) ? false : `${REDIS_SERVER} is not installed` }, () => {
  let redis: RedisServer;
  const stores: RedisSpentTokens[] = [];
  const store = async (): Promise<RedisSpentTokens> => {
    const s = new RedisSpentTokens({ ...parseRedisUrl(redis.url), timeoutMs: 500, backoffMs: { min: 20, max: 200 } });
    stores.push(s);
    await s.client.ready(5000);
    return s;
  };
  before(async () => {
    redis = await RedisServer.start();
  });
  after(async () => {
    for (const s of stores) await s.close();
    await redis.close();
  });

  it('SET NX PXAT: fresh, then replay; the entry expires at the key expiry', async () => {
    const s = await store();
    const id = new Uint8Array(32).fill(7);
    const nonce = Uint8Array.of(1, 2, 3);
    assert.equal(await s.spend(id, nonce, Date.now() + 60_000), 'fresh');
    assert.equal(await s.spend(id, nonce, Date.now() + 60_000), 'replay');
    const pttl = await s.client.command(['PTTL', `cloister:pp:${'07'.repeat(32)}:010203`]);
    assert.ok(typeof pttl === 'number' && pttl > 50_000 && pttl <= 60_000, JSON.stringify(pttl));
    assert.equal(await s.spend(id, Uint8Array.of(9), Date.now() + 150), 'fresh');
    await new Promise((r) => setTimeout(r, 250));
    assert.equal(await s.spend(id, Uint8Array.of(9), Date.now() + 150), 'fresh');
  });

  it('a token redeemed at one gateway is a replay at another sharing the Redis server', async () => {
    const key = await newIssuerKey();
    const ohttp = await ohttpKey();
    const a = await fixture({ keys: [key], spent: await store(), ohttp });
    const b = await fixture({ keys: [key], spent: await store(), ohttp });
    const authorization: [string, string] = ['authorization', buildAuthorization(encodeToken(await mintToken(key, await challengeFor(a, key))))];
    assert.equal((await a.send([authorization])).status, 200);
    const replay = await b.send([authorization]);
    assert.deepEqual([replay.status, code(replay.body)], [401, 'PRIVACY_PASS_REPLAYED']);
    assert.deepEqual([a.ran.count, b.ran.count], [1, 0]);
  });

  it('with Redis killed the gateway refuses (503 SPENT_TOKENS_UNAVAILABLE, the target does not run); restarted, it serves again', async () => {
    const key = await newIssuerKey();
    const spent = await store();
    const f = await fixture({ keys: [key], spent });
    const token = async (): Promise<[string, string]> => ['authorization', buildAuthorization(encodeToken(await mintToken(key, await challengeFor(f, key))))];
    assert.equal((await f.send([await token()])).status, 200);
    await redis.stop();
    const t = await token();
    const refused = await f.send([t]);
    assert.deepEqual([refused.status, code(refused.body)], [503, 'SPENT_TOKENS_UNAVAILABLE']);
    assert.equal(f.ran.count, 1);
    await redis.start();
    await eventually(() => Promise.resolve(spent.client.connected));
    // The refused token was never recorded: it is still good.
    const served = await f.send([t]);
    assert.equal(served.status, 200);
    assert.equal(f.ran.count, 2);
  });

  it('a command without a reply in time fails closed (the server paused), and the client recovers', async () => {
    const s = await store();
    const pause = await store();
    // CLIENT PAUSE holds every client's writes: the SET gets no reply within its timeout.
    assert.equal(await pause.client.command(['CLIENT', 'PAUSE', '800', 'WRITE']), 'OK');
    const started = Date.now();
    await assert.rejects(s.spend(new Uint8Array(32), Uint8Array.of(42), Date.now() + 60_000), { code: 'SPENT_TOKENS_UNAVAILABLE' });
    assert.ok(Date.now() - started < 800, 'the timeout, not the pause, ended the command');
    await new Promise((r) => setTimeout(r, 900));
    await eventually(() => Promise.resolve(s.client.connected));
    assert.ok(['fresh', 'replay'].includes(await s.spend(new Uint8Array(32), Uint8Array.of(43), Date.now() + 60_000)));
  });
});
