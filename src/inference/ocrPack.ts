// The OCR pack (image/models/ocr.json) as a recognizer: its detection and recognition sessions and its
// dictionary asset, behind the OcrPipeline.
import { CloisterError } from '../../attestation/errors.js';
import { OcrPipeline } from './ocr/pipeline.js';
import { Dictionary } from './ocr/recognize.js';
import type { OcrRecognizer } from './work.js';
import type { LoadedPack } from './sessions.js';

export function ocrRecognizer(loaded: LoadedPack): OcrRecognizer {
  const detection = loaded.models.get('detection')?.session;
  const recognition = loaded.models.get('recognition')?.session;
  const dictionary = loaded.assets.get('dictionary');
  if (detection === undefined || recognition === undefined || dictionary === undefined) {
    throw new CloisterError('MODEL_PACK_INVALID', `pack ${loaded.pack.name}: an "ocr" pack needs models "detection" and "recognition" and the asset "dictionary"`, { field: 'models' });
  }
  return new OcrPipeline({ detection, recognition }, Dictionary.fromFile(dictionary));
}
