// The transparency log's operator side (docs/transparency.md): the tile log on disk, the witness core, note keys on
// node:crypto, and the checkpoint store on disk that clients and witnesses keep.
export { TileLog, CHECKPOINT_FILE, type TileLogOptions, type AppendResult } from './tileLog.js';
export { Witness, WitnessConflict, handleAddCheckpoint, witnessStatus, type WitnessOptions, type WitnessedLog, type WitnessResponse } from './witness.js';
export { startWitnessServer, witnessHandler, ADD_CHECKPOINT_PATH, type RunningWitness, type WitnessServerOptions } from './witnessServer.js';
export { cosign, type CosignableLog, type CosignOptions, type CosignResult, type WitnessEndpoint, type WitnessOutcome } from './witnessClient.js';
export { FileCheckpointStore, originHash } from './fileCheckpointStore.js';
export { generateNoteKey, logNoteSigner, witnessCosigner } from './nodeNoteKeys.js';
export { statementSigner, signStatement, type StatementSigner } from './statementSigner.js';
