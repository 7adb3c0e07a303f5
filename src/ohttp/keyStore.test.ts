// The gateway's OHTTP key store with a fake clock and timers: distinct key IDs, rotation on schedule,
// the overlap window, retirement, change notifications, and how long caches may keep the configurations.
import assert from 'node:assert/strict';
import { CloisterError } from '../../attestation/errors.js';
import { describe, it } from 'node:test';
import { decodeKeyConfig } from '../../attestation/protocols/ohttp/keyConfig.js';
import type { TimerHandle } from '../base/timer.js';
import { OhttpKeyStore } from './keyStore.js';

class FakeTimers {
  live: { fn: () => void; ms: number; at: number }[] = [];
  now = 0;
  set = (fn: () => void, ms: number): TimerHandle => {
    const t = { fn, ms, at: this.now + ms };
    this.live.push(t);
    return { clear: () => (this.live = this.live.filter((x) => x !== t)) };
  };
  async advance(ms: number): Promise<void> {
    this.now += ms;
    for (;;) {
      const due = this.live.filter((t) => t.at <= this.now).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) break;
      this.live = this.live.filter((t) => t !== due);
      due.fn();
      for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
    }
  }
}

describe('OhttpKeyStore', () => {
  it('starts with one key and rotates on schedule, keeping the old key for the overlap window', async () => {
    const timers = new FakeTimers();
    const changes: number[][] = [];
    const store = await OhttpKeyStore.create({ rotateSeconds: 100, overlapSeconds: 10, now: () => timers.now, setTimer: timers.set, onChange: (s) => void changes.push(s.keys.map((k) => k.config.keyId)) });
    assert.equal(store.keys.length, 1);
    const first = store.keys[0]?.config.keyId as number;
    assert.equal(decodeKeyConfig(store.configs[0] as Uint8Array).keyId, first);
    assert.equal(store.rotationDue, 100_000);
    await timers.advance(100_000);
    assert.equal(store.keys.length, 2);
    const second = store.keys[0]?.config.keyId as number;
    assert.notEqual(second, first);
    assert.ok(store.lookup(first) !== undefined, 'the old key still decrypts in the overlap');
    await timers.advance(10_000);
    assert.equal(store.lookup(first), undefined, 'then it is retired');
    assert.deepEqual(changes, [[second, first], [second]]);
    store.close();
    assert.equal(timers.live.length, 0, 'close clears every timer');
  });

  it('never reuses a live key ID, retires on demand (not the current key), and can stay unrotated', async () => {
    const store = await OhttpKeyStore.create({ rotateSeconds: 0, overlapSeconds: 3600 });
    assert.equal(store.rotationDue, undefined);
    for (let i = 0; i < 5; i++) await store.rotate();
    const ids = store.keys.map((k) => k.config.keyId);
    assert.equal(new Set(ids).size, 6);
    assert.equal(await store.retire(ids[0] as number), false, 'the current key stays');
    assert.equal(await store.retire(ids[3] as number), true);
    assert.equal(await store.retire(ids[3] as number), false);
    assert.equal(store.keys.length, 5);
    store.close();
    await store.rotate();
    assert.equal(store.keys.length, 5, 'a closed store does not rotate');
    await assert.rejects(OhttpKeyStore.create({ rotateSeconds: -1 }), RangeError);
  });

  it('draws key IDs from its range only (a fleet node), reuses a retired one, and says when the range is full', async () => {
    const store = await OhttpKeyStore.create({ rotateSeconds: 0, overlapSeconds: 3600, keyIds: { first: 8, last: 10 } });
    await store.rotate();
    await store.rotate();
    const ids = store.keys.map((k) => k.config.keyId);
    assert.deepEqual([...ids].sort((a, b) => a - b), [8, 9, 10]);
    await assert.rejects(store.rotate(), (e: unknown) => e instanceof CloisterError && e.code === 'OHTTP_KEY_IDS_EXHAUSTED' && /all 3 key IDs of 8-10 are in use/.test(e.message));
    assert.equal(await store.retire(ids[2] as number), true);
    await store.rotate();
    assert.equal(store.keys[0]?.config.keyId, ids[2]);
    store.close();
    for (const keyIds of [{ first: 5, last: 4 }, { first: -1, last: 3 }, { first: 0, last: 256 }, { first: 0.5, last: 3 }]) {
      await assert.rejects(OhttpKeyStore.create({ keyIds }), RangeError);
    }
  });

  it('lets caches keep the configurations no longer than the overlap, nor past the moment one of them stops decrypting', async () => {
    const timers = new FakeTimers();
    const store = await OhttpKeyStore.create({ rotateSeconds: 20, overlapSeconds: 5, now: () => timers.now, setTimer: timers.set });
    const first = store.keys[0]?.config.keyId as number;
    assert.equal(store.decryptsUntil(first), 25_000, 'the current key: next rotation plus the overlap');
    assert.equal(store.cacheSeconds(), 5);
    await timers.advance(19_999);
    assert.equal(store.cacheSeconds(), 5, 'a copy taken just before the rotation decrypts for its whole life');
    const beforeRotation = store.configs;
    await timers.advance(1);
    const second = store.keys[0]?.config.keyId as number;
    assert.equal(store.decryptsUntil(first), 25_000);
    assert.equal(store.decryptsUntil(second), 45_000);
    await timers.advance(1_500);
    assert.equal(store.cacheSeconds(), 3, 'both served: bounded by the retiring key');
    assert.equal(store.cacheSeconds(beforeRotation), 3, 'the old set, still served until the certificate is re-issued');
    assert.equal(store.cacheSeconds(store.configs.slice(0, 1)), 5);
    await timers.advance(3_000);
    assert.equal(store.cacheSeconds(), 0);
    await timers.advance(500);
    assert.equal(store.decryptsUntil(first), undefined, 'retired');
    assert.equal(store.cacheSeconds(beforeRotation), 0, 'a set naming a retired key may not be kept at all');
    assert.equal(store.cacheSeconds(), 5);
    store.close();
  });

  it('bounds caching by the overlap even against a rotation made early by hand, and not at all without rotation', async () => {
    const timers = new FakeTimers();
    const store = await OhttpKeyStore.create({ rotateSeconds: 100, overlapSeconds: 10, now: () => timers.now, setTimer: timers.set });
    await timers.advance(50_000);
    const fetched = { at: timers.now, seconds: store.cacheSeconds() as number };
    await store.rotate();
    assert.equal(fetched.seconds, 10);
    assert.equal(store.decryptsUntil(store.keys[1]?.config.keyId as number), fetched.at + fetched.seconds * 1000, 'a copy taken before the early rotation still decrypts until it expires');
    store.close();
    const never = await OhttpKeyStore.create({ rotateSeconds: 0, overlapSeconds: 30, now: () => timers.now, setTimer: timers.set });
    assert.equal(never.cacheSeconds(), undefined, 'no rotation: only the routes\' ceilings apply');
    assert.equal(never.decryptsUntil(never.keys[0]?.config.keyId as number), Infinity);
    await never.rotate();
    assert.equal(never.cacheSeconds(), 30, 'a key rotated out by hand still bounds it');
    assert.equal(never.cacheSeconds(never.configs.slice(0, 1)), undefined);
    never.close();
  });

  it('reports a failing change listener instead of throwing', async () => {
    const errors: unknown[] = [];
    const store = await OhttpKeyStore.create({ rotateSeconds: 0, onChange: () => Promise.reject(new Error('boom')), onError: (e) => errors.push(e) });
    await store.rotate();
    assert.equal(errors.length, 1);
    store.close();
  });
});
