// Test support: renders lines of text into PNG images with headless Chromium (black on white, a common
// sans-serif font), so the OCR tests and the memory scrape use images the suite makes itself.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import pngjs from 'pngjs';
import { CHROMIUM } from '../../attestation/testing/chromium.js';

export { CHROMIUM };

export interface RenderOptions {
  readonly width?: number;
  readonly height?: number;
  readonly fontSize?: number;
}

const escape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * One PNG per entry of `images` (each a list of lines): all drawn on one page, stacked, by one Chromium
 * (a browser start costs half a second), then cut apart, so a burst of forty images takes one start.
 */
export async function renderTextImages(images: readonly (readonly string[])[], options: RenderOptions = {}): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  // A page taller than Chromium's largest texture (16384 px) would be cut off.
  const perPage = Math.max(1, Math.floor(16_384 / (options.height ?? 360)));
  for (let i = 0; i < images.length; i += perPage) out.push(...(await renderPage(images.slice(i, i + perPage), options)));
  return out;
}

async function renderPage(images: readonly (readonly string[])[], options: RenderOptions): Promise<Uint8Array[]> {
  const width = options.width ?? 640;
  const height = options.height ?? 360;
  const size = options.fontSize ?? 32;
  const dir = mkdtempSync(join(tmpdir(), 'cloister-render-'));
  try {
    const tiles = images.map((lines) => `<div style="box-sizing:border-box;width:${width}px;height:${height}px;overflow:hidden;padding:24px">${lines.map((l) => `<div>${escape(l)}</div>`).join('')}</div>`);
    const html = `<!doctype html><html><body style="margin:0;background:#fff;color:#000;font:${size}px 'DejaVu Sans',Arial,sans-serif;line-height:1.6">${tiles.join('')}</body></html>`;
    const file = join(dir, 'page.png');
    const page = join(dir, 'page.html');
    writeFileSync(page, html);
    await promisify(execFile)(
      CHROMIUM,
      ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--force-device-scale-factor=1',
        `--user-data-dir=${join(dir, 'profile')}`, `--window-size=${width},${height * images.length}`, `--screenshot=${file}`, pathToFileURL(page).href],
      { timeout: 60_000 },
    );
    const sheet = pngjs.PNG.sync.read(readFileSync(file));
    return images.map((_, i) => {
      const tile = new pngjs.PNG({ width, height });
      pngjs.PNG.bitblt(sheet, tile, 0, i * height, width, height, 0, 0);
      return new Uint8Array(pngjs.PNG.sync.write(tile));
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
