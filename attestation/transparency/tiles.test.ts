import assert from 'node:assert/strict';
import { hash } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ParseError, VerificationError } from '../errors.js';
import { webCryptoHasher, type Hasher } from '../hash.js';
import { entries, MemoryLog } from '../testing/memoryLog.js';
import { testNoteSigner } from '../testing/noteSigners.js';
import { onlyParseErrors } from '../testing/parseErrors.js';
import { inclusionProofSubtrees, leafHash, nodeHash, subtreeHash, verifyConsistency, verifyInclusion } from './merkle.js';
import { TileBuilder } from './tileBuilder.js';
import { decodeEntryBundle, encodeEntryBundle, parseTilePath, partialTiles, tileAt, tilePath, TileReader, type TileId } from './tiles.js';

/** SHA-256 without a thread hop, for the 65,000-entry tree (the SDK's default is WebCrypto). */
const fastHasher: Hasher = { digest: (_name, parts) => Promise.resolve(new Uint8Array(hash('sha256', Buffer.concat(parts), 'buffer'))) };

describe('tile paths and widths (C2SP tlog-tiles)', () => {
  it('writes indices in x-prefixed 3-digit groups and partial tiles with .p/<W>', () => {
    assert.equal(tilePath({ level: 0, index: 1234067, width: 256 }), 'tile/0/x001/x234/067');
    assert.equal(tilePath({ level: 2, index: 0, width: 1 }), 'tile/2/000.p/1');
    assert.equal(tilePath({ level: 'entries', index: 1000, width: 112 }), 'tile/entries/x001/000.p/112');
    for (const p of ['tile/0/x001/x234/067', 'tile/63/000', 'tile/entries/999.p/255', 'tile/1/x001/000.p/17']) assert.equal(tilePath(parseTilePath(p)), p);
  });

  it('refuses paths that are not the canonical path of a tile', () => {
    for (const p of ['tile/0/1234', 'tile/0/x000/001', 'tile/64/000', 'tile/01/000', 'tile/0/000.p/256', 'tile/0/000.p/0', 'tile/0/000.p/07', 'tile/0/x001', '/tile/0/000', 'tile/0/000/', 'tile/../000', 'tile/entries/000.p']) {
      assert.throws(() => parseTilePath(p), (e: unknown) => e instanceof ParseError && e.code === 'MALFORMED_TILE', p);
    }
    fc.assert(fc.property(fc.string(), (s) => { onlyParseErrors(() => parseTilePath(`tile/${s}`)); }), { numRuns: 300 });
  });

  it('has the tiles of the specification\'s examples: sizes 70,000 and 256', () => {
    const at = (t: TileId): string => `${t.level}/${t.index}/${t.width}`;
    assert.deepEqual(partialTiles(70000).map(at), ['0/273/112', '1/1/17', '2/0/1', 'entries/273/112']);
    assert.equal(tileAt(0, 272, 70000)?.width, 256);
    assert.equal(tileAt(1, 0, 70000)?.width, 256);
    assert.equal(tileAt(0, 274, 70000), undefined);
    assert.deepEqual(partialTiles(256).map(at), ['1/0/1']);
    assert.deepEqual(partialTiles(0), []);
  });

  it('encodes entry bundles with uint16 lengths and refuses truncated, short and long bundles', () => {
    const list = [new Uint8Array(0), Uint8Array.of(1, 2, 3), new Uint8Array(0xffff).fill(7)];
    const bundle = encodeEntryBundle(list);
    const tile = { level: 'entries', index: 0, width: 3 } as const;
    assert.deepEqual(decodeEntryBundle(bundle, tile), list);
    const malformed = (e: unknown): boolean => e instanceof ParseError && e.code === 'MALFORMED_TILE';
    assert.throws(() => decodeEntryBundle(bundle.subarray(0, bundle.length - 1), tile), malformed);
    assert.throws(() => decodeEntryBundle(bundle, { ...tile, width: 4 }), malformed);
    assert.throws(() => decodeEntryBundle(Uint8Array.of(...bundle, 0), tile), malformed);
    assert.throws(() => encodeEntryBundle([new Uint8Array(0x10000)]), RangeError);
  });
});

