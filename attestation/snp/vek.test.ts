import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toHex } from '../bytes.js';
import { certs, vector } from '../testing/vectors.js';
import { parseCertificate } from '../x509.js';
import { productFromCpuId, productFromName } from './product.js';
import { decodeTcb, encodeTcb } from './tcb.js';
import { isVekCertificate, parseVekExtensions } from './vek.js';

describe('VCEK/VLEK extensions', () => {
  it('reads a Milan VCEK: product, SPLs and the 64-byte hwID', () => {
    const info = parseVekExtensions(parseCertificate(vector('go-sev-guest/vcek_milan.der')));
    assert.equal(info.kind, 'vcek');
    assert.equal(info.productName, 'Milan-B0');
    assert.equal(info.product, 'Milan');
    assert.deepEqual(info.tcb, { bootloader: 2, tee: 0, snp: 5, microcode: 68 });
    assert.equal(info.hwId?.length, 64);
    assert.ok(info.hwId);
    assert.equal(toHex(info.hwId).slice(0, 8), '3ac3fe21');
  });

  it('reads a VLEK: the CSP identity instead of a hwID, and a two-byte ucodeSPL', () => {
    const info = parseVekExtensions(parseCertificate(vector('trustee/snp/test-vlek.der')));
    assert.equal(info.kind, 'vlek');
    assert.equal(info.cspId, 'CN=cc-us-east-2.amazonaws.com');
    assert.equal(info.hwId, undefined);
    assert.deepEqual(info.tcb, { bootloader: 4, tee: 0, snp: 0x18, microcode: 0xd9 });
  });

  it('reads a Turin VCEK: fmcSPL and an 8-byte hwID', () => {
    const info = parseVekExtensions(parseCertificate(vector('virtee-sev/certs_data/vcek_turin.der')));
    assert.equal(info.product, 'Turin');
    assert.equal(info.tcb.fmc, 0);
    assert.equal(info.tcb.microcode, 9);
    assert.equal(info.hwId?.length, 8);
  });

  it('tells VEKs from ASK and ARK certificates', () => {
    const [ask, ark] = certs('go-sev-guest/trust/ask_ark_milan.pem').map(parseCertificate);
    assert.ok(ask && ark);
    assert.equal(isVekCertificate(ask), false);
    assert.equal(isVekCertificate(ark), false);
    assert.equal(isVekCertificate(parseCertificate(vector('go-sev-guest/vcek_milan.der'))), true);
  });
});

describe('products and TCB layouts', () => {
  it('maps CPUID family/model to the product', () => {
    assert.equal(productFromCpuId({ family: 0x19, model: 0x01, stepping: 1 }), 'Milan');
    assert.equal(productFromCpuId({ family: 0x19, model: 0x11, stepping: 1 }), 'Genoa');
    assert.equal(productFromCpuId({ family: 0x19, model: 0xa0, stepping: 1 }), 'Genoa');
    assert.equal(productFromCpuId({ family: 0x1a, model: 0x02, stepping: 1 }), 'Turin');
    assert.equal(productFromCpuId({ family: 0x17, model: 0x31, stepping: 0 }), undefined);
    assert.equal(productFromCpuId({ family: 0x19, model: 0x50, stepping: 0 }), undefined);
  });

  it('maps certificate names to the product', () => {
    assert.equal(productFromName('ARK-Milan'), 'Milan');
    assert.equal(productFromName('SEV-VLEK-Genoa'), 'Genoa');
    assert.equal(productFromName('Milan-B0'), 'Milan');
    assert.equal(productFromName('Turin'), 'Turin');
    assert.equal(productFromName('SEV-VCEK'), undefined);
    assert.equal(productFromName(undefined), undefined);
  });

  it('decodes and encodes both TCB layouts', () => {
    assert.deepEqual(decodeTcb(0x4405000000000002n, 'Milan'), { bootloader: 2, tee: 0, snp: 5, microcode: 0x44 });
    const turin = { fmc: 1, bootloader: 2, tee: 3, snp: 4, microcode: 5 };
    assert.equal(encodeTcb(turin, 'Turin'), 0x0500000004030201n);
    assert.deepEqual(decodeTcb(encodeTcb(turin, 'Turin'), 'Turin'), turin);
  });
});
