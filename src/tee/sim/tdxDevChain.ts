// The development chain of the simulated Intel TDX quoting stack, in the shape of Intel's PCK hierarchy
// (ECDSA P-256 SHA-256): a self-signed Root CA that issues the PCK Platform CA and a TCB Signing certificate,
// and a PCK certificate issued by the PCK CA that carries Intel SGX extensions (sgxExtensions.ts) for a
// clearly simulated platform. Every name in it says SIMULATED. Like the SEV-SNP development root
// (devChain.ts) it is created at first use in the state directory, so that a verifier in another process
// can be told to trust it; nothing real ever chains to it.
//
// The simulated platform, as the PCK certificate states it:
//   FMSPC   00000000c10b   a real FMSPC starts with the CPU's family/model/stepping (50806f, 90c06f, ...);
//                          zeros there cannot be a processor, and c10b reads "Cloister"
//   PCE ID  0000           Intel's, as on every TDX platform
//   CPUSVN  04 04 03 0d 0f 03 ff 00 03 00 .. 00   the simulated QE report's CPUSVN, one byte per SGX TCB component
//   PCESVN  13
//   SGX type Scalable, with a Platform Instance ID and Configuration, as a Platform-CA PCK certificate has
//
// The root, PCK CA and TCB Signing keys are kept (mode 0600, like the PCK key) because the simulated
// collateral (simulatedCollateral.ts) needs them to sign TCB info, QE identity and both CRLs.
import 'reflect-metadata';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { decodePem, encodePem, fromHex, toArrayBufferView } from '../../../attestation/bytes.js';
import { ParseError } from '../../../attestation/errors.js';
import { SGX_EXTENSIONS_OID } from '../../../attestation/tdx/pckExtensions.js';
import { encodeSgxExtensions } from './sgxExtensions.js';

const subtle = globalThis.crypto.subtle;
const ECDSA_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
export const TDX_DEV_SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;

/** Every name in the TDX development chain carries this organization, so no one mistakes it for Intel's. */
export const SIMULATED_TDX_ORGANIZATION = 'Cloister SIMULATED TEE development root (not Intel)';
const DN = `OU=Development, O=${SIMULATED_TDX_ORGANIZATION}`;
const ROOT_NAME = `CN=Cloister SIMULATED SGX Root CA, ${DN}`;
const CA_NAME = `CN=Cloister SIMULATED SGX PCK Platform CA, ${DN}`;
const PCK_NAME = `CN=Cloister SIMULATED SGX PCK Certificate, ${DN}`;
const TCB_SIGNING_NAME = `CN=Cloister SIMULATED SGX TCB Signing, ${DN}`;

/** The simulated platform's FMSPC (hex): see the file header. */
export const SIMULATED_FMSPC = '00000000c10b';
export const SIMULATED_PCE_ID = '0000';
/** CPUSVN of the simulated platform: the QE report's CPUSVN and the PCK certificate's 16 SGX TCB components. */
export const SIMULATED_CPUSVN = '0404030d0f03ff000300000000000000';
export const SIMULATED_PCESVN = 13;

export interface TdxDevChain {
  /** DER certificates: the self-signed root, the PCK CA it issued, and the PCK certificate. */
  readonly root: Uint8Array;
  readonly pckCa: Uint8Array;
  readonly pck: Uint8Array;
  /** The TCB Signing certificate the root issued: signs TCB info and QE identity. */
  readonly tcbSigning: Uint8Array;
  /** The PCK private key: signs QE reports. */
  readonly pckKey: CryptoKey;
  /** Signs the root CA CRL. */
  readonly rootKey: CryptoKey;
  /** Signs the PCK CRL. */
  readonly pckCaKey: CryptoKey;
  /** Signs TCB info and QE identity. */
  readonly tcbSigningKey: CryptoKey;
}

const random16 = (): Uint8Array => globalThis.crypto.getRandomValues(new Uint8Array(16));

