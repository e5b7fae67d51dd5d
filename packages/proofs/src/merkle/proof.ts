import { MalformedProofError } from '../errors.js'
import { HASH_BYTES, nodeHash } from './hash.js'
import { levelSizes, type MerkleTree } from './tree.js'

function checkIndices(indices: readonly number[], size: number): number[] {
  if (indices.length === 0) throw new MalformedProofError('no leaf indices')
  const sorted = [...indices].sort((a, b) => a - b)
  for (let i = 0; i < sorted.length; i++) {
    const index = sorted[i]!
    if (!Number.isSafeInteger(index) || index < 0 || index >= size) {
      throw new MalformedProofError(`leaf index ${index} outside a tree of ${size} leaves`)
    }
    if (i > 0 && sorted[i - 1] === index) throw new MalformedProofError(`leaf index ${index} repeated`)
  }
  return sorted
}

/**
 * A multi-leaf inclusion proof: the sibling hashes needed to recompute the root from several leaves,
 * each sibling given once even when the leaves share it. For one leaf this is the RFC 6962 audit path
 * (leaf to root order).
 *
 * Order: level by level from the leaves up; within a level, by ascending position of the known node
 * whose sibling is missing.
 */
export function proveInclusion(tree: MerkleTree, indices: readonly number[]): Uint8Array[] {
  let known = checkIndices(indices, tree.size)
  const siblings: Uint8Array[] = []
  for (let level = 0; level < tree.levels.length - 1; level++) {
    const nodes = tree.levels[level]!
    const knownSet = new Set(known)
    for (const i of known) {
      const sibling = i ^ 1
      if (sibling < nodes.length && !knownSet.has(sibling)) siblings.push(nodes[sibling]!)
    }
    known = [...new Set(known.map((i) => i >> 1))]
  }
  return siblings
}

/**
 * Recomputes the root from leaves and a proof from {@link proveInclusion}.
 *
 * @param leaves - leaf index → leaf hash, for every proven leaf.
 * @throws {MalformedProofError} indices out of range, wrong hash sizes, too few or too many siblings.
 */
export function rootFromInclusion(
  size: number,
  leaves: ReadonlyMap<number, Uint8Array>,
  siblings: readonly Uint8Array[],
): Uint8Array {
  if (!Number.isSafeInteger(size) || size <= 0) throw new MalformedProofError(`tree size ${size}`)
  const indices = checkIndices([...leaves.keys()], size)
  for (const s of siblings) {
    if (!(s instanceof Uint8Array) || s.length !== HASH_BYTES)
      throw new MalformedProofError('sibling is not 32 bytes')
  }
  let known = new Map<number, Uint8Array>()
  for (const i of indices) {
    const h = leaves.get(i)!
    if (h.length !== HASH_BYTES) throw new MalformedProofError('leaf hash is not 32 bytes')
    known.set(i, h)
  }
  const sizes = levelSizes(size)
  let next = 0
  const take = (): Uint8Array => {
    const s = siblings[next++]
    if (s === undefined) throw new MalformedProofError('too few sibling hashes')
    return s
  }
  for (let level = 0; level < sizes.length - 1; level++) {
    const count = sizes[level]!
    const parents = new Map<number, Uint8Array>()
    for (const i of [...known.keys()].sort((a, b) => a - b)) {
      const parent = i >> 1
      if (parents.has(parent)) continue
      const sibling = i ^ 1
      const hash = known.get(i)!
      if (sibling >= count) {
        parents.set(parent, hash) // odd last node: promoted unchanged
      } else {
        const other = known.get(sibling) ?? take()
        parents.set(parent, i & 1 ? nodeHash(other, hash) : nodeHash(hash, other))
      }
    }
    known = parents
  }
  if (next !== siblings.length)
    throw new MalformedProofError(`${siblings.length - next} unused sibling hashes`)
  return known.get(0)!
}

/** Whether the leaves at their indices, with `siblings`, hash to `root`. Malformed proofs throw. */
export function verifyInclusion(
  root: Uint8Array,
  size: number,
  leaves: ReadonlyMap<number, Uint8Array>,
  siblings: readonly Uint8Array[],
): boolean {
  const computed = rootFromInclusion(size, leaves, siblings)
  if (root.length !== computed.length) return false
  let diff = 0
  for (let i = 0; i < root.length; i++) diff |= root[i]! ^ computed[i]!
  return diff === 0
}