describe('proofs from tiles', () => {
  it('reads root, leaves, entries and proofs of a tree across three tile levels (65,536 + 300 entries) as the reference computes them', async () => {
    const builder = TileBuilder.empty(fastHasher);
    const files = new Map<string, Uint8Array>();
    const all = entries(65536 + 300);
    for (const w of await builder.append(all.slice(0, 70))) files.set(w.path, w.data);
    for (const w of await builder.append(all.slice(70))) files.set(w.path, w.data);
    const leaves = await Promise.all(all.map((e) => leafHash(fastHasher, e)));
    // every full subtree's hash, level by level from the leaves, without tiles
    const levels: Uint8Array[][] = [leaves];
    for (let below = leaves; below.length > 1; ) {
      const up: Uint8Array[] = [];
      for (let i = 0; i + 1 < below.length; i += 2) up.push(await nodeHash(fastHasher, below[i] as Uint8Array, below[i + 1] as Uint8Array));
      levels.push(up);
      below = up;
    }
    const nodes = (level: number, i: number): Promise<Uint8Array> => Promise.resolve(levels[level]?.[i] ?? assert.fail(`no node ${level}/${i}`));
    const root = await subtreeHash(fastHasher, { start: 0, end: all.length }, nodes);
    assert.deepEqual(await builder.rootHash(), root);
    const reader = new TileReader((p) => Promise.resolve(files.get(p) ?? assert.fail(`no ${p}`)), all.length, fastHasher);
    assert.deepEqual(await reader.rootHash(), root);
    for (const index of [0, 255, 256, 65535, 65536, all.length - 1]) {
      const proof = await reader.inclusionProof(index);
      assert.deepEqual(proof.hashes, await Promise.all(inclusionProofSubtrees(index, all.length).map((s) => subtreeHash(fastHasher, s, nodes))));
      await verifyInclusion(fastHasher, leaves[index] as Uint8Array, proof, root);
      assert.deepEqual(await reader.entry(index), all[index]);
    }
    const old = new TileReader((p) => Promise.resolve(files.get(p) ?? assert.fail(`no ${p}`)), 70, fastHasher);
    await verifyConsistency(fastHasher, { size: 70, rootHash: await old.rootHash() }, { size: all.length, rootHash: root }, await reader.consistencyProof(70));
  });

  it('builds proofs that verify for any tree and batches of appends; a changed tile byte never yields another proof that verifies (property)', async () => {
    const signer = await testNoteSigner('example.com/log');
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 4 }), fc.nat(), fc.nat(), fc.nat(), async (batches, pick, pickOld, flip) => {
        const log = new MemoryLog('example.com/log', signer);
        const sizes: number[] = [];
        for (const n of batches) {
          await log.append(...entries(n, sizes.length));
          sizes.push(log.size);
        }
        const reader = log.reader();
        const root = await reader.rootHash();
        const index = pick % log.size;
        const leaf = await leafHash(webCryptoHasher, await reader.entry(index));
        const proof = await reader.inclusionProof(index);
        await verifyInclusion(webCryptoHasher, leaf, proof, root);
        const older = sizes[pickOld % sizes.length] ?? assert.fail();
        const oldRoot = await log.reader(older).rootHash();
        await verifyConsistency(webCryptoHasher, { size: older, rootHash: oldRoot }, { size: log.size, rootHash: root }, await reader.consistencyProof(older));

        const hashTiles = [...log.files.keys()].filter((p) => !p.startsWith('tile/entries/'));
        const victim = hashTiles[flip % hashTiles.length] ?? assert.fail();
        const bytes = log.files.get(victim) ?? assert.fail();
        log.files.set(victim, bytes.map((b, i) => (i === flip % bytes.length ? b ^ 0x01 : b)));
        const tampered = log.reader();
        if (partialTiles(log.size).some((t) => tilePath(t) === victim)) assert.notDeepEqual(await tampered.rootHash(), root, `${victim} changed, the root did not`);
        const altered = await tampered.inclusionProof(index);
        if (!altered.hashes.every((h, i) => h.every((b, j) => b === proof.hashes[i]?.[j]))) {
          await assert.rejects(verifyInclusion(webCryptoHasher, leaf, altered, root), (e: unknown) => e instanceof VerificationError && e.code === 'INCLUSION_PROOF_INVALID');
        }
      }),
      { numRuns: 25 },
    );
  });
});
