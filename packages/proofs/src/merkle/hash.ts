import { sha256 } from '@noble/hashes/sha2.js'

/** Size in bytes of every hash in the tree (SHA-256). */
export const HASH_BYTES = 32

/** RFC 6962 root of the empty tree: SHA-256 of the empty string. */
export const EMPTY_ROOT: Uint8Array = sha256(new Uint8Array(0))

/** RFC 6962 leaf hash: `SHA-256(0x00 ‖ data)`. */
export function leafHash(data: Uint8Array): Uint8Array {
  const h = sha256.create()
  h.update(new Uint8Array([0]))
  h.update(data)
  return h.digest()
}

/** RFC 6962 interior node hash: `SHA-256(0x01 ‖ left ‖ right)`. */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  const buf = new Uint8Array(1 + 2 * HASH_BYTES)
  buf[0] = 1
  buf.set(left, 1)
  buf.set(right, 1 + HASH_BYTES)
  return sha256(buf)
}
