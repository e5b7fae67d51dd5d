/**
 * RFC 6962 Merkle trees over SHA-256: build, multi-leaf inclusion proofs with shared siblings, verify.
 *
 * @example
 * import { buildTree, leafHash, proveInclusion, verifyInclusion } from '@infraxa/proofs/merkle'
 * const tree = buildTree(entries.map(leafHash))
 * const siblings = proveInclusion(tree, [3, 9])
 * verifyInclusion(tree.root, tree.size, new Map([[3, tree.levels[0][3]], [9, tree.levels[0][9]]]), siblings)
 */
export { EMPTY_ROOT, HASH_BYTES, leafHash, nodeHash } from './hash.js'
export { proveInclusion, rootFromInclusion, verifyInclusion } from './proof.js'
export { buildTree, levelSizes, type MerkleTree } from './tree.js'
