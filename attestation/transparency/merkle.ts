// Merkle tree hashes and proofs of RFC 9162 section 2.1 (the RFC 6962 tree, which C2SP tlog-tiles and
// tlog-checkpoint use): SHA-256, leaf hash HASH(0x00 || entry), node hash HASH(0x01 || left || right), the empty
// tree's root HASH(""). Verification follows the algorithms of sections 2.1.3.2 (inclusion) and 2.1.4.2
// (consistency) step by step; proofs are built from RFC 9162's PATH and PROOF definitions (2.1.3.1, 2.1.4.1) as a
// list of subtrees whose hashes a node source supplies, so a tile client and the log that writes the tiles build
// them the same way (tiles.ts).
//
// Sizes and indices are JavaScript numbers, so trees up to 2^53 - 1 entries; bits are read with arithmetic, never
// with the 32-bit bitwise operators.
import { bytesEqual, toBase64 } from '../bytes.js';
import { VerificationError } from '../errors.js';
import type { Hasher } from '../hash.js';

export const HASH_SIZE = 32;

const LEAF_PREFIX = Uint8Array.of(0x00);
const NODE_PREFIX = Uint8Array.of(0x01);

/** SHA-256 of the empty string: the root hash of the tree of size 0. */
export const EMPTY_ROOT: Uint8Array = Uint8Array.from(
  [0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55],
);

export function leafHash(hasher: Hasher, entry: Uint8Array): Promise<Uint8Array> {
  return hasher.digest('SHA-256', [LEAF_PREFIX, entry]);
}

export function nodeHash(hasher: Hasher, left: Uint8Array, right: Uint8Array): Promise<Uint8Array> {
  return hasher.digest('SHA-256', [NODE_PREFIX, left, right]);
}

/**
 * MTH over a list of hashes taken as the leaves' hashes: pairs are hashed level by level and an odd last hash is
 * carried up unchanged, which gives RFC 9162's MTH (the left subtree is always the largest power of two). Used for
 * whole small trees and for the subtree a tile's hashes span.
 */
export async function merkleRoot(hasher: Hasher, hashes: readonly Uint8Array[]): Promise<Uint8Array> {
  if (hashes.length === 0) return EMPTY_ROOT;
  let level = hashes;
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(await nodeHash(hasher, level[i] as Uint8Array, level[i + 1] as Uint8Array));
    if (level.length % 2 === 1) next.push(level[level.length - 1] as Uint8Array);
    level = next;
  }
  return level[0] as Uint8Array;
}

const isOdd = (n: number): boolean => n % 2 === 1;
const half = (n: number): number => Math.floor(n / 2);

export function isPowerOfTwo(n: number): boolean {
  if (n < 1) return false;
  while (n % 2 === 0) n /= 2;
  return n === 1;
}

/** The largest power of two smaller than `n` (n >= 2): RFC 9162's k. */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function fail(code: 'INCLUSION_PROOF_INVALID' | 'CONSISTENCY_PROOF_INVALID', message: string, details: { expected?: string; actual?: string } = {}): never {
  throw new VerificationError(code, message, { field: code === 'INCLUSION_PROOF_INVALID' ? 'inclusionProof' : 'consistencyProof', ...details });
}

function checkSize(n: number, what: string, code: 'INCLUSION_PROOF_INVALID' | 'CONSISTENCY_PROOF_INVALID'): void {
  if (!Number.isSafeInteger(n) || n < 0) fail(code, `${what} ${n} is not an integer in 0..2^53-1`);
}

function checkHashes(hashes: readonly Uint8Array[], code: 'INCLUSION_PROOF_INVALID' | 'CONSISTENCY_PROOF_INVALID'): void {
  const i = hashes.findIndex((h) => h.length !== HASH_SIZE);
  if (i >= 0) fail(code, `proof hash ${i} is ${hashes[i]?.length} bytes, not ${HASH_SIZE}`);
}

/**
 * The walk up the tree both verifications take (RFC 9162 2.1.3.2 step 4, 2.1.4.2 step 6): each hash is a left
 * sibling when fn is odd or equal to sn, and then fn and sn shift right until fn is odd or 0; after each hash they
 * shift once more. `hash` combines the sibling on its side. Returns the final sn, or undefined when the path holds
 * more hashes than the tree has levels.
 */
