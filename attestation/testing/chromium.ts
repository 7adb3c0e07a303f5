// Test support: loads a page in headless Chromium and returns the JSON the page writes into its body
// as "RESULT {...}" (pageResult), or POSTs to the test's server (pagePosted, for pages that wait on the network). Tests skip themselves when CHROMIUM does not exist (.ci/run installs it).
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const CHROMIUM = process.env.CLOISTER_CHROMIUM ?? '/usr/bin/chromium';

export async function pageResult(url: string): Promise<Record<string, unknown>> {
  const { stdout } = await promisify(execFile)(
    CHROMIUM,
    ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
      `--user-data-dir=${mkdtempSync(join(tmpdir(), 'cloister-chromium-'))}`, '--virtual-time-budget=30000', '--dump-dom', url],
    { timeout: 60_000 },
  );
  const m = /RESULT (\{.*\})/.exec(stdout);
  assert.ok(m, `no result in the page: ${stdout.slice(0, 500)}`);
  return JSON.parse((m[1] as string).replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&')) as Record<string, unknown>;
}

/**
 * Opens `url` in headless Chromium on the real clock and resolves with the JSON the page POSTs, which the caller's
 * server hands to `posted`; Chromium is stopped then, or after `timeoutMs`. For pages that wait on the network:
 * pageResult's --virtual-time-budget jumps a waiting page's clock to its next timer, so time limits inside the page
 * fire while its fetches are still on their way.
 */
export async function pagePosted(url: string, posted: Promise<string>, timeoutMs = 90_000): Promise<Record<string, unknown>> {
  const chromium = spawn(CHROMIUM, ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${mkdtempSync(join(tmpdir(), 'cloister-chromium-'))}`, url], { stdio: 'ignore' });
  let timer: NodeJS.Timeout | undefined;
  try {
    const text = await Promise.race([
      posted,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => { reject(new Error(`the page ${url} posted no result within ${timeoutMs} ms`)); }, timeoutMs);
      }),
    ]);
    return JSON.parse(text) as Record<string, unknown>;
  } finally {
    clearTimeout(timer);
    chromium.kill('SIGKILL');
  }
}

/** The import map a page needs for attestation/ modules that use @hpke (served from /node_modules/@hpke/). */
export const HPKE_IMPORT_MAP = `<script type="importmap">${JSON.stringify({
  imports: {
    '@hpke/core': '/node_modules/@hpke/core/esm/mod.js',
    '@hpke/common': '/node_modules/@hpke/common/esm/mod.js',
    '@hpke/chacha20poly1305': '/node_modules/@hpke/chacha20poly1305/esm/mod.js',
  },
})}</script>`;

const CHECKOUT = fileURLToPath(new URL('../../../', import.meta.url));
const MODULE_TYPES: Readonly<Record<string, string>> = { '.js': 'text/javascript' };

/**
 * Answers a page's request for a module of this checkout, /dist/attestation/... or /node_modules/@hpke/... (404 when
 * absent); false, and nothing sent, for any other path.
 */
export function serveModule(path: string, res: ServerResponse): boolean {
  if (!path.startsWith('/dist/attestation/') && !path.startsWith('/node_modules/@hpke/')) return false;
  const file = join(CHECKOUT, normalize(path));
  if (!existsSync(file)) res.writeHead(404).end();
  else res.writeHead(200, { 'content-type': MODULE_TYPES[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  return true;
}
