// The RESP2 codec of the spent-token store's client, and redis:// URLs.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRedisUrl } from './redisSpentTokens.js';
import { decodeReply, encodeCommand } from './resp.js';

describe('RESP2 codec', () => {
  it('encodes a command as an array of bulk strings, and decodes each reply kind, incomplete ones as undefined', () => {
    assert.equal(encodeCommand(['SET', 'k', 'é']).toString(), '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\né\r\n');
    assert.deepEqual(decodeReply(Buffer.from('+OK\r\n')), { reply: 'OK', length: 5 });
    assert.deepEqual(decodeReply(Buffer.from('$-1\r\n+OK')), { reply: null, length: 5 });
    assert.deepEqual(decodeReply(Buffer.from('-ERR x\r\n')), { reply: { error: 'ERR x' }, length: 8 });
    assert.deepEqual(decodeReply(Buffer.from(':12\r\n')), { reply: 12, length: 5 });
    assert.deepEqual(decodeReply(Buffer.from('$2\r\nab\r\n')), { reply: 'ab', length: 8 });
    assert.equal(decodeReply(Buffer.from('$2\r\na')), undefined);
    assert.equal(decodeReply(Buffer.from('+OK')), undefined);
    assert.throws(() => decodeReply(Buffer.from('*1\r\n')));
  });

  it('reads redis://HOST:PORT and nothing else', () => {
    assert.deepEqual(parseRedisUrl('redis://127.0.0.1:6380'), { host: '127.0.0.1', port: 6380 });
    assert.deepEqual(parseRedisUrl('redis://[::1]'), { host: '::1', port: 6379 });
    for (const bad of ['http://x:1', 'redis://u:p@x:1', 'redis://x:1/2', 'nonsense']) assert.throws(() => parseRedisUrl(bad), { code: 'SPENT_TOKENS_UNAVAILABLE' });
  });
});
