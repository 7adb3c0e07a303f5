// The verify page in real Chromium (Debian's, headless), against the local stack: `cloister serve --simulated` behind
// `cloister relay`, transparency logs served statically, and the page as `npm run web` builds it, from another origin.
// Each state the page can end in is checked in the DOM and photographed into build/web-screenshots/ for review:
// accepted with the log entry, a measurement the log does not list, a tampered bundle dropped in offline, and a
// simulated server refused unless simulation is allowed, the log's checkpoint held to a witness; and the convenience
// copy a server serves says so. An audit in the rendered page checks accessibility (names, contrast, keyboard). Skipped
// without Chromium.
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { fromBase64, toBase64 } from '../../attestation/bytes.js';
import { simulatedMeasurementsHex } from '../../attestation/client/simulatedTrust.js';
import { ATTESTATION_CERTIFICATE_PATH } from '../../attestation/protocols/ohttp/paths.js';
import { decodeRaTlsExtension, ID_PE_CMW } from '../../attestation/protocols/ratlsExtension.js';
import { CHROMIUM } from '../../attestation/testing/chromium.js';
import { parseCertificate } from '../../attestation/x509.js';
import { processIo } from './io.js';
import { serveCommand } from './serveCommand.js';
import { startRelay, type Relay } from '../relay/relay.js';
import { ChromiumPage } from '../testing/chromiumPage.js';
import { cli } from '../testing/cliRun.js';
import { serveDirectory, type StaticServer } from '../testing/staticFiles.js';
import { temporaryDirectories } from '../testing/tempDirs.js';
import { startWitness } from '../testing/witnessProcess.js';
import { buildWeb } from '../../scripts/web/buildWeb.js';

const work = temporaryDirectories('cloister-verify-page-')();
process.env.CLOISTER_STATE_DIR = join(work, 'state');
const SCREENSHOTS = fileURLToPath(new URL('../../../build/web-screenshots/', import.meta.url));
const COMMIT = '0123456789abcdef0123456789abcdef01234567';

/** An image manifest's inputs as the image build writes them (scripts/image/imageManifest.ts), a model pack among them. */
const IMAGE_MANIFEST = JSON.stringify({ schema: 'cloister-image/v1', variant: 'production', inputs: [{ name: 'cloister', kind: 'app', version: '0.1.0', sha256: '11'.repeat(32), source: 'dist/' }, { name: 'ocr', kind: 'model', version: 'pp-ocrv4-1', sha256: '22'.repeat(32), source: 'image/models/ocr.json' }] });

