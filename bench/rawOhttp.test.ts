// The benchmark's raw node:crypto OHTTP exchange is a faithful one: it reproduces RFC 9458 Appendix A.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { fromHex, toHex } from '../attestation/index.js';
import { rfc9458 } from '../attestation/testing/hpkeConformance.js';
import { rawPublicKey, x25519PrivateKey } from '../src/base/index.js';
import { createPublicKey } from 'node:crypto';
import { rawDecapsulate } from './rawOhttp.js';

it('raw node:crypto OHTTP reproduces RFC 9458 Appendix A', async () => {
  const sk = x25519PrivateKey(fromHex(rfc9458.gateway_skR_x25519 ?? ''));
  const exchange = await rawDecapsulate(fromHex(rfc9458.encapsulated_request ?? ''), sk, rawPublicKey(createPublicKey(sk)));
  assert.equal(toHex(exchange.message), rfc9458.bhttp_request);
  const expected = fromHex(rfc9458.encapsulated_response ?? '');
  assert.equal(toHex(exchange.respond(fromHex(rfc9458.bhttp_response ?? ''), expected.subarray(0, 16))), rfc9458.encapsulated_response);
});
