// The whole server from one configuration: the evidence source (hardware, a simulated TEE, or a given
// provider), the OHTTP key store, the RA-TLS identity that binds its keys, the evidence service, the
// model packs behind the gateway, and the fastify app with its route plugins. Nothing listens until
// listen(); close() stops everything in order. The CLI (src/cli/serveCommand.ts) only turns flags into
// a ServerConfig.
import { Server as TlsServer } from 'node:tls';
import type { Logger } from 'pino';
import { bytesListsEqual, toHex } from '../../attestation/bytes.js';
import { CloisterError } from '../../attestation/errors.js';
import { KdsError } from '../../attestation/snp/kds.js';
import type { Product } from '../../attestation/snp/product.js';
import type { TdxCollateral } from '../../attestation/tdx/collateral.js';
import { parseQuote } from '../../attestation/tdx/quote.js';
import { RuntimeError } from '../base/runtimeErrors.js';
import type { TimerHandle } from '../base/timer.js';
import { createLogger, errorFields } from '../base/log.js';
import { afterRequest, HARDENED_GLIBC_TUNABLES, HARDENED_NODE_FLAGS, hygieneStatus } from '../base/memory/hygiene.js';
import { InferenceQueue } from '../inference/queue.js';
import { inferenceRoutes } from '../inference/routes.js';
import { closePacks, openEach } from '../inference/sessions.js';
import { loadModelPacks, PACKS_DIR, type ModelPack } from '../inference/manifest.js';
import { localExecutor, localWork, type InferenceExecutor } from '../inference/work.js';
import { WorkerPool, workersFor } from '../inference/workerPool.js';
import { OhttpGateway } from '../ohttp/gateway.js';
import { DEFAULT_OVERLAP_SECONDS, DEFAULT_ROTATE_SECONDS, OhttpKeyStore } from '../ohttp/keyStore.js';
import { checkRotationSchedule, type KeyIdRange } from '../ohttp/rotationSchedule.js';
import { echoRoute, targetRouter } from '../ohttp/target.js';
import type { BundleInputs } from '../tee/assembleBundle.js';
import { CollateralCache, type CollateralFetch, type CollateralSource } from '../tee/collateralSource.js';
import { detectEvidenceProvider, type EvidenceSource } from '../tee/detectProvider.js';
import { PcsCollateralSource } from '../tee/pcsCollateralSource.js';
import { KdsCertificateProvider, type KdsCertificateOptions } from '../tee/kdsCertificates.js';
import type { EvidenceProvider, TeePlatform } from '../tee/provider.js';
import { defaultStateDir } from '../tee/sim/devChain.js';
import { SimulatedCollateralSource } from '../tee/sim/simulatedCollateral.js';
import { openSimulatedConfigfsProvider, openSimulatedTdxConfigfsProvider } from '../tee/sim/simulatedTsm.js';
import { readHostLaunch, type HostLaunch } from '../tee/sim/hostLaunch.js';
import type { InstanceKeyIdSource } from '../fleet/instanceKeyIds.js';
import { SimulatedSnp } from '../tee/sim/snpSimulator.js';
import { SimulatedTdx } from '../tee/sim/tdxSimulator.js';
import { buildApp } from './app.js';
import { EvidenceService } from './evidenceService.js';
import { openPrivacyPass, type PrivacyPassConfig, type PrivacyPassGate } from './privacyPass.js';
import { TlsIdentity } from './tlsIdentity.js';
import { readVerifyPage } from './routes/verifyPageRoutes.js';

/** Where attestation evidence comes from. */
export type TeeConfig =
  /** The machine's TEE: configfs-tsm, /dev/sev-guest or /dev/tdx_guest (`source` forces one). */
  /** The machine's TEE; on TDX its collateral comes from Intel PCS, or the PCCS at `pcsUrl`. */
  | { readonly kind: 'hardware'; readonly source?: Exclude<EvidenceSource, 'simulated'>; readonly pcsUrl?: string }
  /** The simulated TEE, signed by a development root kept in the state directory: nothing is confidential. */
  | {
      readonly kind: 'simulated';
      readonly platform: TeePlatform;
      readonly product?: Product;
      /** The launch measurement to report: as given, read from the host's SMBIOS OEM strings ('host'), or the simulator's default. */
      readonly launch?: HostLaunch | 'host';
    }
  /** An evidence provider made elsewhere (tests, embedders). */
  | { readonly kind: 'provider'; readonly open: () => Promise<EvidenceProvider> };

