import { MalformedProofError } from '../errors.js'
import { EMPTY_ROOT, HASH_BYTES, nodeHash } from './hash.js'

/**
 * An RFC 6962 Merkle tree over leaf hashes.
 *
 * RFC 6962 splits n leaves at the largest power of two below n. Building bottom-up, pairing nodes left to
 * right and promoting an odd last node unchanged to the next level (never duplicating it), yields exactly
 * that tree; `levels[0]` are the leaf hashes and the last level holds the root.
 */
export interface MerkleTree {
  readonly size: number
  readonly root: Uint8Array
  readonly levels: readonly (readonly Uint8Array[])[]
}

/**
 * Builds the tree over `leafHashes` (each already `leafHash(data)`).
 *
 * @example
 * const tree = buildTree(entries.map(leafHash))
 */
export function buildTree(leafHashes: readonly Uint8Array[]): MerkleTree {
  for (const h of leafHashes) {
    if (h.length !== HASH_BYTES) throw new MalformedProofError(`leaf hash of ${h.length} bytes`)
  }
  if (leafHashes.length === 0) return { size: 0, root: EMPTY_ROOT, levels: [[]] }
  const levels: Uint8Array[][] = [leafHashes.slice()]
  let current = levels[0]!
  while (current.length > 1) {
    const next: Uint8Array[] = []
    for (let i = 0; i < current.length; i += 2) {
      next.push(i + 1 < current.length ? nodeHash(current[i]!, current[i + 1]!) : current[i]!)
    }
    levels.push(next)
    current = next
  }
  return { size: leafHashes.length, root: current[0]!, levels }
}

/** Number of nodes at each level of a tree of `size` leaves, from the leaves up to the root. */
export function levelSizes(size: number): number[] {
  const sizes = [size]
  let n = size
  while (n > 1) {
    n = Math.ceil(n / 2)
    sizes.push(n)
  }
  return sizes
}
