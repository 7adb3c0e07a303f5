// How fast the verify page (web/, docs/verify-page.md) loads and judges, in Debian's headless Chromium: the page as
// `npm run web` builds it, served over loopback HTTP, loaded LOADS times with the cache disabled, each load's
// navigation timing read from the page (DOMContentLoaded, load: the bundled verifier parsed and run); then the
// offline check of a file, an attestation certificate from `cloister serve --simulated` given to the page's file
// input, timed from the input to the verdict on the page. The numbers are what a visitor on this machine waits.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ChromiumPage } from '../src/testing/chromiumPage.js';
import { startServerProcess } from '../src/testing/serverProcess.js';
import { serveDirectory } from '../src/testing/staticFiles.js';
import { unauthenticatedFetch } from '../src/testing/unauthenticatedFetch.js';
import { summarize, type SuiteReport } from './measure.js';

const LOADS = 20;
const CHECKS = 10;
const DONE = "['accepted', 'rejected', 'error'].includes(document.getElementById('result')?.dataset.state)";

export async function verifyPageLoadSuite(): Promise<SuiteReport> {
  const web = mkdtempSync(join(tmpdir(), 'cloister-bench-web-'));
  // As `npm run web` builds it (the build scripts are not imported outside the CLI).
  execFileSync(process.execPath, [fileURLToPath(new URL('../scripts/web/buildWeb.js', import.meta.url)), '--out', web], { stdio: 'ignore' });
  const site = await serveDirectory(web);
  const server = await startServerProcess({ models: [], hardened: false });
  const page = await ChromiumPage.open();
  try {
    const certificate = join(web, 'attestation.der');
    writeFileSync(certificate, new Uint8Array(await (await unauthenticatedFetch(`${server.url}/.well-known/cloister/attestation`, { method: 'GET', headers: {} })).arrayBuffer()));
    await page.send('Network.setCacheDisabled', { cacheDisabled: true });
    const dcl: number[] = [];
    const load: number[] = [];
    for (let i = 0; i < LOADS; i++) {
      await page.navigate(`${site.url}index.html?n=${i}`);
      const t = await page.evaluate<{ dcl: number; load: number }>("(() => { const n = performance.getEntriesByType('navigation')[0]; return { dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd }; })()");
      dcl.push(t.dcl * 1e6);
      load.push(t.load * 1e6);
    }
    const check: number[] = [];
    for (let i = 0; i < CHECKS; i++) {
      await page.navigate(`${site.url}index.html?simulated=1&c=${i}`);
      await page.waitFor("document.getElementById('files')");
      await page.evaluate('window.__cloisterT0 = performance.now()');
      await page.setFiles('#files', [certificate]);
      await page.waitFor(DONE);
      const state = await page.evaluate<string>("document.getElementById('result').dataset.state");
      if (state !== 'accepted') throw new Error(`the page did not accept the certificate: ${state}`);
      check.push((await page.evaluate<number>('performance.now() - window.__cloisterT0')) * 1e6);
    }
    return {
      title: `The verify page in headless Chromium (${CHROMIUM_NAME}): ${LOADS} loads from loopback HTTP with the cache disabled, and ${CHECKS} offline checks of a dropped attestation certificate`,
      rows: [summarize('load: DOMContentLoaded', dcl), summarize('load: load event (the verifier parsed and run)', load), summarize('offline check of a certificate, input to verdict (read by polling every 100 ms)', check)],
      notes: ['Times from navigation start (loads) or from giving the file (check), in the page\'s own clock; ops/s is meaningless here, read the µs columns.'],
    };
  } finally {
    page.close();
    await server.stop();
    await site.close();
  }
}

const CHROMIUM_NAME = 'Debian chromium';