export interface ServerConfig {
  readonly tee: TeeConfig;
  /** TDX collateral to put into every TDX evidence bundle, as given: never refreshed. */
  readonly collateral?: TdxCollateral;
  /**
   * The Sigstore bundle of the measurements statement that lists this image (`cloister publish`), shipped in the
   * RA-TLS certificate's CMW so that clients with `--log` need not fetch it (docs/transparency.md "Clients").
   */
  readonly transparencyBundle?: Uint8Array;
  /**
   * Where TDX collateral comes from when `collateral` is not given: fetched at boot for the platform's quote
   * and again before it expires (an Intel PCS fetcher on hardware). The simulated TDX TEE brings its own,
   * signed by its development keys.
   */
  readonly collateralSource?: CollateralSource;
  /**
   * SEV-SNP certificates from AMD KDS for evidence whose host supplies none (src/tee/kdsCertificates.ts). Default:
   * on with the machine's TEE, off with the simulated TEE (it has its own development chain) and a given
   * provider; false turns it off. Failures are logged and the evidence goes out without them.
   */
  readonly kds?: Omit<KdsCertificateOptions, 'onError'> | false;
  /** RA-TLS certificate validity in seconds (default 3600); undefined `tls: false` serves plain HTTP. */
  readonly certValiditySeconds?: number;
  /** False: plain HTTP, for debugging only (the server is not authenticated). Default true. */
  readonly tls?: boolean;
  /** The OHTTP key schedule; `now` and `setTimer` drive it (tests), default the wall clock. */
  readonly ohttp?: {
    readonly rotateSeconds?: number;
    readonly overlapSeconds?: number;
    readonly keyIds?: KeyIdRange;
    /** Where keyIds came from when the instance stated them (`--ohttp-key-ids instance`), for the log. */
    readonly keyIdsSource?: InstanceKeyIdSource;
    readonly now?: () => number;
    readonly setTimer?: (fn: () => void, ms: number) => TimerHandle;
  };
  /** Model pack directory (default image/models), or null for none. */
  readonly models?: string | null;
  /** A build of the verify page (npm run web) to serve as a convenience copy at /verify/ (docs/verify-page.md). */
  readonly verifyPage?: string;
  /** How long a request behind the OHTTP gateway may take, queueing included, before its 504 (default DEFAULT_TARGET_TIMEOUT_MS). */
  readonly targetTimeoutMs?: number;
  readonly inference?: {
    /** Jobs run at once (default: one per worker, or 1 in the server's thread). */
    readonly concurrency?: number;
    readonly maxQueued?: number;
    /**
     * Worker threads that run inference (default 'auto': as many as the cores hold the packs' intra-op
     * threads, at least one); 0 runs it in the server's thread, which holds the event loop during runs.
     */
    readonly workers?: number | 'auto';
  };
  /**
   * Privacy Pass redemption (docs/privacy-pass.md "Redemption"): every request behind the gateway needs a token
   * in its encapsulated Authorization header. Default off.
   */
  readonly privacyPass?: PrivacyPassConfig;
  /** Where log lines go (default stdout). */
  readonly logDestination?: NodeJS.WritableStream;
}

export interface CloisterServer {
  readonly app: ReturnType<typeof buildApp>;
  readonly provider: EvidenceProvider;
  readonly logger: Logger;
  readonly keyStore: OhttpKeyStore;
  readonly evidence: EvidenceService;
  /** The TDX collateral kept current from a CollateralSource; undefined without one (or on SEV-SNP). */
  readonly collateral: CollateralCache | undefined;
  /** Undefined over plain HTTP. */
  readonly identity: TlsIdentity | undefined;
  /** The model packs served (their manifests). */
  readonly packs: readonly ModelPack[];
  /** Privacy Pass redemption; undefined when off. */
  readonly privacyPass: PrivacyPassGate | undefined;
  /** Starts accepting connections; resolves with the address. */
  listen(host: string, port: number): Promise<string>;
  close(): Promise<void>;
}

interface OpenedTee {
  readonly provider: EvidenceProvider;
  /** The simulated TEE's launch measurement when one was stated (not its default), for the log. */
  readonly launch?: HostLaunch;
  /** The TDX collateral of this TEE: Intel PCS on hardware, the development keys on the simulated TEE. */
  readonly collateralSource?: CollateralSource;
}

