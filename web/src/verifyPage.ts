// The verify page (docs/verify-page.md): checks a Cloister server, or evidence in a file, with the SDK's verifier in
// the visitor's own browser. A server is verified by verifyServer, as `cloister verify` and the OHTTP client verify
// it; a file by verifyServerCertificate (an RA-TLS certificate) or judgeEvidence (a bundle, a report or a quote with
// its certificates), offline except for the transparency log. Query parameters fill the form, and with `server` set
// the check runs at once, so a link can be shared: server, log, publisherKey, logKey, witness (repeated),
// measurement (repeated), simulated=1.
import { CloisterError } from '../../attestation/errors.js';
import { serverReport } from '../../attestation/client/serverReport.js';
import { clientPolicy } from '../../attestation/client/measurementSource.js';
import { loggedImageInputs } from '../../attestation/client/loggedMeasurements.js';
import { embeddedRoots, simulatedRootsOfCertificate } from '../../attestation/client/simulatedTrust.js';
import { judgeEvidence, verifyServer, verifyServerCertificate } from '../../attestation/client/verifyServer.js';
import { decodePem } from '../../attestation/bytes.js';
import { splitCertificateFile } from '../../attestation/evidence/bundle.js';
import { decodeEvidence, type DecodedEvidence } from '../../attestation/evidence/platforms.js';
import { decodeRaTlsExtension, ID_PE_CMW } from '../../attestation/protocols/ratlsExtension.js';
import type { RaTlsVerdict } from '../../attestation/ratls/verifyCertificate.js';
import { parseCertificate } from '../../attestation/x509.js';
import { renderFailure, renderPending, renderReport, type Subject } from './story.js';
import { pageTrust, type PageTrust, type TrustInputs } from './trust.js';

function byId<T extends HTMLElement>(id: string, kind: new () => T): T {
  const e = document.getElementById(id);
  if (!(e instanceof kind)) throw new Error(`the page has no ${kind.name} #${id}`);
  return e;
}

const form = byId('server-form', HTMLFormElement);
const server = byId('server', HTMLInputElement);
const log = byId('log', HTMLInputElement);
const publisherKey = byId('publisher-key', HTMLTextAreaElement);
const logKey = byId('log-key', HTMLInputElement);
const witnesses = byId('witnesses', HTMLTextAreaElement);
const measurements = byId('measurements', HTMLTextAreaElement);
const measurementsFile = byId('measurements-file', HTMLInputElement);
const simulated = byId('simulated', HTMLInputElement);
const drop = byId('drop', HTMLElement);
const files = byId('files', HTMLInputElement);
const result = byId('result', HTMLElement);
const servedCopy = byId('served-copy', HTMLElement);

async function inputs(): Promise<TrustInputs> {
  return {
    log: log.value.trim(),
    publisherKeys: publisherKey.value,
    logKey: logKey.value,
    witnesses: witnesses.value,
    measurements: measurements.value,
    measurementsFile: (await measurementsFile.files?.[0]?.text()) ?? '',
    allowSimulated: simulated.checked,
  };
}

function failureOf(e: unknown): { check: string; code: string; message: string } {
  if (e instanceof CloisterError) return { check: e.field ?? 'input', code: e.code, message: e.message };
  return { check: 'page', code: 'PAGE_ERROR', message: e instanceof Error ? e.message : String(e) };
}

/** Runs one verification and tells its story; a second one started meanwhile wins. */
let current = 0;
async function run(what: string, verify: () => Promise<{ verdict: RaTlsVerdict; subject: Subject }>): Promise<void> {
  const id = ++current;
  result.setAttribute('aria-busy', 'true');
  renderPending(result, what);
  try {
    const { verdict, subject } = await verify();
    if (id === current) renderReport(result, serverReport(verdict), subject);
  } catch (e) {
    if (id === current) renderFailure(result, { what }, failureOf(e));
  } finally {
    if (id === current) {
      result.setAttribute('aria-busy', 'false');
      // The result is above the form: bring it into view after a check started further down.
      result.scrollIntoView({ block: 'start' });
    }
  }
}

async function checkServer(): Promise<void> {
  const origin = server.value.trim();
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    renderFailure(result, { what: `"${origin}"` }, { check: 'input', code: 'USAGE', message: 'enter the URL of the server, or of the relay’s resource for it, such as http://127.0.0.1:8081/default' });
    return;
  }
  if (url.origin === location.origin) servedCopy.hidden = false;
  const given = await inputs();
  await run(`the server at ${origin}`, async () => {
    const chosen: { trust?: PageTrust } = {};
    const { verdict, certificate } = await verifyServer(origin, async (served) => {
      chosen.trust = await pageTrust(given, simulatedRootsOfCertificate(served.certificate));
      return chosen.trust.trust;
    });
    return { verdict, subject: { what: `The server at ${origin}`, ...chosen, keep: keepable(certificate), ...(await imageOf(verdict, chosen.trust)) } };
  });
}

/** The inputs of the image the log lists the measurement for (its model packs among them), when the log holds its manifest. */
async function imageOf(verdict: RaTlsVerdict, trust: PageTrust | undefined): Promise<Pick<Subject, 'image'>> {
  const manifest = serverReport(verdict).logged?.imageManifest;
  const fetch = trust?.trust.transparency?.fetch;
  if (manifest === undefined || fetch === undefined) return {};
  try {
    return { image: { inputs: (await loggedImageInputs(manifest, fetch)) ?? null } };
  } catch (e) {
    return { image: { failure: failureOf(e) } };
  }
}

