// `cloister serve`: the Cloister server. Refuses to start without attestation evidence unless
// --simulated is given, in which case every log line and the status page say SIMULATED.
import { bytesListsEqual } from '../../attestation/bytes.js';
import { CloisterError, ParseError, UsageError } from '../../attestation/errors.js';
import { PRODUCTS, type Product } from '../../attestation/snp/product.js';
import { buildApp } from '../server/app.js';
import { EvidenceService } from '../server/evidenceService.js';
import { createLogger } from '../base/log.js';
import { TlsIdentity } from '../server/tlsIdentity.js';
import { OhttpGateway } from '../ohttp/gateway.js';
import { DEFAULT_OVERLAP_SECONDS, DEFAULT_ROTATE_SECONDS, OhttpKeyStore } from '../ohttp/keyStore.js';
import { echoRoute, targetRouter } from '../ohttp/target.js';
import { ocrRecognizer } from '../inference/ocrPack.js';
import { afterRequest, HARDENED_GLIBC_TUNABLES, HARDENED_NODE_FLAGS, hygieneStatus } from '../base/memory/hygiene.js';
import { InferenceQueue } from '../inference/queue.js';
import { inferenceRoutes } from '../inference/routes.js';
import { closePacks, openPacks } from '../inference/sessions.js';
import { Server as TlsServer } from 'node:tls';
import type { EvidenceProvider } from '../tee/provider.js';
import { defaultStateDir } from '../tee/sim/devChain.js';
import { detectEvidenceProvider } from '../tee/detectProvider.js';
import { openSimulatedConfigfsProvider, openSimulatedTdxConfigfsProvider } from '../tee/sim/simulatedTsm.js';
import { SimulatedTdx } from '../tee/sim/tdxSimulator.js';
import { readTdxCollateral, type TdxCollateral } from '../../attestation/tdx/collateral.js';
import { readFile } from 'node:fs/promises';
import { SimulatedSnp } from '../tee/sim/snpSimulator.js';
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
  --simulated         run on the simulated TEE (development root; nothing is confidential)
  --platform NAME     simulated platform: sev-snp or tdx (default sev-snp)
  --product NAME      simulated SEV-SNP product: ${PRODUCTS.join(', ')} (default Milan)
  --collateral FILE   TDX collateral (TCB info, QE identity, CRLs; Intel PCS JSON in the shape of
                      dcap-qvl's collateral files) to put into every TDX evidence bundle
  --host ADDRESS      address to listen on (default 127.0.0.1)
  --port N            port (default 8080; 0 picks a free one)
  --cert-validity S   RA-TLS certificate validity in seconds (default 3600, at least 60)
  --http              serve plain HTTP instead, for debugging only: the server is NOT authenticated
                      and traffic is not encrypted; evidence then binds no keys (keys digest all zero)
  --ohttp-rotate S    a new OHTTP key every S seconds (default 86400; 0: never)
  --ohttp-overlap S   a rotated-out OHTTP key still decrypts for S seconds (default 3600)
  --models DIR        model packs to serve: every manifest in DIR (default image/models; each file's
                      SHA-256 is checked), or "none"
  --concurrency N     inference jobs run at once (default 1)
  --queue N           inference jobs that may wait; beyond, 503 with Retry-After (default 16)
  --source NAME       evidence source without --simulated: auto (configfs-tsm, then /dev/sev-guest,
                      then /dev/tdx_guest), configfs-tsm, sev-guest or tdx-guest (default auto)
  -h, --help          show this help

Without --simulated the server needs a TEE (configfs-tsm, /dev/sev-guest or /dev/tdx_guest) and
exits with the list of what it looked for when there is none.
`;

const OPTIONS = {
  simulated: { type: 'boolean' },
  product: { type: 'string' },
  platform: { type: 'string' },
  collateral: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  'cert-validity': { type: 'string' },
  'ohttp-rotate': { type: 'string' },
  'ohttp-overlap': { type: 'string' },
  models: { type: 'string' },
  concurrency: { type: 'string' },
  queue: { type: 'string' },
  http: { type: 'boolean' },
  source: { type: 'string' },
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
}

export async function serveCommand(argv: string[], io: CliIo, hooks: ServeHooks = {}): Promise<number> {
  try {
    const values = parseOptions(argv, OPTIONS, 'serve');
    if (values.help === true) {
      io.stdout(SERVE_HELP);
      return EXIT.ok;
    }
    const port = Number(values.port ?? '8080');
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw usage(`--port must be 0..65535, got "${values.port ?? ''}"`);
    const validityText = values['cert-validity'];
    if (validityText !== undefined && values.http === true) throw usage('--cert-validity applies only without --http');
    const certValidity = Number(validityText ?? '3600');
    if (!/^\d+$/.test(validityText ?? '3600') || !Number.isSafeInteger(certValidity) || certValidity < 60) throw usage(`--cert-validity must be a whole number of seconds, at least 60, got "${validityText ?? ''}"`);
    const seconds = (name: 'ohttp-rotate' | 'ohttp-overlap', fallback: number): number => {
      const text = values[name];
      if (text === undefined) return fallback;
      if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) throw usage(`--${name} must be a whole number of seconds, got "${text}"`);
      return Number(text);
    };
    const ohttpRotate = seconds('ohttp-rotate', DEFAULT_ROTATE_SECONDS);
    const ohttpOverlap = seconds('ohttp-overlap', DEFAULT_OVERLAP_SECONDS);
    const count = (name: 'concurrency' | 'queue', fallback: number, min: number): number => {
      const text = values[name];
      if (text === undefined) return fallback;
      if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > 1024) throw usage(`--${name} must be a whole number from ${min} to 1024, got "${text}"`);
      return Number(text);
    };
    const queue = new InferenceQueue({ concurrency: count('concurrency', 1, 1), maxQueued: count('queue', 16, 0) });
    let provider: EvidenceProvider;
    if (values.simulated === true) {
      if (values.source !== undefined) throw new UsageError('USAGE', '--source applies only without --simulated');
      const platform = values.platform ?? 'sev-snp';
      if (platform !== 'sev-snp' && platform !== 'tdx') throw usage(`--platform must be sev-snp or tdx, got "${platform}"`);
      const product = values.product ?? 'Milan';
      if (!(PRODUCTS as readonly string[]).includes(product)) throw usage(`--product must be one of ${PRODUCTS.join(', ')}, got "${product}"`);
      if (platform === 'tdx' && values.product !== undefined) throw usage('--product applies only to --platform sev-snp');
      provider =
        platform === 'tdx'
          ? await openSimulatedTdxConfigfsProvider(await SimulatedTdx.create({}, { stateDir: defaultStateDir() }))
          : await openSimulatedConfigfsProvider(await SimulatedSnp.create({ product: product as Product }, { stateDir: defaultStateDir() }));
    } else {
      if (values.product !== undefined || values.platform !== undefined) throw usage('--product and --platform apply only with --simulated');
      const source = hardwareSource(values.source, 'serve');
      provider = await (hooks.hardware ?? (() => detectEvidenceProvider(source === undefined ? {} : { override: source })))();
    }
    const logger = createLogger({ simulated: provider.simulated, platform: provider.platform, ...(hooks.logDestination === undefined ? {} : { destination: hooks.logDestination }) });
    let collateral: TdxCollateral | undefined;
    if (values.collateral !== undefined) {
      const path = values.collateral;
      let json: unknown;
      try {
        json = JSON.parse(await readFile(path, 'utf8'));
      } catch (cause) {
        throw new CloisterError('UNREADABLE_INPUT', `cannot read collateral "${path}": ${(cause as Error).message}`, { field: '--collateral', cause });
      }
      const read = readTdxCollateral(json, '$');
      if (read.collateral === undefined || read.problems.length > 0) throw new ParseError('MALFORMED_EVIDENCE', `invalid collateral in ${path}: ${read.problems.join('; ')}`, { field: '--collateral' });
      collateral = read.collateral;
    }
    const endorsements = collateral === undefined ? {} : { collateral };
    // Set once the evidence service exists (it needs the identity's keys digest first).
    const services: { evidence?: EvidenceService; identity?: TlsIdentity } = {};
    const keyStore = await OhttpKeyStore.create({
      rotateSeconds: ohttpRotate,
      overlapSeconds: ohttpOverlap,
      // The certificate (and the boot evidence) bind the served configs: re-issue them with the new set.
      onChange: async (store) => {
        const identity = services.identity;
        // A rotation already under way read the configs before this change: issue again until the
        // certificate binds exactly the live set.
        for (let attempt = 0; identity !== undefined && !bytesListsEqual(identity.keyConfigs, store.configs); attempt++) {
          if (attempt === 3) throw new Error('the RA-TLS certificate could not be re-issued for the new OHTTP key configurations');
          await identity.rotate();
        }
        logger.info({ keyIds: store.keys.map((k) => k.config.keyId) }, 'OHTTP keys changed');
      },
      onError: (e) => {
        logger.error({ err: { type: (e as Error).name, code: e instanceof CloisterError ? e.code : undefined } }, 'OHTTP key rotation failed');
      },
    });
    const identity =
      values.http === true
        ? undefined
        : await TlsIdentity.create({
            provider,
            keyConfigs: () => keyStore.configs,
            validitySeconds: certValidity,
            bundleInputs: endorsements,
            // Boot evidence binds the keys: re-acquire it for the new certificate.
            onRotate: async (rotated) => {
              await services.evidence?.refreshBoot();
              logger.info({ notAfter: rotated.info.notAfter.toISOString(), spkiSha256: rotated.info.spkiSha256, evidence: services.evidence?.boot.id }, 'TLS certificate rotated');
            },
            onError: (e) => {
              logger.error({ err: { type: (e as Error).name, code: e instanceof CloisterError ? e.code : undefined } }, 'TLS certificate rotation failed');
            },
          });
    if (identity !== undefined) services.identity = identity;
    const evidence = await EvidenceService.start({ provider, endorsements, ...(identity === undefined ? {} : { keysDigest: () => identity.keysDigest() }) });
    services.evidence = evidence;
    const packs = values.models === 'none' ? [] : await openPacks(values.models);
    const ocrPack = packs.find((p) => p.pack.processing === 'ocr');
    const ocr = ocrPack === undefined ? undefined : ocrRecognizer(ocrPack);
    const service = { packs, queue, ...(ocr === undefined ? {} : { ocr }) };
    const gateway = new OhttpGateway({ keys: (id) => keyStore.lookup(id), target: targetRouter([echoRoute, ...inferenceRoutes(service)]), afterRequest });
    const hygiene = hygieneStatus();
    if (!hygiene.gcAfterRequest || !hygiene.clearFreeMemory || !hygiene.mallocPerturb) {
      logger.warn({ hygiene }, `memory hygiene incomplete: run node ${HARDENED_NODE_FLAGS.join(' ')} with GLIBC_TUNABLES=${HARDENED_GLIBC_TUNABLES} (npm start does)`);
    }
    const ohttp = {
      gateway,
      keyConfigs: () => identity?.keyConfigs ?? keyStore.configs,
      ...(identity === undefined ? {} : { certificate: () => identity.certificate.certificateDer }),
    };
    const app = buildApp({ evidence, logger, ohttp, ...(identity === undefined ? {} : { https: identity.tlsOptions, tls: identity }) });
    if (identity !== undefined) {
      const server: unknown = app.server;
      if (!(server instanceof TlsServer)) throw new Error('fastify did not create a TLS server');
      identity.attach(server);
      hooks.onTlsIdentity?.(identity);
    }
    hooks.onServer?.(app.server);
    let address: string;
    try {
      address = await app.listen({ host: values.host ?? '127.0.0.1', port });
    } catch (e) {
      identity?.close();
      keyStore.close();
      throw e;
    }
    logger.info({ address, evidence: evidence.boot.id, ...(identity === undefined ? { tls: 'none' } : { notAfter: identity.info.notAfter.toISOString(), spkiSha256: identity.info.spkiSha256 }) }, provider.simulated ? 'listening on the SIMULATED TEE' : 'listening');
    io.stderr(
      `cloister serving on ${address}${provider.simulated ? ' (SIMULATED TEE: development root, nothing is confidential)' : ''}\n` +
        (identity === undefined
          ? '  PLAIN HTTP (--http): the server is not authenticated and traffic is not encrypted\n'
          : `  RA-TLS certificate  notAfter ${identity.info.notAfter.toISOString()}, SPKI SHA-256 ${identity.info.spkiSha256} (self-signed: verify its attestation)\n`) +
        `  OHTTP     ${address}/.well-known/ohttp-gateway (key IDs ${keyStore.keys.map((k) => k.config.keyId).join(', ')})\n` +
        `  models    ${packs.length === 0 ? 'none' : packs.map((p) => `${p.pack.name} ${p.pack.version}`).join(', ')}\n` +
        `  evidence  ${address}/.well-known/cloister/evidence\n  status    ${address}/status\n`,
    );
    hooks.onListening?.(address);
    hooks.onOhttpKeys?.(keyStore);
    (hooks.stopSignal ?? stopOnSignals)(async () => {
      identity?.close();
      keyStore.close();
      await queue.close();
      await closePacks(packs);
      await app.close();
    });
    return EXIT.ok;
  } catch (e) {
    if (!(e instanceof CloisterError)) throw e;
    io.stderr(errorLine(e));
    return EXIT.usage;
  }
}
