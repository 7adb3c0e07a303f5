// `cloister serve`: the Cloister server. Refuses to start without attestation evidence unless
// --simulated is given, in which case every log line and the status page say SIMULATED.
import { CloisterError } from '../../attestation/errors.js';
import { fromHex } from '../../attestation/bytes.js';
import { UsageError } from '../base/runtimeErrors.js';
import { BUNDLE_PLATFORMS, type PlatformName } from '../../attestation/evidence/platforms.js';
import { PRODUCTS, type Product } from '../../attestation/snp/product.js';
import type { TdxCollateral } from '../../attestation/tdx/collateral.js';
import { parseTdxCollateralFile } from '../../attestation/tdx/collateralFile.js';
import { readFile, stat } from 'node:fs/promises';
import { MAX_TRANSPARENCY_BUNDLE_BYTES } from '../../attestation/protocols/ratlsExtension.js';
import { parseSigstoreBundle } from '../../attestation/sigstore/sigstoreBundle.js';
import type { OhttpKeyStore } from '../ohttp/keyStore.js';
import { createServer, type ServerConfig, type TeeConfig } from '../server/createServer.js';
import type { TlsIdentity } from '../server/tlsIdentity.js';
import type { PrivacyPassConfig } from '../server/privacyPass.js';
import { parseIssuerDirectory } from '../../attestation/protocols/privacypass/issuerDirectory.js';
import { privateKeyFromPem, readKeyFile } from '../privacypass/issuer/keyFiles.js';
import { voprfIssuerKey, type VoprfIssuerKey } from '../privacypass/voprfKey.js';
import type { HostLaunch } from '../tee/sim/hostLaunch.js';
import { parseKeyIdRange, type KeyIdRange } from '../ohttp/rotationSchedule.js';
import { readInstanceKeyIds, type InstanceKeyIdOptions, type InstanceKeyIdSource } from '../fleet/instanceKeyIds.js';
import { errorLine, EXIT, hardwareSource, parseOptions, usageError, type CliIo, stopOnSignals } from './io.js';
import type { HardwareProviderFactory } from './evidenceCommand.js';

