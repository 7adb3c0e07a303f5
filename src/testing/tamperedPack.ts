// Test support: a copy of the VAD pack (image/models/vad.json) in a fresh folder whose model has its last bit
// flipped, so that its SHA-256 no longer matches the manifest. Returns the folder.
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PACKS_DIR } from '../inference/manifest.js';

export function tamperedVadPack(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cloister-pack-'));
  const manifest = JSON.parse(readFileSync(join(PACKS_DIR, 'vad.json'), 'utf8')) as { models: { file: string }[] };
  const original = join(PACKS_DIR, '..', '..', manifest.models[0]?.file ?? '');
  const copy = join(dir, 'model.onnx');
  copyFileSync(original, copy);
  const bytes = readFileSync(copy);
  bytes[bytes.length - 1] = (bytes.at(-1) ?? 0) ^ 1;
  writeFileSync(copy, bytes);
  (manifest.models[0] as { file: string }).file = copy;
  writeFileSync(join(dir, 'vad.json'), JSON.stringify(manifest));
  return dir;
}
