// Test support: renders lines of text into PNG images with headless Chromium (black on white, a common
// sans-serif font), so the OCR tests and the memory scrape use images the suite makes itself.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CHROMIUM } from '../../attestation/testing/chromium.js';

export { CHROMIUM };

export interface RenderOptions {
  readonly width?: number;
  readonly height?: number;
  readonly fontSize?: number;
}

const escape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** One PNG per entry of `images` (each a list of lines), rendered in sequence by one Chromium per image. */
export async function renderTextImages(images: readonly (readonly string[])[], options: RenderOptions = {}): Promise<Uint8Array[]> {
  const width = options.width ?? 640;
  const height = options.height ?? 360;
  const size = options.fontSize ?? 32;
  const dir = mkdtempSync(join(tmpdir(), 'cloister-render-'));
  try {
    const out: Uint8Array[] = [];
    for (const [i, lines] of images.entries()) {
      const html = `<!doctype html><html><body style="margin:24px;background:#fff;color:#000;font:${size}px 'DejaVu Sans',Arial,sans-serif;line-height:1.6">${lines.map((l) => `<div>${escape(l)}</div>`).join('')}</body></html>`;
      const file = join(dir, `${i}.png`);
      await promisify(execFile)(
        CHROMIUM,
        ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--force-device-scale-factor=1',
          `--user-data-dir=${join(dir, 'profile')}`, `--window-size=${width},${height}`, `--screenshot=${file}`, `data:text/html;base64,${Buffer.from(html).toString('base64')}`],
        { timeout: 60_000 },
      );
      out.push(new Uint8Array(readFileSync(file)));
    }
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
