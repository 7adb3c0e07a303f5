// The newest checkpoint seen per log, kept in this browser (localStorage), so that a log showing this browser an
// older or a different history than before is caught (CHECKPOINT_ROLLBACK, CHECKPOINT_FORK); the Node CLI keeps the
// same in its state directory. Without localStorage (a private window may refuse it), nothing is kept.
import { fromHex, toHex } from '../../attestation/bytes.js';
import type { CheckpointStore, StoredCheckpoint } from '../../attestation/transparency/checkpointStore.js';

const PREFIX = 'cloister-verify/checkpoint/';

interface Saved {
  readonly origin: string;
  readonly size: number;
  readonly rootHash: string;
  readonly note: string;
}

function storage(): Storage | undefined {
  try {
    return globalThis.localStorage;
  } catch {
    return undefined;
  }
}

export class BrowserCheckpointStore implements CheckpointStore {
  latest(origin: string): Promise<StoredCheckpoint | undefined> {
    const text = storage()?.getItem(PREFIX + origin);
    if (text === null || text === undefined) return Promise.resolve(undefined);
    const s = JSON.parse(text) as Saved;
    return Promise.resolve({ origin: s.origin, size: s.size, rootHash: fromHex(s.rootHash), note: s.note });
  }

  save(checkpoint: StoredCheckpoint): Promise<void> {
    const saved: Saved = { origin: checkpoint.origin, size: checkpoint.size, rootHash: toHex(checkpoint.rootHash), note: checkpoint.note };
    storage()?.setItem(PREFIX + checkpoint.origin, JSON.stringify(saved));
    return Promise.resolve();
  }
}
