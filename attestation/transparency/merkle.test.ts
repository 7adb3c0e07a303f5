import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { fromBase64, fromHex, toBase64 } from '../bytes.js';
import { VerificationError } from '../errors.js';
import { webCryptoHasher } from '../hash.js';
import { TRANSPARENCY_VECTORS } from '../testing/vectors.js';
import {
  consistencyProofSubtrees,
  EMPTY_ROOT,
  inclusionProofSubtrees,
  leafHash,
  merkleRoot,
  subtreeHash,
  verifyConsistency,
  verifyInclusion,
  type NodeSource,
} from './merkle.js';

const hasher = webCryptoHasher;
const VECTORS = `${TRANSPARENCY_VECTORS}transparency-dev-merkle/`;

/** The eight leaves of the RFC 6962 reference tree that transparency-dev/merkle's vectors are made from. */
const RFC6962_LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map((h) => fromHex(h));

interface InclusionVector {
  readonly leafIdx: number;
  readonly treeSize: number;
  readonly root: string;
  readonly leafHash: string;
  readonly proof: readonly string[] | null;
  readonly desc: string;
  readonly wantErr: boolean;
}

interface ConsistencyVector {
  readonly size1: number;
  readonly size2: number;
  readonly root1: string;
  readonly root2: string;
  readonly proof: readonly string[] | null;
  readonly desc: string;
  readonly wantErr: boolean;
}

function vectors<T>(kind: 'inclusion' | 'consistency'): [string, T][] {
  return readdirSync(`${VECTORS}${kind}`, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => [`${kind}/${f}`, JSON.parse(readFileSync(`${VECTORS}${kind}/${f}`, 'utf8')) as T]);
}

const proofOf = (p: readonly string[] | null): Uint8Array[] => (p ?? []).map((h) => fromBase64(h));

/** Full-subtree hashes straight from a list of leaf hashes: the reference the tile reader must agree with. */
const nodesOf = (leaves: readonly Uint8Array[]): NodeSource => (level, index) => merkleRoot(hasher, leaves.slice(index * 2 ** level, (index + 1) * 2 ** level));

async function rejects(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => e instanceof VerificationError && e.code === code);
}

describe('RFC 9162 Merkle tree', () => {
  it('hashes the RFC 6962 reference tree to the root transparency-dev/merkle vectors use, and the empty tree to SHA-256("")', async () => {
    const leaves = await Promise.all(RFC6962_LEAVES.map((l) => leafHash(hasher, l)));
    assert.equal(toBase64(await merkleRoot(hasher, leaves)), 'XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=');
    assert.deepEqual(await merkleRoot(hasher, []), EMPTY_ROOT);
    assert.deepEqual(await hasher.digest('SHA-256', [new Uint8Array()]), EMPTY_ROOT);
  });

  describe('transparency-dev/merkle inclusion vectors', () => {
    for (const [name, v] of vectors<InclusionVector>('inclusion')) {
      it(`${name}: ${v.desc} -> ${v.wantErr ? 'INCLUSION_PROOF_INVALID' : 'verifies'}`, async () => {
        const p = verifyInclusion(hasher, fromBase64(v.leafHash), { index: v.leafIdx, size: v.treeSize, hashes: proofOf(v.proof) }, fromBase64(v.root));
        if (v.wantErr) await rejects(p, 'INCLUSION_PROOF_INVALID');
        else await p;
      });
    }
  });

  describe('transparency-dev/merkle consistency vectors', () => {
    for (const [name, v] of vectors<ConsistencyVector>('consistency')) {
      it(`${name}: ${v.desc} -> ${v.wantErr ? 'CONSISTENCY_PROOF_INVALID' : 'verifies'}`, async () => {
        const p = verifyConsistency(hasher, { size: v.size1, rootHash: fromBase64(v.root1) }, { size: v.size2, rootHash: fromBase64(v.root2) }, proofOf(v.proof));
        if (v.wantErr) await rejects(p, 'CONSISTENCY_PROOF_INVALID');
        else await p;
      });
    }
  });

  it('builds the very proofs of the happy-path vectors from the reference tree', async () => {
    const leaves = await Promise.all(RFC6962_LEAVES.map((l) => leafHash(hasher, l)));
    let checked = 0;
    for (const [name, v] of vectors<InclusionVector>('inclusion')) {
      if (v.wantErr || v.treeSize > leaves.length) continue;
      const tree = leaves.slice(0, v.treeSize);
      const built = await Promise.all(inclusionProofSubtrees(v.leafIdx, v.treeSize).map((s) => subtreeHash(hasher, s, nodesOf(tree))));
      assert.deepEqual(built.map(toBase64), v.proof ?? [], name);
      checked++;
    }
    for (const [name, v] of vectors<ConsistencyVector>('consistency')) {
      if (v.wantErr || v.size1 === 0 || v.size1 === v.size2 || v.size2 > leaves.length) continue;
      const built = await Promise.all(consistencyProofSubtrees(v.size1, v.size2).map((s) => subtreeHash(hasher, s, nodesOf(leaves.slice(0, v.size2)))));
      assert.deepEqual(built.map(toBase64), v.proof ?? [], name);
      checked++;
    }
    assert.ok(checked >= 8, `only ${checked} happy paths compared`);
  });

  it('names the leaf index, tree size and both roots when an inclusion proof leads elsewhere', async () => {
    const leaves = await Promise.all(RFC6962_LEAVES.map((l) => leafHash(hasher, l)));
    const hashes = await Promise.all(inclusionProofSubtrees(2, 8).map((s) => subtreeHash(hasher, s, nodesOf(leaves))));
    const otherRoot = await merkleRoot(hasher, leaves.slice(0, 7));
    await assert.rejects(verifyInclusion(hasher, leaves[2] as Uint8Array, { index: 2, size: 8, hashes }, otherRoot), (e: unknown) => {
      assert.ok(e instanceof VerificationError);
      assert.equal(e.code, 'INCLUSION_PROOF_INVALID');
      assert.match(e.message, /leaf 2 leads to root \S+ at tree size 8, not to \S+/);
      assert.equal(e.expected, toBase64(otherRoot));
      return true;
    });
  });
});