async function openTee(tee: TeeConfig): Promise<OpenedTee> {
  switch (tee.kind) {
    case 'hardware':
      return { provider: await detectEvidenceProvider(tee.source === undefined ? {} : { override: tee.source }), collateralSource: new PcsCollateralSource(tee.pcsUrl === undefined ? {} : { baseUrl: tee.pcsUrl }) };
    case 'provider':
      return { provider: await tee.open() };
    case 'simulated':
      return openSimulated(tee);
  }
}

/** The simulated TEE of each platform, behind the real configfs-tsm code path. */
const SIMULATED: { readonly [N in TeePlatform]: (tee: { readonly product?: Product }, launch: HostLaunch) => Promise<OpenedTee> } = {
  'sev-snp': async (tee, launch) => {
    const measurement = launch.snpMeasurement === undefined ? {} : { measurement: launch.snpMeasurement };
    return { provider: await openSimulatedConfigfsProvider(await SimulatedSnp.create({ product: tee.product ?? 'Milan', ...measurement }, { stateDir: defaultStateDir() })) };
  },
  tdx: async (_tee, launch) => {
    const zeros = new Uint8Array(48);
    const rtmrs = launch.tdxRtmr1 === undefined && launch.tdxRtmr2 === undefined ? {} : { rtmrs: [zeros, launch.tdxRtmr1 ?? zeros, launch.tdxRtmr2 ?? zeros, zeros] as const };
    const sim = await SimulatedTdx.create({ ...(launch.tdxMrtd === undefined ? {} : { mrTd: launch.tdxMrtd }), ...rtmrs }, { stateDir: defaultStateDir() });
    return { provider: await openSimulatedTdxConfigfsProvider(sim), collateralSource: new SimulatedCollateralSource(sim.chain) };
  },
};

async function openSimulated(tee: Extract<TeeConfig, { kind: 'simulated' }>): Promise<OpenedTee> {
  const launch = tee.launch === 'host' ? await readHostLaunch() : (tee.launch ?? {});
  const opened = await SIMULATED[tee.platform](tee, launch);
  const stated = tee.platform === 'sev-snp' ? launch.snpMeasurement !== undefined : launch.tdxMrtd !== undefined || launch.tdxRtmr1 !== undefined || launch.tdxRtmr2 !== undefined;
  return stated ? { ...opened, launch } : opened;
}

const launchFields = (launch: HostLaunch): Record<string, string> =>
  Object.fromEntries(Object.entries(launch).map(([k, v]) => [k, toHex(v as Uint8Array)]));

/** The KDS options in effect: config.kds, else on for the machine's TEE only. */
export function kdsOptions(config: Pick<ServerConfig, 'tee' | 'kds'>): Omit<KdsCertificateOptions, 'onError'> | false {
  return config.kds ?? (config.tee.kind === 'hardware' ? {} : false);
}