/** Creates a fresh development chain in memory. */
export async function createTdxDevChain(): Promise<TdxDevChain> {
  const keyPair = (): Promise<CryptoKeyPair> => subtle.generateKey(ECDSA_P256, true, ['sign', 'verify']);
  const [rootKeys, caKeys, pckKeys, tcbKeys] = await Promise.all([keyPair(), keyPair(), keyPair(), keyPair()]);
  const common = { notBefore: new Date(Date.UTC(2025, 0, 1)), notAfter: new Date(Date.UTC(2050, 0, 1)), signingAlgorithm: TDX_DEV_SIGNING };
  const caUsage = new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true);
  // Intel's shapes: the root allows one CA below it, the PCK CA none; the PCK and TCB Signing certificates are not CAs.
  const leaf = [new x509.BasicConstraintsExtension(false, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation, true)];
  const root = await x509.X509CertificateGenerator.create({
    ...common,
    serialNumber: '01',
    subject: ROOT_NAME,
    issuer: ROOT_NAME,
    publicKey: rootKeys.publicKey,
    signingKey: rootKeys.privateKey,
    extensions: [new x509.BasicConstraintsExtension(true, 1, true), caUsage],
  });
  const pckCa = await x509.X509CertificateGenerator.create({
    ...common,
    serialNumber: '02',
    subject: CA_NAME,
    issuer: ROOT_NAME,
    publicKey: caKeys.publicKey,
    signingKey: rootKeys.privateKey,
    extensions: [new x509.BasicConstraintsExtension(true, 0, true), caUsage],
  });
  const cpuSvn = fromHex(SIMULATED_CPUSVN);
  const sgx = encodeSgxExtensions({
    ppid: random16(),
    cpuSvnComponents: [...cpuSvn],
    pceSvn: SIMULATED_PCESVN,
    cpuSvn,
    pceId: fromHex(SIMULATED_PCE_ID),
    fmspc: fromHex(SIMULATED_FMSPC),
    sgxType: 'Scalable',
    platform: { instanceId: random16(), dynamicPlatform: true, cachedKeys: true, smtEnabled: true },
  });
  const pck = await x509.X509CertificateGenerator.create({
    ...common,
    serialNumber: '03',
    subject: PCK_NAME,
    issuer: CA_NAME,
    publicKey: pckKeys.publicKey,
    signingKey: caKeys.privateKey,
    extensions: [...leaf, new x509.Extension(SGX_EXTENSIONS_OID, false, toArrayBufferView(sgx))],
  });
  const tcbSigning = await x509.X509CertificateGenerator.create({
    ...common,
    serialNumber: '04',
    subject: TCB_SIGNING_NAME,
    issuer: ROOT_NAME,
    publicKey: tcbKeys.publicKey,
    signingKey: rootKeys.privateKey,
    extensions: leaf,
  });
  return {
    root: new Uint8Array(root.rawData),
    pckCa: new Uint8Array(pckCa.rawData),
    pck: new Uint8Array(pck.rawData),
    tcbSigning: new Uint8Array(tcbSigning.rawData),
    pckKey: pckKeys.privateKey,
    rootKey: rootKeys.privateKey,
    pckCaKey: caKeys.privateKey,
    tcbSigningKey: tcbKeys.privateKey,
  };
}

const chainDir = (dir: string): string => join(dir, 'dev-root', 'tdx');

/** The files of a complete chain: certificate and key of each member, the root certificate written last. */
const FILES = {
  pckKey: 'pck.key.pem',
  pckCaKey: 'pck-ca.key.pem',
  tcbSigningKey: 'tcb-signing.key.pem',
  rootKey: 'root.key.pem',
  pck: 'pck.pem',
  pckCa: 'pck-ca.pem',
  tcbSigning: 'tcb-signing.pem',
  root: 'root.pem',
} as const satisfies Record<keyof TdxDevChain, string>;
const KEYS = ['pckKey', 'pckCaKey', 'tcbSigningKey', 'rootKey'] as const;
const CERTIFICATES = ['pck', 'pckCa', 'tcbSigning', 'root'] as const;

async function readChain(base: string): Promise<TdxDevChain> {
  const der = async (file: string): Promise<Uint8Array> => {
    const block = decodePem(await readFile(join(base, file), 'utf8'))[0];
    if (block === undefined) throw new ParseError('MALFORMED_DER', `${join(base, file)} holds no PEM block`, { field: file });
    return block.der;
  };
  const key = async (file: string): Promise<CryptoKey> => subtle.importKey('pkcs8', toArrayBufferView(await der(file)), ECDSA_P256, false, ['sign']);
  const [pckKey, pckCaKey, tcbSigningKey, rootKey] = await Promise.all([key(FILES.pckKey), key(FILES.pckCaKey), key(FILES.tcbSigningKey), key(FILES.rootKey)]);
  const [pck, pckCa, tcbSigning, root] = await Promise.all([der(FILES.pck), der(FILES.pckCa), der(FILES.tcbSigning), der(FILES.root)]);
  return { root, pckCa, pck, tcbSigning, pckKey, rootKey, pckCaKey, tcbSigningKey };
}

/**
 * Loads the TDX development chain from `dir` (the state directory of devChain.ts), creating it at first
 * use. A chain that lacks any file, such as one written before the chain kept its CA and TCB Signing keys
 * and before the PCK certificate carried SGX extensions, is replaced as a whole by a new one (a new root:
 * verifiers told to trust the old one must be told again); it is never used in part.
 */
export async function loadOrCreateTdxDevChain(dir: string): Promise<TdxDevChain> {
  const base = chainDir(dir);
  try {
    return await readChain(base);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const chain = await createTdxDevChain();
  await mkdir(base, { recursive: true, mode: 0o700 });
  // The root certificate marks a complete chain: remove an old one first, so that a chain interrupted while
  // being written is not complete, and write it last.
  await rm(join(base, FILES.root), { force: true });
  for (const k of KEYS) {
    const file = join(base, FILES[k]);
    await writeFile(file, encodePem('PRIVATE KEY', new Uint8Array(await subtle.exportKey('pkcs8', chain[k]))), { mode: 0o600 });
    await chmod(file, 0o600); // the mode above does not apply to a file that already existed
  }
  for (const c of CERTIFICATES) await writeFile(join(base, FILES[c]), encodePem('CERTIFICATE', chain[c]));
  return chain;
}

/** The TDX development root as stored in `dir`, for a verifier told to trust the simulated TEE. */
export async function readTdxDevRoot(dir: string): Promise<Uint8Array | undefined> {
  try {
    return decodePem(await readFile(join(chainDir(dir), FILES.root), 'utf8'))[0]?.der;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}
