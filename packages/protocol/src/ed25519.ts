import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto'

/**
 * Ed25519 (RFC 8032, pure) through Node's OpenSSL: signing is ~25× and verifying ~15× faster than the
 * pure-JS arithmetic here (0.06 / 0.15 ms against 1.7 / 3.0 ms on the 2-core reference machine), and
 * every message of a job is signed once and verified at least once. Strict RFC 8032 verification
 * (canonical encodings, cofactorless), the same rules as `@noble/curves` with `zip215: false`; a test
 * checks both agree on honest, mutated and malformed signatures.
 */

// DER prefixes of a PKCS#8 private key and an SPKI public key for id-Ed25519 (OID 1.3.101.112).
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')

/** A private key object for a 32-byte seed, and its 32-byte public key. */
export function ed25519KeyPair(seed: Uint8Array): { privateKey: KeyObject; publicKey: Uint8Array } {
  const privateKey = createPrivateKey({
    key: Buffer.concat([PKCS8_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8',
  })
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' })
  return { privateKey, publicKey: new Uint8Array(spki.subarray(SPKI_PREFIX.length)) }
}

export function ed25519Sign(privateKey: KeyObject, message: Uint8Array): Uint8Array {
  return new Uint8Array(sign(null, message, privateKey))
}

// Peers' keys repeat (one per provider or router): keep their parsed form, bounded.
const publicKeys = new Map<string, KeyObject>()
const MAX_CACHED_KEYS = 4096

function publicKeyObject(publicKey: Uint8Array): KeyObject {
  const id = Buffer.from(publicKey).toString('hex')
  let key = publicKeys.get(id)
  if (key === undefined) {
    key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' })
    if (publicKeys.size >= MAX_CACHED_KEYS) publicKeys.delete(publicKeys.keys().next().value!)
    publicKeys.set(id, key)
  }
  return key
}

/** Whether `signature` is a valid Ed25519 signature of `message` by the 32-byte `publicKey`; never throws. */
export function ed25519Verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) return false
  try {
    return verify(null, message, publicKeyObject(publicKey), signature)
  } catch {
    return false
  }
}
