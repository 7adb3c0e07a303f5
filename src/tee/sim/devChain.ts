// The development root of the simulated TEE: an AMD-shaped chain ARK -> ASK -> VCEK (RSA-PSS
// SHA-384 salt 48; the VCEK on P-384, with AMD's VCEK extensions) whose names say SIMULATED.
// Generated at first use and kept in a state directory so that a verifier in another process can
// be told to trust it; nothing real ever chains to it.
import 'reflect-metadata';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { decodePem, encodePem, toArrayBufferView } from '../../../attestation/bytes.js';
import { encodeIa5String, encodeSmallInteger } from '../../../attestation/der.js';
import { ParseError } from '../../../attestation/errors.js';
import type { Product } from '../../../attestation/snp/product.js';
import type { TcbParts } from '../../../attestation/snp/tcb.js';
import { AMD_OID } from '../../../attestation/snp/vek.js';

const subtle = globalThis.crypto.subtle;
const PSS = { name: 'RSA-PSS', hash: 'SHA-384', saltLength: 48 } as const;
const ECDSA = { name: 'ECDSA', namedCurve: 'P-384' } as const;
/** Every name in the chain carries this organization, so no one mistakes it for AMD's. */
export const SIMULATED_ORGANIZATION = 'Cloister SIMULATED TEE development root (not AMD)';
const DN = `OU=Development, O=${SIMULATED_ORGANIZATION}`;

export interface DevChainSpec {
  readonly product: Product;
  readonly tcb: TcbParts;
  /** The chip's hwID: 64 bytes (Milan, Genoa) or 8 (Turin). */
  readonly hwId: Uint8Array;
}

export interface DevChain extends DevChainSpec {
  readonly ark: Uint8Array;
  readonly ask: Uint8Array;
  readonly vcek: Uint8Array;
  readonly vcekKey: CryptoKey;
}



function caExtensions(): x509.Extension[] {
  return [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)];
}

function vcekExtensions(spec: DevChainSpec): x509.Extension[] {
  const ext = (oid: string, der: Uint8Array): x509.Extension => new x509.Extension(oid, false, toArrayBufferView(der));
  return [
    ext(AMD_OID.structVersion, encodeSmallInteger(spec.product === 'Turin' ? 1 : 0)),
    ext(AMD_OID.productName, encodeIa5String(spec.product === 'Milan' ? 'Milan-B0' : spec.product)),
    ext(AMD_OID.blSpl, encodeSmallInteger(spec.tcb.bootloader)),
    ext(AMD_OID.teeSpl, encodeSmallInteger(spec.tcb.tee)),
    ext(AMD_OID.snpSpl, encodeSmallInteger(spec.tcb.snp)),
    ext(AMD_OID.ucodeSpl, encodeSmallInteger(spec.tcb.microcode)),
    ...(spec.product === 'Turin' ? [ext(AMD_OID.fmcSpl, encodeSmallInteger(spec.tcb.fmc ?? 0))] : []),
    ext(AMD_OID.hwId, spec.hwId),
  ];
}