/** Publishes a measurements statement listing `snp` to a new log directory (with its image manifest when `withImage`); its publisher.pub is in it. */
async function publishedLog(name: string, snp: string, withImage: boolean): Promise<string> {
  const dir = join(work, name);
  const key = join(work, `${name}-publisher.pem`);
  writeFileSync(key, generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  const image = join(work, `${name}-image-manifest.json`);
  writeFileSync(image, IMAGE_MANIFEST);
  const file = join(work, `${name}-measurements.json`);
  writeFileSync(file, JSON.stringify({ schema: 'cloister-measurements/v1', image: { manifest: createHash('sha256').update(IMAGE_MANIFEST).digest('hex'), variant: 'production' }, 'sev-snp': [{ measurement: snp, vcpus: 2, vcpuType: 'EPYC-v4', vmmType: 'qemu', guestFeatures: '0x1' }] }));
  const r = await cli('publish', '--measurements', file, ...(withImage ? ['--image-manifest', image] : []), '--key', key, '--log', dir, '--commit', COMMIT);
  assert.equal(r.code, 0, r.stderr);
  return dir;
}

interface PageState {
  readonly state: string;
  readonly verdict: string | null;
  readonly text: string;
  readonly codes: string[];
  readonly simulatedBanner: boolean;
  readonly fields: Record<string, string>;
}

const READ_STATE = `(() => {
  const result = document.getElementById('result');
  const fields = {};
  for (const e of result.querySelectorAll('[data-field]')) fields[e.dataset.field] = e.textContent;
  return {
    state: result.dataset.state,
    verdict: result.querySelector('[data-verdict]')?.dataset.verdict ?? null,
    text: result.innerText,
    codes: [...result.querySelectorAll('[data-code]')].map((e) => e.dataset.code),
    simulatedBanner: result.querySelector('[role="alert"]')?.textContent.includes('SIMULATED') ?? false,
    fields,
  };
})()`;

const DONE = `['accepted', 'rejected', 'error'].includes(document.getElementById('result')?.dataset.state)`;

/**
 * Run in the page: the controls without an accessible name (a label, aria-label(ledby) or text), and every visible
 * text whose colour against its background is under WCAG 2.1 AA (4.5:1, or 3:1 for large text: 24 px, or 18.66 px
 * bold). The background is the nearest opaque one among the element and its ancestors; over a gradient (the SIMULATED
 * banner's stripes) each colour stop counts.
 */
const ACCESSIBILITY_AUDIT = `(() => {
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; }; return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const backgrounds = (e) => {
    for (let n = e; n; n = n.parentElement) {
      const s = getComputedStyle(n);
      const stops = s.backgroundImage.match(/rgba?\\([^)]*\\)/g);
      if (stops) return stops.map(rgb);
      const c = rgb(s.backgroundColor);
      if (c.length === 3 || c[3] > 0) return [c.slice(0, 3)];
    }
    return [[255, 255, 255]];
  };
  const unnamed = [...document.querySelectorAll('input, textarea, select, button, [role="button"]')]
    .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby') && !e.textContent.trim())
    .map((e) => e.id || e.outerHTML.slice(0, 60));
  const lowContrast = [];
  let texts = 0;
  for (const e of document.querySelectorAll('body *')) {
    if (![...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())) continue;
    const s = getComputedStyle(e);
    if (s.visibility === 'hidden' || e.offsetParent === null && s.position !== 'fixed') continue;
    texts++;
    const size = parseFloat(s.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(s.fontWeight) >= 700);
    const worst = Math.min(...backgrounds(e).map((b) => ratio(rgb(s.color).slice(0, 3), b)));
    if (worst < (large ? 3 : 4.5)) lowContrast.push(e.tagName + ' "' + e.textContent.trim().slice(0, 40) + '" ' + worst.toFixed(2));
  }
  return { unnamed, lowContrast, texts };
})()`;

describe('the verify page in a browser', { skip: existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (set CLOISTER_CHROMIUM)` }, () => {
  let relay: Relay;
  let closeServer: (() => Promise<void>) | undefined;
  let site: StaticServer;
  let logged: StaticServer;
  let other: StaticServer;
  let publisherKey: string;
  let otherKey: string;
  let page: ChromiumPage;
  let measurement: string;
  let fromDisk: string;
  let web: string;
  let loggedDir: string;

  before(async () => {
    measurement = (await simulatedMeasurementsHex())['sev-snp'];
    loggedDir = await publishedLog('log', measurement, true);
    const otherDir = await publishedLog('other-log', '5e'.repeat(48), false);
    publisherKey = readFileSync(join(loggedDir, 'publisher.pub'), 'utf8');
    otherKey = readFileSync(join(otherDir, 'publisher.pub'), 'utf8');
    logged = await serveDirectory(loggedDir);
    other = await serveDirectory(otherDir);
    let gateway = '';
    assert.equal(await serveCommand(['--simulated', '--port', '0', '--models', 'none'], { ...processIo, stderr: () => undefined }, { stopSignal: (fn) => (closeServer = fn), onListening: (u) => (gateway = u), logDestination: { write: () => true } as unknown as NodeJS.WritableStream }), 0);
    relay = await startRelay({ gateways: [{ name: 'default', origin: gateway }], port: 0 });
    web = join(work, 'web');
    await buildWeb(web);
    fromDisk = pathToFileURL(join(web, 'index.html')).href;
    site = await serveDirectory(web);
    mkdirSync(SCREENSHOTS, { recursive: true });
    page = await ChromiumPage.open();
  });

  after(async () => {
    page.close();
    await site.close();
    await logged.close();
    await other.close();
    await relay.close();
    await closeServer?.();
  });

  async function visit(query: Record<string, string>, screenshot: string, at = `${site.url}index.html`): Promise<PageState> {
    await page.navigate(`${at}?${new URLSearchParams(query).toString()}`);
    await page.waitFor(DONE);
    await page.screenshot(join(SCREENSHOTS, screenshot));
    return page.evaluate<PageState>(READ_STATE);
  }

  it('accepts the local server through the relay with its measurement in the log, and tells what it runs: AMD product, TCB, measurement, log entry and checkpoint, source commit, model packs, keys; SIMULATED on top', async () => {
    const s = await visit({ server: `${relay.url}/default`, log: logged.url, publisherKey, simulated: '1' }, 'accepted.png');
    assert.equal(s.verdict, 'accepted', s.text);
    assert.equal(s.simulatedBanner, true);
    assert.match(s.fields.hardware ?? '', /AMD Milan processor \(SEV-SNP\), certified by its own development root "ARK-Milan", not AMD's/);
    assert.match(s.fields.tcb ?? '', /bootloader \d+/);
    assert.match(s.fields.measurement ?? '', new RegExp(`${measurement}.*Published in the transparency log cloister\\.local/log: entry 0, in a checkpoint of 1 entries`));
    assert.match(s.fields.source ?? '', new RegExp(COMMIT));
    assert.match(s.fields.models ?? '', new RegExp(`as its manifest published in the log lists them: ocr pp-ocrv4-1 \\(SHA-256 ${'22'.repeat(32)}\\)$`));
    assert.match(s.fields.keys ?? '', /key ID \d+, X25519 with HKDF-SHA256 \+ /);
    assert.match(s.fields.keep ?? '', /Save attestation\.der, evidence\.json to check it again later/);
    assert.deepEqual(s.codes, []);
    process.stdout.write(`# screenshots of the verify page: ${SCREENSHOTS}\n`);
  });

  it('is accessible: every control named, the whole page reachable by keyboard (the drop zone opens the file input on Enter), every text at WCAG AA contrast in each state', async () => {
    const audit = async (): Promise<{ unnamed: string[]; lowContrast: string[]; texts: number }> => page.evaluate(ACCESSIBILITY_AUDIT);
    // A rejected state (failures in red) and an accepted one under the SIMULATED banner (green, the striped yellow).
    for (const query of [{ server: `${relay.url}/default`, log: other.url, publisherKey: otherKey, simulated: '1' }, { server: `${relay.url}/default`, log: logged.url, publisherKey, simulated: '1' }]) {
      await visit(query, 'accessibility.png');
      const a = await audit();
      assert.deepEqual(a.unnamed, [], 'every control has an accessible name');
      assert.deepEqual(a.lowContrast, [], 'every text meets WCAG AA contrast');
      assert.ok(a.texts > 40, `the audit saw the page's texts (${a.texts})`);
    }
    // The audit's own control: a grey text and an unlabelled input, added for a moment, are both caught (styled from
    // script: the page's Content-Security-Policy refuses style attributes).
    await page.evaluate("(() => { const p = document.createElement('p'); p.id = 'grey'; p.textContent = 'pale words'; p.style.color = '#aaa'; const i = document.createElement('input'); i.id = 'nameless'; document.querySelector('main').append(p, i); })()");
    const control = await audit();
    assert.deepEqual(control.unnamed, ['nameless']);
    assert.deepEqual(control.lowContrast.map((l) => l.replace(/ [\d.]+$/, '')), ['P "pale words"']);
    await page.evaluate("document.getElementById('grey').remove(); document.getElementById('nameless').remove()");
    await page.evaluate("document.activeElement?.blur(); window.scrollTo(0, 0); document.getElementById('files').click = () => { window.chosen = true; }");
    const order: string[] = [];
    for (let i = 0; i < 16; i++) {
      await pressKey('Tab');
      order.push(await page.evaluate<string>("document.activeElement?.id || document.activeElement?.tagName || ''"));
    }
    const expected = ['server', 'log', 'publisher-key', 'log-key', 'witnesses', 'measurements', 'measurements-file', 'simulated', 'drop', 'files'];
    assert.deepEqual(order.filter((id) => expected.includes(id)).filter((id, i, all) => all.indexOf(id) === i), expected, `Tab reaches every control in order: ${order.join(', ')}`);
    assert.ok(order.includes('BUTTON'), 'and the submit button');
    await page.evaluate("document.getElementById('drop').focus()");
    await pressKey('Enter');
    assert.equal(await page.evaluate<boolean>('window.chosen === true'), true, 'Enter on the drop zone opens the file input');
  });

  /** A key pressed and released, as the keyboard would. */
  async function pressKey(key: 'Tab' | 'Enter'): Promise<void> {
    const code = key === 'Tab' ? 9 : 13;
    await page.send('Input.dispatchKeyEvent', { type: 'keyDown', key, code: key, windowsVirtualKeyCode: code, ...(key === 'Enter' ? { text: '\r' } : {}) });
    await page.send('Input.dispatchKeyEvent', { type: 'keyUp', key, code: key, windowsVirtualKeyCode: code });
  }

  it('refuses a server whose measurement the log does not list: MEASUREMENT_NOT_LOGGED in plain words', async () => {
    const s = await visit({ server: `${relay.url}/default`, log: other.url, publisherKey: otherKey, simulated: '1' }, 'not-logged.png');
    assert.equal(s.verdict, 'rejected', s.text);
    assert.deepEqual(s.codes, ['MEASUREMENT_NOT_LOGGED']);
    assert.match(s.text, /is not published in the transparency log you trust/);
    assert.match(s.fields.measurement ?? '', /Not in the transparency log/);
  });

  it('refuses a simulated server unless simulation is allowed (UNTRUSTED_ROOT, SIMULATED still shown), and with it allowed accepts it under the SIMULATED banner, the page opened from disk', async () => {
    const refused = await visit({ server: `${relay.url}/default`, log: logged.url, publisherKey }, 'simulated-refused.png');
    assert.equal(refused.verdict, 'rejected', refused.text);
    assert.deepEqual(refused.codes, ['UNTRUSTED_ROOT']);
    assert.equal(refused.simulatedBanner, true);
    assert.match(refused.text, /not signed by AMD or Intel/);
    // Opened from disk, as the local stack's banner says: the page needs no web server.
    const allowed = await visit({ server: `${relay.url}/default`, simulated: '1' }, 'simulated-allowed.png', fromDisk);
    assert.equal(allowed.verdict, 'accepted', allowed.text);
    assert.equal(allowed.simulatedBanner, true);
    assert.match(allowed.fields.measurement ?? '', /simulated TEE’s own measurement/);
  });

  it('verifies an evidence bundle and an attestation certificate dropped in offline, chains a raw report with the certificates dropped beside it (never to the roots simulated evidence carries), and refuses the bundle with one byte of the report changed (REPORT_SIGNATURE_INVALID)', async () => {
    const certificate = new Uint8Array(await (await fetch(`${relay.url}/default${ATTESTATION_CERTIFICATE_PATH}`)).arrayBuffer());
    const cmw = parseCertificate(certificate).extensions.get(ID_PE_CMW);
    assert.ok(cmw !== undefined);
    const bundle = decodeRaTlsExtension(cmw.value).bundle;
    const good = join(work, 'evidence.json');
    writeFileSync(good, bundle);
    const json = JSON.parse(new TextDecoder().decode(bundle)) as { evidence: string; certificates: string[] };
    const report = fromBase64(json.evidence);
    report[0x90] = (report[0x90] ?? 0) ^ 1;
    const tampered = join(work, 'tampered-evidence.json');
    writeFileSync(tampered, JSON.stringify({ ...json, evidence: toBase64(report) }));

    await page.navigate(`${site.url}index.html?simulated=1`);
    await page.waitFor(`document.getElementById('files')`);
    await page.setFiles('#files', [good]);
    await page.waitFor(DONE);
    const accepted = await page.evaluate<PageState>(READ_STATE);
    assert.equal(accepted.verdict, 'accepted', accepted.text);
    assert.match(accepted.text, /The evidence in evidence\.json proved/);

    // A raw report with its certificates beside it, as verify-evidence --certs takes them: the chain they make is
    // checked, and ends in the development root, which a raw report (not marked simulated) never gets trusted.
    const raw = join(work, 'report.bin');
    writeFileSync(raw, fromBase64(json.evidence));
    const certificates = join(work, 'certificates.pem');
    writeFileSync(certificates, json.certificates.map((c) => (c.includes('-----BEGIN ') ? c : `-----BEGIN CERTIFICATE-----\n${c}\n-----END CERTIFICATE-----\n`)).join(''));
    await page.setFiles('#files', [raw]);
    await page.waitFor(`${DONE} && document.getElementById('result').innerText.includes('report.bin')`);
    assert.deepEqual((await page.evaluate<PageState>(READ_STATE)).codes, ['MISSING_CERTIFICATE']);
    await page.setFiles('#files', [raw, certificates]);
    await page.waitFor(`${DONE} && document.getElementById('result').innerText.includes('certificates.pem')`);
    const fromReport = await page.evaluate<PageState>(READ_STATE);
    assert.deepEqual(fromReport.codes, ['UNTRUSTED_ROOT'], fromReport.text);
    assert.equal(fromReport.simulatedBanner, false);
    assert.match(fromReport.text, /the chain ends in "ARK-Milan", which is not a trusted root/);

    const der = join(work, 'attestation.der');
    writeFileSync(der, certificate);
    await page.setFiles('#files', [der]);
    await page.waitFor(`${DONE} && document.getElementById('result').innerText.includes('attestation.der')`);
    const fromCertificate = await page.evaluate<PageState>(READ_STATE);
    assert.equal(fromCertificate.verdict, 'accepted', fromCertificate.text);
    assert.match(fromCertificate.text, /The attestation certificate in attestation\.der proved/);
    assert.match(fromCertificate.fields.keys ?? '', /key ID \d+/);

    await page.setFiles('#files', [tampered]);
    await page.waitFor(`${DONE} && document.getElementById('result').innerText.includes('tampered-evidence.json')`);
    await page.screenshot(join(SCREENSHOTS, 'tampered.png'));
    const refused = await page.evaluate<PageState>(READ_STATE);
    assert.equal(refused.verdict, 'rejected', refused.text);
    assert.deepEqual(refused.codes, ['REPORT_SIGNATURE_INVALID']);
    assert.match(refused.text, /altered after the hardware signed it/);
  });

  it('the convenience copy `cloister serve --verify-page` serves at /verify/ says it is served by a Cloister server, and offers that server', async () => {
    let url = '';
    let close: (() => Promise<void>) | undefined;
    assert.equal(await serveCommand(['--simulated', '--http', '--port', '0', '--models', 'none', '--verify-page', web], { ...processIo, stderr: () => undefined }, { stopSignal: (fn) => (close = fn), onListening: (u) => (url = u), logDestination: { write: () => true } as unknown as NodeJS.WritableStream }), 0);
    try {
      await page.navigate(`${url}/verify/`);
      await page.waitFor(`!document.getElementById('served-copy').hidden`);
      await page.screenshot(join(SCREENSHOTS, 'served-copy.png'));
      assert.equal(await page.evaluate<string>(`document.getElementById('server').value`), url);
    } finally {
      await close?.();
    }
  });

  it('holds the log\'s checkpoint to the witnesses named: refused until a witness cosigned it, then accepted, naming the witness', async () => {
    const witness = await startWitness(work, loggedDir);
    try {
      const query = { server: `${relay.url}/default`, log: logged.url, publisherKey, witness: witness.vkey, simulated: '1' };
      const unwitnessed = await visit(query, 'witness-missing.png');
      assert.deepEqual(unwitnessed.codes, ['WITNESS_COSIGNATURES_MISSING'], unwitnessed.text);
      assert.match(unwitnessed.text, /Not enough of the witnesses you named have cosigned/);
      const refreshed = await cli('publish', '--refresh', '--log', loggedDir, '--witness', `${witness.url}=${witness.vkey}`);
      assert.equal(refreshed.code, 0, refreshed.stderr);
      const witnessed = await visit(query, 'witnessed.png');
      assert.equal(witnessed.verdict, 'accepted', witnessed.text);
      assert.match(witnessed.fields.measurement ?? '', /signed by the log and cosigned by the witnesses you named: witness\.test\/w1\./);
    } finally {
      await witness.stop();
    }
  });

  it('tells an Intel TDX server\'s story: the quote, Intel\'s TCB status', async () => {
    let gateway = '';
    let close: (() => Promise<void>) | undefined;
    assert.equal(await serveCommand(['--simulated', '--platform', 'tdx', '--port', '0', '--models', 'none'], { ...processIo, stderr: () => undefined }, { stopSignal: (fn) => (close = fn), onListening: (u) => (gateway = u), logDestination: { write: () => true } as unknown as NodeJS.WritableStream }), 0);
    const tdxRelay = await startRelay({ gateways: [{ name: 'default', origin: gateway }], port: 0 });
    try {
      const s = await visit({ server: `${tdxRelay.url}/default`, simulated: '1' }, 'tdx-accepted.png');
      assert.equal(s.verdict, 'accepted', s.text);
      assert.match(s.fields.hardware ?? '', /an Intel processor with TDX \(TDX 1\.[05], quote v4\), certified by its own development root/);
      assert.match(s.fields.tcb ?? '', /^UpToDate: .*\(TCB evaluation data number \d+\)/);
      assert.match(s.fields.measurement ?? '', /simulated TEE’s own measurement/);
    } finally {
      await tdxRelay.close();
      await close?.();
    }
  });

  it('asked nothing of a third party in all of the above: every request went to loopback (the page, the relays, the logs, the servers), to disk, or stayed in the page', () => {
    const elsewhere = page.requests.filter((u) => !/^(?:http:\/\/127\.0\.0\.1:\d+\/|file:|blob:|data:)/.test(u));
    assert.deepEqual(elsewhere, []);
    assert.ok(page.requests.length > 20, page.requests.join('\n'));
  });
});