export const SERVE_HELP = `Usage: cloister serve [options]

Start the Cloister server over HTTPS with an RA-TLS certificate (self-signed, carrying the TEE's
evidence for its in-memory key and the OHTTP key configurations; docs/ra-tls.md), re-issued at 2/3
of its validity and whenever the OHTTP keys rotate, without dropping connections. It is an Oblivious
HTTP gateway (docs/ohttp.md): key configurations at GET /.well-known/ohttp-gateway, encapsulated
requests at POST /.well-known/ohttp-gateway, the certificate that binds them at
/.well-known/cloister/attestation. Attestation evidence at /.well-known/cloister/evidence, fresh
evidence at POST /v1/attestation/fresh, status at /status.

Options:
  --simulated         run on the simulated TEE (development root; nothing is confidential); only
                      then does the gateway also serve POST /v1/echo, which answers with what it gets
  --platform NAME     simulated platform: sev-snp or tdx (default sev-snp)
  --product NAME      simulated SEV-SNP product: ${PRODUCTS.join(', ')} (default Milan)
  --simulated-measurement HEX
                      the launch measurement the simulated TEE reports (SEV-SNP MEASUREMENT or TDX
                      MRTD, 48 bytes in hex), e.g. an entry of an image's measurements.json; default:
                      what the host states in SMBIOS OEM strings (cloister.simulated.*, as the image
                      boot test does; docs/transparency.md), else the simulator's fixed one
  --collateral FILE   TDX collateral (TCB info, QE identity, CRLs; dcap-qvl's collateral JSON or saved
                      Intel PCS responses, docs/evidence-bundle.md) to put into every TDX evidence bundle,
                      as it is, never refreshed; without it the server fetches its platform's collateral
                      from Intel PCS (the simulated TDX TEE issues its own SIMULATED collateral) and
                      fetches it again at 80% of its validity
  --pcs-url URL       TDX hardware: the Intel PCS API, or a PCCS / caching service speaking it, the
                      collateral comes from (default https://api.trustedservices.intel.com)
  --transparency-bundle FILE
                      the Sigstore bundle that logs this image's measurements (cloister publish's
                      DIR/measurements/HEX.sigstore.json), shipped in the RA-TLS certificate so that
                      clients with --log verify it without fetching it (docs/transparency.md)
  --host ADDRESS      address to listen on (default 127.0.0.1)
  --port N            port (default 8080; 0 picks a free one)
  --cert-validity S   RA-TLS certificate validity in seconds (default 3600, at least 60)
  --http              serve plain HTTP instead, for debugging only: the server is NOT authenticated
                      and traffic is not encrypted; evidence then binds no keys (keys digest all zero)
  --ohttp-rotate S    a new OHTTP key every S seconds (default 86400; 0: never)
  --ohttp-overlap S   a rotated-out OHTTP key still decrypts for S seconds (default 3600); at least 1
                      with rotation on, and under 255 rotations; under 60 the server warns (caches
                      that keep key configurations the usual 60 s would serve retired keys)
  --ohttp-key-ids FIRST-LAST|instance
                      draw OHTTP key IDs from this range only (default 0-255): a fleet node's own
                      range, so that the load balancer can route by key ID (docs/fleet.md); it must
                      hold every key live at once under the rotation schedule. "instance": the range
                      this machine is given, from the first of: an SMBIOS OEM string
                      cloister.ohttp-key-ids=FIRST-LAST (QEMU -smbios type=11,value=...); on GCE the
                      instance metadata cloister-key-ids; on Azure the VM tag cloister-key-ids, else the
                      scale set instance ID (docs/deploy.md "Cloud instance groups"). No range found,
                      a malformed one or a metadata server that does not answer: the server does not
                      start (the image's init asks for it when the kernel command line has
                      cloister.fleet=1)
  --models DIR        model packs to serve: every manifest in DIR (default image/models; each file's
                      SHA-256 is checked), or "none"
  --verify-page DIR   also serve this build of the verify page (npm run web: build/web) at /verify/, a
                      convenience copy that says it is served by the server it checks; each file is
                      checked against its web-manifest.json (docs/verify-page.md)
  --inference-workers N|auto
                      worker threads that run inference, so that a run never holds the event loop
                      (default auto: cores / the packs' intra-op threads, at least 1); 0 runs it in
                      the server's thread
  --concurrency N     inference jobs run at once (default: one per worker)
  --queue N           inference jobs that may wait; beyond, 503 with Retry-After (default 16)
  --target-timeout S  seconds a request behind the OHTTP gateway may take, queueing included, before it
                      is answered 504 (default 25); raise it for slow hosts (e.g. a VM under emulation)
  --source NAME       evidence source without --simulated: auto (configfs-tsm, then /dev/sev-guest,
                      then /dev/tdx_guest), configfs-tsm, sev-guest or tdx-guest (default auto)
  --no-kds            without --simulated: do not fetch the VCEK, ASK and ARK from AMD KDS when the host
                      supplies no SEV-SNP certificates (by default they are fetched once per TCB and put
                      into every bundle; a failure is logged and the bundle goes out without them)
  --kds-url URL       AMD KDS or a mirror with its paths (default https://kdsintf.amd.com)
  --privacy-pass-keys FILE
                      require a Privacy Pass token (type 0x0002, or 0x0001 with its private key) in every
                      request behind the gateway, inside its encapsulation (docs/privacy-pass.md
                      "Redemption"); FILE is the issuer directory JSON ({"token-keys": [{"token-type": 2,
                      "token-key": ..., "not-before": ...}]}); needs --issuer-name
  --issuer URL        the same, with the directory fetched from the issuer (URL, or its origin with
                      /.well-known/private-token-issuer-directory added) at boot and again at its max-age
  --issuer-name NAME  issuer_name of the TokenChallenge (default with --issuer: its host name)
  --origin-name NAME  origin_info of the TokenChallenge: tokens are bound to this server's name (default:
                      none, tokens for any origin)
  --spent-tokens URL  where redeemed tokens are recorded: "memory" (default; bounded, refuses when full,
                      forgotten at restart) or redis://HOST:PORT (Redis or Valkey, shared by every gateway
                      that uses it); when it cannot answer, requests are refused with 503 (fail closed)
  --token-key-lifetime S
                      seconds an issuer key is accepted from its not-before (default 2592000, 30 days)
  --privacy-pass-private-key FILE
                      the issuer's private key (PKCS#8 PEM, EC P-384) of a token type 0x0001 (VOPRF) key of
                      the directory: those tokens verify only with it, so this gateway then holds the
                      issuer's key (docs/privacy-pass.md "Token type 0x0001"); mode 0600 (or 0400) and
                      the server's user's; repeatable. Type 0x0001 keys without theirs are skipped (logged)
  --privacy-pass-private-key-env NAME
                      the same, in environment variable NAME (removed from the environment once read)
  -h, --help          show this help

The key configurations, the certificate and the evidence bundles are served with a max-age that
follows the key schedule: never longer than the overlap, never past the moment a served key stops
decrypting, and at most 60 s (3600 s for a bundle). See docs/ohttp.md "Keys".

Without --simulated the server needs a TEE (configfs-tsm, /dev/sev-guest or /dev/tdx_guest) and
exits with the list of what it looked for when there is none.
`;