export async function createServer(config: ServerConfig): Promise<CloisterServer> {
  const schedule = { rotateSeconds: config.ohttp?.rotateSeconds ?? DEFAULT_ROTATE_SECONDS, overlapSeconds: config.ohttp?.overlapSeconds ?? DEFAULT_OVERLAP_SECONDS, ...(config.ohttp?.keyIds === undefined ? {} : { keyIds: config.ohttp.keyIds }) };
  const fragile = checkRotationSchedule(schedule);
  const verifyPage = config.verifyPage === undefined ? undefined : await readVerifyPage(config.verifyPage);
  const tee = await openTee(config.tee);
  const opened = tee.provider;
  const logger = createLogger({ simulated: opened.simulated, platform: opened.platform, ...(config.logDestination === undefined ? {} : { destination: config.logDestination }) });
  const kds = kdsOptions(config);
  const provider =
    kds === false
      ? opened
      : new KdsCertificateProvider(opened, {
          ...kds,
          onError: (e) => {
            logger.warn({ ...errorFields(e), ...(e instanceof KdsError ? { url: e.url, status: e.status } : {}) }, 'no SEV-SNP certificates from AMD KDS: the evidence goes out with only what the host supplied');
          },
        });
  for (const warning of fragile) logger.warn(schedule, warning);
  const keyIds = config.ohttp?.keyIds;
  if (keyIds !== undefined && config.ohttp?.keyIdsSource !== undefined) logger.info({ keyIds: `${keyIds.first}-${keyIds.last}`, keyIdsSource: config.ohttp.keyIdsSource }, 'OHTTP key IDs: this instance\'s range');
  if (tee.launch !== undefined) logger.info(launchFields(tee.launch), 'the SIMULATED TEE reports the launch measurement it was given, not one it measured');
  // Set once the evidence service exists (it needs the identity's keys digest first).
  const services: { evidence?: EvidenceService; identity?: TlsIdentity } = {};
  const collateralSource = config.collateral === undefined ? (config.collateralSource ?? tee.collateralSource) : undefined;
  const collateralFields = (source: CollateralSource, f: CollateralFetch): Record<string, string> => ({ collateral: source.name, nextUpdate: f.nextUpdate.toISOString(), refreshAt: f.refreshAt.toISOString() });
  const collateral =
    collateralSource === undefined || provider.platform !== 'tdx'
      ? undefined
      : await CollateralCache.start({
          source: collateralSource,
          // Any quote names the platform: its PCK certificate carries the FMSPC and PCK CA.
          quote: parseQuote((await provider.getEvidence({ reportData: new Uint8Array(64) })).evidence),
          // The certificate and the boot bundle carry collateral: issue them again with the new one.
          onRefresh: async (fetched) => {
            logger.info(collateralFields(collateralSource, fetched), 'TDX collateral refreshed');
            if (services.identity !== undefined) await services.identity.rotate();
            else await services.evidence?.refreshBoot();
          },
          onError: (e) => {
            logger.error(errorFields(e), 'TDX collateral refresh failed; the current collateral stays until the retry');
          },
        });
  if (collateral !== undefined) logger.info(collateralFields(collateral.source, collateral.current), 'TDX collateral');
  const endorsements = (): BundleInputs => {
    const current = collateral?.collateral ?? config.collateral;
    return current === undefined ? {} : { collateral: current };
  };
  const keyStore = await OhttpKeyStore.create({
    ...schedule,
    ...(config.ohttp?.now === undefined ? {} : { now: config.ohttp.now }),
    ...(config.ohttp?.setTimer === undefined ? {} : { setTimer: config.ohttp.setTimer }),
    // The certificate (and the boot evidence) bind the served configs: re-issue them with the new set.
    onChange: async (store) => {
      const identity = services.identity;
      // A rotation already under way read the configs before this change: issue again until the
      // certificate binds exactly the live set.
      for (let attempt = 0; identity !== undefined && !bytesListsEqual(identity.keyConfigs, store.configs); attempt++) {
        if (attempt === 3) throw new RuntimeError('TLS_CERTIFICATE_UNAVAILABLE', 'the RA-TLS certificate could not be re-issued for the new OHTTP key configurations');
        await identity.rotate();
      }
      logger.info({ keyIds: store.keys.map((k) => k.config.keyId) }, 'OHTTP keys changed');
    },
    onError: (e) => {
      logger.error(errorFields(e), 'OHTTP key rotation failed');
    },
  });
  const identity =
    config.tls === false
      ? undefined
      : await TlsIdentity.create({
          provider,
          keyConfigs: () => keyStore.configs,
          validitySeconds: config.certValiditySeconds ?? 3600,
          bundleInputs: endorsements,
          ...(config.transparencyBundle === undefined ? {} : { transparencyBundle: config.transparencyBundle }),
          // Boot evidence binds the keys: re-acquire it for the new certificate.
          onRotate: async (rotated) => {
            await services.evidence?.refreshBoot();
            logger.info({ notAfter: rotated.info.notAfter.toISOString(), spkiSha256: rotated.info.spkiSha256, evidence: services.evidence?.boot.id }, 'TLS certificate rotated');
          },
          onError: (e) => {
            logger.error(errorFields(e), 'TLS certificate rotation failed');
          },
        });
  if (identity !== undefined) services.identity = identity;
  const evidence = await EvidenceService.start({ provider, endorsements, ...(identity === undefined ? {} : { keysDigest: () => identity.keysDigest() }) });
  services.evidence = evidence;
  // With workers, the sessions are theirs: this thread reads and verifies the manifests, and opens none.
  const manifests = config.models === null ? [] : await loadModelPacks(config.models ?? PACKS_DIR);
  const wanted = config.inference?.workers ?? 'auto';
  const workers = manifests.length === 0 ? 0 : wanted === 'auto' ? workersFor(manifests) : wanted;
  const packs = workers === 0 ? await openEach(manifests) : [];
  let executor: InferenceExecutor;
  try {
    executor = workers === 0 ? localExecutor(localWork(packs, logger)) : await WorkerPool.start({ size: workers, models: config.models ?? PACKS_DIR, logger });
  } catch (e) {
    await closePacks(packs);
    throw e;
  }
  const queue = new InferenceQueue({ concurrency: config.inference?.concurrency ?? Math.max(1, workers), maxQueued: config.inference?.maxQueued ?? 16 });
  logger.info({ inferenceWorkers: workers, concurrency: queue.concurrency }, workers === 0 ? 'inference runs in the server thread' : 'inference runs in worker threads');
  // POST /v1/echo answers with whatever it is sent: for trying the path by hand and for tests, never on a
  // TEE whose attestation vouches for what it runs.
  const targets = [...(provider.simulated ? [echoRoute] : []), ...inferenceRoutes({ packs: manifests, queue, executor })];
  let privacyPass: PrivacyPassGate | undefined;
  try {
    privacyPass = config.privacyPass === undefined ? undefined : await openPrivacyPass(config.privacyPass, logger);
  } catch (e) {
    await queue.close();
    await executor.close();
    await closePacks(packs);
    throw e;
  }
  const redeemer = privacyPass?.redeemer;
  const gateway = new OhttpGateway({ keys: (id) => keyStore.lookup(id), target: targetRouter(targets), afterRequest, ...(config.targetTimeoutMs === undefined ? {} : { targetTimeoutMs: config.targetTimeoutMs }), ...(redeemer === undefined ? {} : { admit: (request) => redeemer.admit(request) }) });
  const hygiene = hygieneStatus();
  if (!hygiene.gcAfterRequest || !hygiene.clearFreeMemory || !hygiene.mallocPerturb) {
    logger.warn({ hygiene }, `memory hygiene incomplete: run node ${HARDENED_NODE_FLAGS.join(' ')} with GLIBC_TUNABLES=${HARDENED_GLIBC_TUNABLES} (npm start does)`);
  }
  const keyConfigs = (): readonly Uint8Array[] => identity?.keyConfigs ?? keyStore.configs;
  // What carries or binds the served configs is cached no longer than the schedule keeps them decrypting.
  const cacheSeconds = (): number | undefined => keyStore.cacheSeconds(keyConfigs());
  const ohttp = {
    gateway,
    keyConfigs,
    cacheSeconds,
    ...(identity === undefined ? {} : { certificate: () => identity.certificate.certificateDer }),
  };
  const collateralStatus = collateral === undefined ? undefined : () => ({ source: collateral.source.name, nextUpdate: collateral.current.nextUpdate, refreshAt: collateral.current.refreshAt });
  const app = buildApp({ evidence, logger, ohttp, ...(identity === undefined ? {} : { https: identity.tlsOptions, tls: identity }), ...(collateralStatus === undefined ? {} : { collateral: collateralStatus }), ...(verifyPage === undefined ? {} : { verifyPage }) });
  if (identity !== undefined) {
    const server: unknown = app.server;
    if (!(server instanceof TlsServer)) throw new CloisterError('INVALID_STATE', 'fastify did not create a TLS server');
    identity.attach(server);
  }
  const close = async (): Promise<void> => {
    collateral?.close();
    identity?.close();
    keyStore.close();
    await queue.close();
    await executor.close();
    await closePacks(packs);
    await privacyPass?.close();
    await app.close();
  };
  return {
    app,
    provider,
    logger,
    keyStore,
    evidence,
    collateral,
    identity,
    packs: manifests,
    privacyPass,
    close,
    listen: async (host, port) => {
      let address: string;
      try {
        address = await app.listen({ host, port });
      } catch (e) {
        collateral?.close();
        identity?.close();
        keyStore.close();
        throw e;
      }
      logger.info({ address, evidence: evidence.boot.id, ...(identity === undefined ? { tls: 'none' } : { notAfter: identity.info.notAfter.toISOString(), spkiSha256: identity.info.spkiSha256 }) }, provider.simulated ? 'listening on the SIMULATED TEE' : 'listening');
      return address;
    },
  };
}