describe('Merkle proofs (properties)', () => {
  const tree = fc.uint8Array({ minLength: 1, maxLength: 4 }).chain((seed) =>
    fc.integer({ min: 1, max: 300 }).map((size) => Array.from({ length: size }, (_, i) => Uint8Array.of(...seed, i & 0xff, i >> 8))),
  );

  it('every inclusion proof built from the tree verifies, and fails once a hash or the index changes', async () => {
    await fc.assert(
      fc.asyncProperty(tree, fc.nat(), fc.nat(), fc.nat({ max: 255 }), async (entries, pick, flipAt, bit) => {
        const leaves = await Promise.all(entries.map((e) => leafHash(hasher, e)));
        const root = await merkleRoot(hasher, leaves);
        const index = pick % leaves.length;
        const hashes = await Promise.all(inclusionProofSubtrees(index, leaves.length).map((s) => subtreeHash(hasher, s, nodesOf(leaves))));
        const leaf = leaves[index] as Uint8Array;
        await verifyInclusion(hasher, leaf, { index, size: leaves.length, hashes }, root);
        if (hashes.length > 0) {
          const mutated = hashes.map((h, i) => (i === flipAt % hashes.length ? h.map((b, j) => (j === bit % 32 ? b ^ 0x01 : b)) : h));
          await rejects(verifyInclusion(hasher, leaf, { index, size: leaves.length, hashes: mutated }, root), 'INCLUSION_PROOF_INVALID');
          await rejects(verifyInclusion(hasher, leaf, { index: (index + 1) % leaves.length, size: leaves.length, hashes }, root), 'INCLUSION_PROOF_INVALID');
        }
        // Not checked: the same proof at another tree size can lead to the same root (leaf 0 of 3 and of 4); the
        // signed checkpoint is what binds a root to its size.
      }),
      { numRuns: 60 },
    );
  });

  it('every consistency proof built from the tree verifies, and fails against another old root or a changed hash', async () => {
    await fc.assert(
      fc.asyncProperty(tree, fc.nat(), fc.nat(), async (entries, pick, flipAt) => {
        const leaves = await Promise.all(entries.map((e) => leafHash(hasher, e)));
        const older = 1 + (pick % leaves.length);
        const oldRoot = await merkleRoot(hasher, leaves.slice(0, older));
        const newRoot = await merkleRoot(hasher, leaves);
        const proof = older === leaves.length ? [] : await Promise.all(consistencyProofSubtrees(older, leaves.length).map((s) => subtreeHash(hasher, s, nodesOf(leaves))));
        await verifyConsistency(hasher, { size: older, rootHash: oldRoot }, { size: leaves.length, rootHash: newRoot }, proof);
        const forked = await merkleRoot(hasher, [...leaves.slice(0, older - 1), await leafHash(hasher, Uint8Array.of(0xff, 0xfe, 0xfd, 0xfc, 0xfb))]);
        await rejects(verifyConsistency(hasher, { size: older, rootHash: forked }, { size: leaves.length, rootHash: newRoot }, proof), 'CONSISTENCY_PROOF_INVALID');
        if (proof.length > 0) {
          const mutated = proof.map((h, i) => (i === flipAt % proof.length ? h.map((b, j) => (j === 0 ? b ^ 0x80 : b)) : h));
          await rejects(verifyConsistency(hasher, { size: older, rootHash: oldRoot }, { size: leaves.length, rootHash: newRoot }, mutated), 'CONSISTENCY_PROOF_INVALID');
        }
      }),
      { numRuns: 60 },
    );
  });
});