async function keyIdRange(text: string | undefined, instance: InstanceKeyIdOptions | undefined): Promise<{ keyIds?: KeyIdRange; keyIdsSource?: InstanceKeyIdSource }> {
  if (text === undefined) return {};
  if (text === 'instance') {
    const found = await readInstanceKeyIds(instance);
    return { keyIds: found.keyIds, keyIdsSource: found.source };
  }
  const keyIds = parseKeyIdRange(text);
  if (keyIds === undefined) throw usage(`--ohttp-key-ids must be FIRST-LAST with 0 <= FIRST <= LAST <= 255, such as 0-3, or "instance", got "${text}"`);
  return { keyIds };
}

function simulatedLaunch(platform: PlatformName, hex: string | undefined): HostLaunch | 'host' {
  if (hex === undefined) return 'host';
  if (!/^[0-9a-fA-F]{96}$/.test(hex)) throw usage(`--simulated-measurement must be 48 bytes in hex (96 digits), got "${hex.slice(0, 100)}"`);
  const value = fromHex(hex.toLowerCase());
  return platform === 'sev-snp' ? { snpMeasurement: value } : { tdxMrtd: value };
}

const OPTIONS = {
  simulated: { type: 'boolean' },
  product: { type: 'string' },
  platform: { type: 'string' },
  'simulated-measurement': { type: 'string' },
  collateral: { type: 'string' },
  'transparency-bundle': { type: 'string' },
  'pcs-url': { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  'cert-validity': { type: 'string' },
  'ohttp-rotate': { type: 'string' },
  'ohttp-overlap': { type: 'string' },
  'ohttp-key-ids': { type: 'string' },
  models: { type: 'string' },
  'verify-page': { type: 'string' },
  concurrency: { type: 'string' },
  'inference-workers': { type: 'string' },
  queue: { type: 'string' },
  'target-timeout': { type: 'string' },
  http: { type: 'boolean' },
  source: { type: 'string' },
  'no-kds': { type: 'boolean' },
  'kds-url': { type: 'string' },
  'privacy-pass-keys': { type: 'string' },
  issuer: { type: 'string' },
  'issuer-name': { type: 'string' },
  'origin-name': { type: 'string' },
  'spent-tokens': { type: 'string' },
  'token-key-lifetime': { type: 'string' },
  'privacy-pass-private-key': { type: 'string', multiple: true },
  'privacy-pass-private-key-env': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const usage = (message: string): UsageError => usageError(message, 'serve');

export interface ServeHooks {
  readonly hardware?: HardwareProviderFactory;
  /** Resolves when the server should stop; default: SIGINT or SIGTERM. */
  readonly stopSignal?: (close: () => Promise<void>) => void;
  readonly onListening?: (url: string) => void;
  /** The server's TLS identity (not called with --http); tests force rotations through it. */
  readonly onTlsIdentity?: (identity: TlsIdentity) => void;
  /** Where the log lines go (default stdout). */
  readonly logDestination?: NodeJS.WritableStream;
  /** The listening HTTP(S) server, before it accepts connections; tests observe what arrives. */
  readonly onServer?: (server: import('node:http').Server) => void;
  /** The server's OHTTP key store; tests force key rotations through it. */
  readonly onOhttpKeys?: (keys: OhttpKeyStore) => void;
  /** Where `--ohttp-key-ids instance` looks (tests: a fake /sys and metadata servers). */
  readonly instance?: InstanceKeyIdOptions;
  /** Default process.env (a --privacy-pass-private-key-env variable is deleted from it once read). */
  readonly env?: Record<string, string | undefined>;
}

/** The flags as a ServerConfig: what `cloister serve` does is createServer(config) and listening. */
async function serverConfig(values: ReturnType<typeof parseOptions<typeof OPTIONS>>, hooks: ServeHooks): Promise<{ config: ServerConfig; host: string; port: number }> {
  const port = Number(values.port ?? '8080');
  if (!/^\d+$/.test(values.port ?? '8080') || port > 65535) throw usage(`--port must be 0..65535, got "${values.port ?? ''}"`);
  const validityText = values['cert-validity'];
  if (validityText !== undefined && values.http === true) throw usage('--cert-validity applies only without --http');
  const certValidity = Number(validityText ?? '3600');
  if (!/^\d+$/.test(validityText ?? '3600') || !Number.isSafeInteger(certValidity) || certValidity < 60) throw usage(`--cert-validity must be a whole number of seconds, at least 60, got "${validityText ?? ''}"`);
  const seconds = (name: 'ohttp-rotate' | 'ohttp-overlap'): number | undefined => {
    const text = values[name];
    if (text === undefined) return undefined;
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) throw usage(`--${name} must be a whole number of seconds, got "${text}"`);
    return Number(text);
  };
  const ohttpRotate = seconds('ohttp-rotate');
  const ohttpOverlap = seconds('ohttp-overlap');
  const count = (name: 'concurrency' | 'queue' | 'inference-workers', fallback: number | undefined, min: number): number | undefined => {
    const text = values[name];
    if (text === undefined) return fallback;
    if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > 1024) throw usage(`--${name} must be a whole number from ${min} to 1024, got "${text}"`);
    return Number(text);
  };
  const concurrency = count('concurrency', undefined, 1);
  const workers: number | 'auto' | undefined = values['inference-workers'] === 'auto' ? 'auto' : count('inference-workers', undefined, 0);
  const inference = { maxQueued: count('queue', 16, 0) ?? 16, ...(concurrency === undefined ? {} : { concurrency }), ...(workers === undefined ? {} : { workers }) };
  const timeoutText = values['target-timeout'];
  if (timeoutText !== undefined && (!/^\d{1,4}$/.test(timeoutText) || Number(timeoutText) < 1 || Number(timeoutText) > 3600)) throw usage(`--target-timeout must be a whole number of seconds from 1 to 3600, got "${timeoutText}"`);
  let tee: TeeConfig;
  if (values.simulated === true) {
    if (values.source !== undefined) throw new UsageError('USAGE', '--source applies only without --simulated');
    if (values['no-kds'] === true || values['kds-url'] !== undefined) throw usage('--no-kds and --kds-url apply only without --simulated (the simulated TEE has its own development chain)');
    const platform = values.platform ?? 'sev-snp';
    if (values['pcs-url'] !== undefined) throw usage('--pcs-url applies only to the machine\'s TEE, not --simulated');
    if (!isPlatformName(platform)) throw usage(`--platform must be ${BUNDLE_PLATFORMS.join(' or ')}, got "${platform}"`);
    const product = values.product ?? 'Milan';
    if (!(PRODUCTS as readonly string[]).includes(product)) throw usage(`--product must be one of ${PRODUCTS.join(', ')}, got "${product}"`);
    if (platform === 'tdx' && values.product !== undefined) throw usage('--product applies only to --platform sev-snp');
    tee = { kind: 'simulated', platform, product: product as Product, launch: simulatedLaunch(platform, values['simulated-measurement']) };
  } else {
    if (values.product !== undefined || values.platform !== undefined || values['simulated-measurement'] !== undefined) throw usage('--product, --platform and --simulated-measurement apply only with --simulated');
    if (values['pcs-url'] !== undefined && values.collateral !== undefined) throw usage('--pcs-url and --collateral contradict each other');
    const source = hardwareSource(values.source, 'serve');
    const pcsUrl = values['pcs-url'] === undefined ? {} : { pcsUrl: httpUrl(values['pcs-url'], '--pcs-url') };
    tee = hooks.hardware === undefined ? { kind: 'hardware', ...(source === undefined ? {} : { source }), ...pcsUrl } : { kind: 'provider', open: hooks.hardware };
  }
  const collateral = values.collateral === undefined ? undefined : await readCollateral(values.collateral);
  if (values['transparency-bundle'] !== undefined && values.http === true) throw usage('--transparency-bundle travels in the RA-TLS certificate, which --http does not issue');
  const transparencyBundle = values['transparency-bundle'] === undefined ? undefined : await readTransparencyBundle(values['transparency-bundle']);
  const privacyPass = await privacyPassConfig(values, hooks.env ?? process.env);
  const keyIds = await keyIdRange(values['ohttp-key-ids'], hooks.instance);
  const config: ServerConfig = {
    tee,
    tls: values.http !== true,
    certValiditySeconds: certValidity,
    ohttp: { ...(ohttpRotate === undefined ? {} : { rotateSeconds: ohttpRotate }), ...(ohttpOverlap === undefined ? {} : { overlapSeconds: ohttpOverlap }), ...keyIds },
    ...(values.models === undefined ? {} : { models: values.models === 'none' ? null : values.models }),
    ...(values['verify-page'] === undefined ? {} : { verifyPage: values['verify-page'] }),
    inference,
    ...(timeoutText === undefined ? {} : { targetTimeoutMs: Number(timeoutText) * 1000 }),
    ...(collateral === undefined ? {} : { collateral }),
    ...(transparencyBundle === undefined ? {} : { transparencyBundle }),
    ...(values['no-kds'] === true ? { kds: false } : {}),
    ...(values['kds-url'] === undefined ? {} : { kds: { baseUrl: kdsUrl(values['kds-url'], values['no-kds'] === true) } }),
    ...(hooks.logDestination === undefined ? {} : { logDestination: hooks.logDestination }),
    ...(privacyPass === undefined ? {} : { privacyPass }),
  };
  return { config, host: values.host ?? '127.0.0.1', port };
}

