// Test support: bundled packs that declare only what their ONNX files declare (the VAD model's batch and
// sample count free, any sample rate; the OCR models' free dimensions unbounded), so that tensors the
// bundled manifests refuse reach ONNX Runtime, and it is ONNX Runtime that refuses them.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PACKS_DIR } from '../inference/manifest.js';

interface Manifest {
  models: { inputs: Record<string, unknown>[]; outputs: Record<string, unknown>[] }[];
}

const AS_DECLARED_BY_THE_MODEL: Readonly<Record<string, readonly (readonly number[])[]>> = {
  vad: [[-1, -1], [2, -1, 128], [], [-1, 1], [-1, -1, -1]],
};

/** The manifest `name`.json without the bounds and allowed values of its tensors (and, for VAD, with the model's own free dimensions). */
export function looseManifest(name: 'vad' | 'ocr'): unknown {
  const manifest = JSON.parse(readFileSync(join(PACKS_DIR, `${name}.json`), 'utf8')) as Manifest;
  const shapes = [...(AS_DECLARED_BY_THE_MODEL[name] ?? [])];
  for (const m of manifest.models) {
    for (const t of [...m.inputs, ...m.outputs]) {
      delete t.free;
      delete t.values;
      const shape = shapes.shift();
      if (shape !== undefined) t.shape = [...shape];
    }
  }
  return manifest;
}

/** A fresh folder holding looseManifest(name) as its only pack. */
export function loosePack(name: 'vad' | 'ocr'): string {
  const dir = mkdtempSync(join(tmpdir(), 'cloister-loose-'));
  writeFileSync(join(dir, `${name}.json`), JSON.stringify(looseManifest(name)));
  return dir;
}