async function climb(hashes: readonly Uint8Array[], fn: number, sn: number, hash: (sibling: Uint8Array, onLeft: boolean) => Promise<void> | void): Promise<number | undefined> {
  for (const p of hashes) {
    if (sn === 0) return undefined;
    const onLeft = isOdd(fn) || fn === sn;
    const pending = hash(p, onLeft);
    if (pending !== undefined) await pending;
    while (onLeft && !isOdd(fn) && fn !== 0) {
      fn = half(fn);
      sn = half(sn);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn;
}

export interface InclusionProof {
  /** The entry's index in the log, from 0. */
  readonly index: number;
  /** The size of the tree the proof leads to. */
  readonly size: number;
  /** The audit path, from the leaf's sibling up. */
  readonly hashes: readonly Uint8Array[];
}

/** RFC 9162 section 2.1.3.2: the root hash `proof` leads to from `leaf`, or INCLUSION_PROOF_INVALID when it has the wrong shape. */
export async function rootFromInclusionProof(hasher: Hasher, leaf: Uint8Array, proof: InclusionProof): Promise<Uint8Array> {
  const { index, size, hashes } = proof;
  checkSize(index, 'leaf index', 'INCLUSION_PROOF_INVALID');
  checkSize(size, 'tree size', 'INCLUSION_PROOF_INVALID');
  if (index >= size) fail('INCLUSION_PROOF_INVALID', `leaf index ${index} is not below tree size ${size}`);
  if (leaf.length !== HASH_SIZE) fail('INCLUSION_PROOF_INVALID', `leaf hash is ${leaf.length} bytes, not ${HASH_SIZE}`);
  checkHashes(hashes, 'INCLUSION_PROOF_INVALID');
  let r = leaf;
  const sync = hasher.digestSync;
  const sn = await climb(hashes, index, size - 1, sync === undefined
    ? async (p, onLeft) => { r = onLeft ? await nodeHash(hasher, p, r) : await nodeHash(hasher, r, p); }
    : (p, onLeft) => { r = sync('SHA-256', onLeft ? [NODE_PREFIX, p, r] : [NODE_PREFIX, r, p]); });
  if (sn === undefined) fail('INCLUSION_PROOF_INVALID', `inclusion proof for leaf ${index} in tree size ${size} has ${hashes.length} hashes, more than the path has levels`);
  if (sn !== 0) fail('INCLUSION_PROOF_INVALID', `inclusion proof for leaf ${index} in tree size ${size} has ${hashes.length} hashes, fewer than the path has levels`);
  return r;
}

/** Checks that `proof` leads from `leaf` (a leaf hash) to `root`; INCLUSION_PROOF_INVALID names the index, size and both roots. */
export async function verifyInclusion(hasher: Hasher, leaf: Uint8Array, proof: InclusionProof, root: Uint8Array): Promise<void> {
  const computed = await rootFromInclusionProof(hasher, leaf, proof);
  if (!bytesEqual(computed, root)) {
    fail('INCLUSION_PROOF_INVALID', `inclusion proof for leaf ${proof.index} leads to root ${toBase64(computed)} at tree size ${proof.size}, not to ${toBase64(root)}`, {
      expected: toBase64(root),
      actual: toBase64(computed),
    });
  }
}

export interface TreeHead {
  readonly size: number;
  readonly rootHash: Uint8Array;
}

/**
 * RFC 9162 section 2.1.4.2: checks that `proof` shows the tree `newer` extends the tree `older`. Equal sizes need an
 * empty proof and equal roots; a proof from the empty tree proves nothing and is refused, as is a smaller `newer`
 * (callers that accept "nothing seen yet" handle that case before they call this).
 */
export async function verifyConsistency(hasher: Hasher, older: TreeHead, newer: TreeHead, proof: readonly Uint8Array[]): Promise<void> {
  const first = older.size;
  const second = newer.size;
  checkSize(first, 'old tree size', 'CONSISTENCY_PROOF_INVALID');
  checkSize(second, 'new tree size', 'CONSISTENCY_PROOF_INVALID');
  const sizes = `from tree size ${first} to ${second}`;
  if (second < first) fail('CONSISTENCY_PROOF_INVALID', `no consistency proof leads ${sizes}: the new tree is smaller`);
  if (first === 0) fail('CONSISTENCY_PROOF_INVALID', `a consistency proof ${sizes} proves nothing: every tree extends the empty tree`);
  if (first === second) {
    if (proof.length !== 0) fail('CONSISTENCY_PROOF_INVALID', `a consistency proof between equal tree sizes (${first}) must be empty, got ${proof.length} hashes`);
    if (!bytesEqual(older.rootHash, newer.rootHash)) {
      fail('CONSISTENCY_PROOF_INVALID', `tree size ${first} has two root hashes, ${toBase64(older.rootHash)} and ${toBase64(newer.rootHash)}`, { expected: toBase64(older.rootHash), actual: toBase64(newer.rootHash) });
    }
    return;
  }
  if (proof.length === 0) fail('CONSISTENCY_PROOF_INVALID', `the consistency proof ${sizes} is empty`);
  if (older.rootHash.length !== HASH_SIZE) fail('CONSISTENCY_PROOF_INVALID', `old root hash is ${older.rootHash.length} bytes, not ${HASH_SIZE}`);
  checkHashes(proof, 'CONSISTENCY_PROOF_INVALID');
  const path = isPowerOfTwo(first) ? [older.rootHash, ...proof] : proof;
  let fn = first - 1;
  let sn = second - 1;
  while (isOdd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr = path[0] as Uint8Array;
  let sr = fr;
  const last = await climb(path.slice(1), fn, sn, async (c, onLeft) => {
    if (onLeft) fr = await nodeHash(hasher, c, fr);
    sr = onLeft ? await nodeHash(hasher, c, sr) : await nodeHash(hasher, sr, c);
  });
  if (last === undefined) fail('CONSISTENCY_PROOF_INVALID', `the consistency proof ${sizes} has ${proof.length} hashes, more than it needs`);
  if (last !== 0) fail('CONSISTENCY_PROOF_INVALID', `the consistency proof ${sizes} has ${proof.length} hashes, fewer than it needs`);
  if (!bytesEqual(fr, older.rootHash)) {
    fail('CONSISTENCY_PROOF_INVALID', `the consistency proof ${sizes} leads to old root ${toBase64(fr)}, not ${toBase64(older.rootHash)}`, { expected: toBase64(older.rootHash), actual: toBase64(fr) });
  }
  if (!bytesEqual(sr, newer.rootHash)) {
    fail('CONSISTENCY_PROOF_INVALID', `the consistency proof ${sizes} leads to new root ${toBase64(sr)}, not ${toBase64(newer.rootHash)}`, { expected: toBase64(newer.rootHash), actual: toBase64(sr) });
  }
}

/** The entries [start, end) of the tree: a proof element is the MTH of one such range. */
export interface Subtree {
  readonly start: number;
  readonly end: number;
}

/** RFC 9162 section 2.1.3.1 PATH(index, D[0:size]) as ranges, leaf end first. */
export function inclusionProofSubtrees(index: number, size: number): Subtree[] {
  const out: Subtree[] = [];
  const walk = (start: number, end: number): void => {
    if (end - start <= 1) return;
    const mid = start + splitPoint(end - start);
    if (index < mid) {
      walk(start, mid);
      out.push({ start: mid, end });
    } else {
      walk(mid, end);
      out.push({ start, end: mid });
    }
  };
  walk(0, size);
  return out;
}

/** RFC 9162 section 2.1.4.1 PROOF(oldSize, D[0:newSize]) as ranges, for 0 < oldSize < newSize. */
export function consistencyProofSubtrees(oldSize: number, newSize: number): Subtree[] {
  const out: Subtree[] = [];
  const walk = (start: number, end: number, whole: boolean): void => {
    if (oldSize === end) {
      if (!whole) out.push({ start, end });
      return;
    }
    const mid = start + splitPoint(end - start);
    if (oldSize <= mid) {
      walk(start, mid, whole);
      out.push({ start: mid, end });
    } else {
      walk(mid, end, false);
      out.push({ start, end: mid });
    }
  };
  walk(0, newSize, true);
  return out;
}

/** The hash of the full subtree of 2^level entries starting at entry index * 2^level. */
export type NodeSource = (level: number, index: number) => Promise<Uint8Array>;

/**
 * MTH(D[start:end]) for a range the proof builders produce: `start` is a multiple of the largest power of two not
 * above end - start, so the range is one full subtree or a full left subtree and a smaller right range.
 */
export async function subtreeHash(hasher: Hasher, { start, end }: Subtree, node: NodeSource): Promise<Uint8Array> {
  const n = end - start;
  if (n === 0) return EMPTY_ROOT;
  if (isPowerOfTwo(n)) return node(Math.log2(n), start / n);
  const k = splitPoint(n);
  return nodeHash(hasher, await node(Math.log2(k), start / k), await subtreeHash(hasher, { start: start + k, end }, node));
}
