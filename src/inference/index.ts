// Inference behind the gateway: model packs and their sessions, the tensor endpoint and the OCR pipeline,
// as gateway targets.
export { loadModelPack, loadModelPacks, parseModelPack, PACKS_DIR, type ModelPack, type ModelSpec, type TensorSpec } from './manifest.js';
export { openPack, openPacks, openEach, closePacks, runInto, ModelRunError, type LoadedModel, type LoadedPack } from './sessions.js';
export { checkInputs } from './checkInputs.js';
export { InferenceQueue, QueueClosedError, QueueFullError } from './queue.js';
export { inferenceRoutes, inThread, type InferenceService } from './routes.js';
export { localExecutor, localWork, runModel, type InferenceExecutor, type InferenceJob, type OcrRecognizer } from './work.js';
export { encodeTensors, decodeTensors, TENSORS_MEDIA_TYPE, type WireTensor } from './tensorCodec.js';
export { ocrRecognizer } from './ocrPack.js';
export { OcrPipeline } from './ocr/pipeline.js';
export { decodeImage, imageLabelProblem, ImageDecodeError, type RgbImage } from './ocr/image.js';
export { detectionInput, detectionBoxes, type TextBox } from './ocr/detect.js';
export { recognitionInput, ctcDecode, Dictionary } from './ocr/recognize.js';
export { WorkerPool, workersFor } from './workerPool.js';