/** Creates a fresh chain in memory. `rsaBits` 4096 matches AMD; tests use 2048 for speed. */
export async function createDevChain(spec: DevChainSpec, rsaBits = 4096): Promise<DevChain & { arkKey: CryptoKey; askKey: CryptoKey }> {
  const rsa = { ...PSS, modulusLength: rsaBits, publicExponent: new Uint8Array([1, 0, 1]) };
  const [arkKeys, askKeys, vcekKeys] = await Promise.all([
    subtle.generateKey(rsa, true, ['sign', 'verify']),
    subtle.generateKey(rsa, true, ['sign', 'verify']),
    subtle.generateKey(ECDSA, true, ['sign', 'verify']),
  ]);
  const notBefore = new Date(Date.UTC(2025, 0, 1));
  const notAfter = new Date(Date.UTC(2050, 0, 1));
  const arkName = `${DN}, CN=ARK-${spec.product}`;
  const askName = `${DN}, CN=SEV-${spec.product}`;
  const common = { notBefore, notAfter, signingAlgorithm: PSS };
  const ark = await x509.X509CertificateGenerator.create({ ...common, serialNumber: '01', subject: arkName, issuer: arkName, publicKey: arkKeys.publicKey, signingKey: arkKeys.privateKey, extensions: caExtensions() });
  const ask = await x509.X509CertificateGenerator.create({ ...common, serialNumber: '02', subject: askName, issuer: arkName, publicKey: askKeys.publicKey, signingKey: arkKeys.privateKey, extensions: caExtensions() });
  const vcek = await x509.X509CertificateGenerator.create({
    ...common,
    serialNumber: '00',
    subject: `${DN}, CN=SEV-VCEK`,
    issuer: askName,
    publicKey: vcekKeys.publicKey,
    signingKey: askKeys.privateKey,
    extensions: vcekExtensions(spec),
  });
  return {
    ...spec,
    ark: new Uint8Array(ark.rawData),
    ask: new Uint8Array(ask.rawData),
    vcek: new Uint8Array(vcek.rawData),
    vcekKey: vcekKeys.privateKey,
    arkKey: arkKeys.privateKey,
    askKey: askKeys.privateKey,
  };
}

/** Where the development root lives: $CLOISTER_STATE_DIR, else $XDG_STATE_HOME/cloister, else ~/.local/state/cloister. */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.CLOISTER_STATE_DIR ?? join(env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state'), 'cloister');
}

interface StoredChain {
  readonly product: Product;
  readonly tcb: TcbParts;
  readonly hwId: string;
}

/**
 * Loads the development chain for `spec.product` from `dir`, creating it at first use. The stored
 * TCB and hwID win over `spec` (they are what the VCEK certifies); a product mismatch makes a new one.
 */
export async function loadOrCreateDevChain(dir: string, spec: DevChainSpec, rsaBits = 4096): Promise<DevChain> {
  const base = join(dir, 'dev-root', spec.product.toLowerCase());
  const pem = async (name: string): Promise<Uint8Array> => {
    const block = decodePem(await readFile(join(base, name), 'utf8'))[0];
    if (block === undefined) throw new ParseError('MALFORMED_DER', `${join(base, name)} holds no PEM block`, { field: name });
    return block.der;
  };
  try {
    const meta = JSON.parse(await readFile(join(base, 'chain.json'), 'utf8')) as StoredChain;
    const vcekKey = await subtle.importKey('pkcs8', toArrayBufferView(await pem('vcek.key.pem')), ECDSA, false, ['sign']);
    return { product: meta.product, tcb: meta.tcb, hwId: new Uint8Array(Buffer.from(meta.hwId, 'hex')), ark: await pem('ark.pem'), ask: await pem('ask.pem'), vcek: await pem('vcek.pem'), vcekKey };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const chain = await createDevChain(spec, rsaBits);
  await mkdir(base, { recursive: true, mode: 0o700 });
  const exportKey = async (k: CryptoKey): Promise<string> => encodePem('PRIVATE KEY', new Uint8Array(await subtle.exportKey('pkcs8', k)));
  await writeFile(join(base, 'ark.pem'), encodePem('CERTIFICATE', chain.ark));
  await writeFile(join(base, 'ask.pem'), encodePem('CERTIFICATE', chain.ask));
  await writeFile(join(base, 'vcek.pem'), encodePem('CERTIFICATE', chain.vcek));
  await writeFile(join(base, 'vcek.key.pem'), await exportKey(chain.vcekKey), { mode: 0o600 });
  // The ARK and ASK keys are not kept: nothing needs to issue under them again.
  const meta: StoredChain = { product: chain.product, tcb: chain.tcb, hwId: Buffer.from(chain.hwId).toString('hex') };
  await writeFile(join(base, 'chain.json'), `${JSON.stringify(meta, null, 2)}\n`);
  return chain;
}

/** The development ARK of `product` as stored in `dir`, for a verifier told to trust the simulated TEE. */
export async function readDevRoot(dir: string, product: Product): Promise<Uint8Array | undefined> {
  try {
    return decodePem(await readFile(join(dir, 'dev-root', product.toLowerCase(), 'ark.pem'), 'utf8'))[0]?.der;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}
