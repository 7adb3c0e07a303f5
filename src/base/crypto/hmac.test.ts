// hmacSha256 equals node:crypto's createHmac for keys shorter than, equal to and longer than the block,
// and for messages given in parts; RFC 4231 test case 6 (a 131-byte key) byte for byte.
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { it } from 'node:test';
import { hmacSha256 } from './hmac.js';

it('equals createHmac for every key length around the block size, with the message in parts', () => {
  for (const n of [0, 1, 32, 63, 64, 65, 131, 300]) {
    const key = randomBytes(n);
    const a = randomBytes(17);
    const b = randomBytes(100);
    assert.deepEqual(hmacSha256(key, a, b), createHmac('sha256', key).update(a).update(b).digest(), `key of ${n} bytes`);
  }
});

it('reproduces RFC 4231 test case 6', () => {
  const key = Buffer.alloc(131, 0xaa);
  const data = Buffer.from('Test Using Larger Than Block-Size Key - Hash Key First');
  assert.equal(hmacSha256(key, data).toString('hex'), '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54');
});