/** The Privacy Pass flags as a PrivacyPassConfig, or undefined without --privacy-pass-keys and --issuer. */
async function privacyPassConfig(values: ReturnType<typeof parseOptions<typeof OPTIONS>>, env: Record<string, string | undefined>): Promise<PrivacyPassConfig | undefined> {
  const file = values['privacy-pass-keys'];
  const issuer = values.issuer;
  if (file === undefined && issuer === undefined) {
    for (const flag of ['issuer-name', 'origin-name', 'spent-tokens', 'token-key-lifetime', 'privacy-pass-private-key', 'privacy-pass-private-key-env'] as const) if (values[flag] !== undefined) throw usage(`--${flag} applies only with --privacy-pass-keys or --issuer`);
    return undefined;
  }
  if (file !== undefined && issuer !== undefined) throw usage('--privacy-pass-keys and --issuer contradict each other');
  const issuerUrl = issuer === undefined ? undefined : httpUrl(issuer, '--issuer');
  const issuerName = values['issuer-name'] ?? (issuerUrl === undefined ? undefined : new URL(issuerUrl).hostname);
  if (issuerName === undefined) throw usage('--privacy-pass-keys needs --issuer-name (the issuer_name of the challenge)');
  const spentText = values['spent-tokens'] ?? 'memory';
  if (spentText !== 'memory' && !/^redis:\/\/[^/?#@]+\/?$/.test(spentText)) throw usage(`--spent-tokens must be "memory" or redis://HOST:PORT, got "${spentText}"`);
  const lifetimeText = values['token-key-lifetime'];
  if (lifetimeText !== undefined && (!/^\d+$/.test(lifetimeText) || Number(lifetimeText) < 1 || !Number.isSafeInteger(Number(lifetimeText)))) throw usage(`--token-key-lifetime must be a whole number of seconds, at least 1, got "${lifetimeText}"`);
  let directory: PrivacyPassConfig['directory'];
  if (file === undefined) directory = { kind: 'issuer', url: issuerUrl ?? '' };
  else {
    let json: unknown;
    try {
      json = JSON.parse(await readFile(file, 'utf8'));
    } catch (cause) {
      throw new CloisterError('UNREADABLE_INPUT', `cannot read the issuer directory "${file}": ${(cause as Error).message}`, { field: '--privacy-pass-keys', cause });
    }
    directory = { kind: 'keys', keys: parseIssuerDirectory(json).tokenKeys };
  }
  const origin = values['origin-name'];
  const privateKeys = await voprfPrivateKeys(values['privacy-pass-private-key'] ?? [], values['privacy-pass-private-key-env'], env);
  return {
    issuerName,
    directory,
    ...(privateKeys.length === 0 ? {} : { privateKeys }),
    spentTokens: spentText === 'memory' ? { kind: 'memory' } : { kind: 'redis', url: spentText },
    ...(origin === undefined ? {} : { originInfo: [origin] }),
    ...(lifetimeText === undefined ? {} : { keyLifetimeSeconds: Number(lifetimeText) }),
  };
}

/** The type 0x0001 issuer private keys: files read as the issuer reads its own (owner only), and the variable's PEM. */
async function voprfPrivateKeys(files: readonly string[], variable: string | undefined, env: Record<string, string | undefined>): Promise<VoprfIssuerKey[]> {
  const keys: VoprfIssuerKey[] = [];
  if (variable !== undefined) {
    const pem = env[variable];
    if (pem === undefined || pem === '') throw usage(`--privacy-pass-private-key-env ${variable}: the variable is not set`);
    Reflect.deleteProperty(env, variable);
    const source = `environment variable ${variable}`;
    keys.push(await voprfIssuerKey(privateKeyFromPem(pem, source), source));
  }
  for (const file of files) keys.push(await voprfIssuerKey(await readKeyFile(file), `key file "${file}"`));
  return keys;
}

function httpUrl(value: string, flag: string): string {
  // Not quoted: what precedes the @ may be a password. fetch refuses such a URL anyway.
  if (/^https?:\/\/[^/?#]*@/.test(value)) throw usage(`${flag} must not carry a user name or password (user:password@host)`);
  if (!/^https?:\/\/[^/?#]+(\/[^?#]*)?$/.test(value)) throw usage(`${flag} must be an http(s) URL without query or fragment, got "${value}"`);
  return value;
}

function kdsUrl(value: string, off: boolean): string {
  if (off) throw usage('--kds-url and --no-kds contradict each other');
  return httpUrl(value, '--kds-url');
}

const isPlatformName = (name: string): name is PlatformName => (BUNDLE_PLATFORMS as readonly string[]).includes(name);

async function readCollateral(path: string): Promise<TdxCollateral> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (cause) {
    throw new CloisterError('UNREADABLE_INPUT', `cannot read collateral "${path}": ${(cause as Error).message}`, { field: '--collateral', cause });
  }
  return parseTdxCollateralFile(bytes);
}

/** The bundle as published, after a size cap and a parse (not a verification: that is the client's). */
async function readTransparencyBundle(path: string): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    const { size } = await stat(path);
    if (size > MAX_TRANSPARENCY_BUNDLE_BYTES) throw new Error(`it is ${size} bytes, more than ${MAX_TRANSPARENCY_BUNDLE_BYTES}`);
    bytes = await readFile(path);
  } catch (cause) {
    throw new CloisterError('UNREADABLE_INPUT', `cannot read transparency bundle "${path}": ${(cause as Error).message}`, { field: '--transparency-bundle', cause });
  }
  parseSigstoreBundle(bytes);
  return bytes;
}

export async function serveCommand(argv: string[], io: CliIo, hooks: ServeHooks = {}): Promise<number> {
  try {
    const values = parseOptions(argv, OPTIONS, 'serve');
    if (values.help === true) {
      io.stdout(SERVE_HELP);
      return EXIT.ok;
    }
    const { config, host, port } = await serverConfig(values, hooks);
    const server = await createServer(config);
    const { identity, keyStore, packs, provider } = server;
    if (identity !== undefined) hooks.onTlsIdentity?.(identity);
    hooks.onServer?.(server.app.server);
    const address = await server.listen(host, port);
    io.stderr(
      `cloister serving on ${address}${provider.simulated ? ' (SIMULATED TEE: development root, nothing is confidential)' : ''}\n` +
        (identity === undefined
          ? '  PLAIN HTTP (--http): the server is not authenticated and traffic is not encrypted\n'
          : `  RA-TLS certificate  notAfter ${identity.info.notAfter.toISOString()}, SPKI SHA-256 ${identity.info.spkiSha256} (self-signed: verify its attestation)\n`) +
        `  OHTTP     ${address}/.well-known/ohttp-gateway (key IDs ${keyStore.keys.map((k) => k.config.keyId).join(', ')})\n` +
        `  models    ${packs.length === 0 ? 'none' : packs.map((p) => `${p.name} ${p.version}`).join(', ')}\n` +
        (server.privacyPass === undefined ? '' : `  Privacy Pass tokens required (issuer keys ${server.privacyPass.redeemer.keyIds.join(', ') || 'none current'})\n`) +
        `  evidence  ${address}/.well-known/cloister/evidence\n  status    ${address}/status\n` +
        (config.verifyPage === undefined ? '' : `  verify page (a convenience copy: check a server with one published apart)  ${address}/verify/\n`),
    );
    hooks.onListening?.(address);
    hooks.onOhttpKeys?.(keyStore);
    (hooks.stopSignal ?? stopOnSignals)(() => server.close());
    return EXIT.ok;
  } catch (e) {
    if (!(e instanceof CloisterError)) throw e;
    io.stderr(errorLine(e));
    return EXIT.usage;
  }
}