/** What the visitor may save to check again offline: the certificate, and the evidence bundle it carries. */
function keepable(certificate: Uint8Array): { name: string; bytes: Uint8Array }[] {
  const keep = [{ name: 'attestation.der', bytes: certificate }];
  try {
    const cmw = parseCertificate(certificate).extensions.get(ID_PE_CMW);
    if (cmw !== undefined) keep.push({ name: 'evidence.json', bytes: decodeRaTlsExtension(cmw.value).bundle });
  } catch {
    // The verdict says what is wrong with the certificate; the certificate alone can still be saved.
  }
  return keep;
}

/** The DER of an RA-TLS certificate (DER or PEM), or undefined when `bytes` is not one. */
function attestedCertificate(bytes: Uint8Array): Uint8Array | undefined {
  let der = bytes;
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(0, 64));
  if (text.includes('-----BEGIN CERTIFICATE-----')) der = decodePem(new TextDecoder().decode(bytes)).find((b) => b.label === 'CERTIFICATE')?.der ?? bytes;
  try {
    return parseCertificate(der).extensions.has(ID_PE_CMW) ? der : undefined;
  } catch {
    return undefined;
  }
}

/** The evidence among `contents` (the first that decodes as evidence), with the other files' certificates and CRLs added. */
function evidenceOf(contents: readonly { readonly name: string; readonly bytes: Uint8Array }[]): { decoded: DecodedEvidence; name: string } {
  let failure: unknown;
  for (const [i, c] of contents.entries()) {
    let decoded: DecodedEvidence;
    try {
      decoded = decodeEvidence(c.bytes);
    } catch (e) {
      failure ??= e;
      continue;
    }
    const others = contents.filter((_, j) => j !== i).map((o) => splitCertificateFile(o.bytes, o.name));
    const evidence = { ...decoded.evidence, certificates: [...decoded.evidence.certificates, ...others.flatMap((o) => o.certificates)], crls: [...decoded.evidence.crls, ...others.flatMap((o) => o.crls)] };
    const beside = contents.filter((_, j) => j !== i).map((o) => o.name);
    return { decoded: { ...decoded, evidence } as DecodedEvidence, name: beside.length === 0 ? c.name : `${c.name} (with ${beside.join(', ')})` };
  }
  if (failure instanceof Error) throw failure;
  throw new Error('no file to verify');
}

async function checkFiles(list: readonly File[]): Promise<void> {
  if (list.length === 0) return;
  const names = list.map((f) => f.name).join(', ');
  const given = await inputs();
  await run(`the file(s) ${names}`, async () => {
    const contents = await Promise.all(list.map(async (f) => ({ name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) })));
    for (const c of contents) {
      const der = attestedCertificate(c.bytes);
      if (der === undefined) continue;
      const trust = await pageTrust(given, simulatedRootsOfCertificate(der));
      const verdict = await verifyServerCertificate(der, clientPolicy(trust.trust), trust.trust);
      return { verdict, subject: { what: `The attestation certificate in ${c.name}`, trust, ...(await imageOf(verdict, trust)) } };
    }
    const { decoded, name } = evidenceOf(contents);
    const trust = await pageTrust(given, decoded.evidence.simulated ? embeddedRoots(decoded) : []);
    const verdict = await judgeEvidence(decoded, clientPolicy(trust.trust), trust.trust);
    return { verdict, subject: { what: `The evidence in ${name}`, trust, ...(await imageOf(verdict, trust)) } };
  });
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  void checkServer();
});
files.addEventListener('change', () => {
  void checkFiles([...(files.files ?? [])]);
});
drop.addEventListener('click', () => {
  files.click();
});
drop.addEventListener('keydown', (event) => {
  if (event.key !== 'Enter' && event.key !== ' ') return;
  event.preventDefault();
  files.click();
});
drop.addEventListener('dragover', (event) => {
  event.preventDefault();
  drop.classList.add('dragging');
});
drop.addEventListener('dragleave', () => {
  drop.classList.remove('dragging');
});
drop.addEventListener('drop', (event) => {
  event.preventDefault();
  drop.classList.remove('dragging');
  void checkFiles([...(event.dataTransfer?.files ?? [])]);
});

/** Whether this copy is served by a Cloister server (its /status says so), as `cloister serve --verify-page` serves one. */
async function servedByCloister(): Promise<boolean> {
  if (location.protocol !== 'http:' && location.protocol !== 'https:') return false;
  try {
    const r = await fetch(new URL('/status', location.href), { signal: AbortSignal.timeout(5000) });
    return ((await r.json()) as { service?: unknown }).service === 'cloister';
  } catch {
    return false;
  }
}

void servedByCloister().then((served) => {
  if (!served) return;
  servedCopy.hidden = false;
  if (server.value === '') server.value = location.origin;
});

const params = new URLSearchParams(location.search);
server.value = params.get('server') ?? server.value;
log.value = params.get('log') ?? log.value;
publisherKey.value = params.get('publisherKey') ?? publisherKey.value;
logKey.value = params.get('logKey') ?? logKey.value;
witnesses.value = params.getAll('witness').join('\n') || witnesses.value;
measurements.value = params.getAll('measurement').join('\n') || measurements.value;
simulated.checked = params.get('simulated') === '1' || simulated.checked;
if (params.has('server')) void checkServer();
