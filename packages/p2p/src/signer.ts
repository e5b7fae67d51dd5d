import { ed25519Signer, InvalidArgumentError, PUBLIC_KEY_BYTES, type Signer } from '@infraxa/protocol'
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import { peerIdFromPublicKey, peerIdFromString } from '@libp2p/peer-id'

/**
 * A protocol {@link Signer} backed by a node's Ed25519 key, so `signEnvelope(kind, message, signer)` signs
 * with the node identity: the envelope's `publicKey` is then the key inside the node's PeerId.
 *
 * @throws {InvalidArgumentError} the key is not Ed25519
 * @example
 * const envelope = signEnvelope('CAPABILITY', capability, signerFromPrivateKey(key))
 */
export function signerFromPrivateKey(privateKey: PrivateKey): Signer {
  if (privateKey.type !== 'Ed25519') {
    throw new InvalidArgumentError(`node keys must be Ed25519, not ${privateKey.type}`)
  }
  // libp2p stores an Ed25519 key as seed (32 bytes) ‖ public key (32 bytes); the seed is the RFC 8032 key.
  return ed25519Signer(privateKey.raw.subarray(0, 32))
}

/**
 * The 32-byte Ed25519 public key inside a PeerId: what a peer's signed envelopes must carry in `publicKey`
 * (`openEnvelope(kind, envelope, { signer: publicKeyFromPeerId(peer) })`).
 *
 * @throws {InvalidArgumentError} the PeerId is not an Ed25519 identity (or not a valid PeerId string)
 */
export function publicKeyFromPeerId(peer: PeerId | string): Uint8Array {
  let peerId: PeerId
  try {
    peerId = typeof peer === 'string' ? peerIdFromString(peer) : peer
  } catch (cause) {
    throw new InvalidArgumentError(`not a PeerId: ${String(peer)} (${(cause as Error).message})`)
  }
  if (peerId.type !== 'Ed25519' || peerId.publicKey === undefined) {
    throw new InvalidArgumentError(`PeerId ${peerId.toString()} is not an Ed25519 identity`)
  }
  return peerId.publicKey.raw
}

/**
 * The PeerId of the node whose envelopes carry this 32-byte Ed25519 public key.
 *
 * @throws {InvalidArgumentError} not a 32-byte key
 */
export function peerIdFromSignerKey(publicKey: Uint8Array): PeerId {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== PUBLIC_KEY_BYTES) {
    throw new InvalidArgumentError(`an Ed25519 public key has ${PUBLIC_KEY_BYTES} bytes`)
  }
  // A 32-byte raw key is always read as Ed25519.
  return peerIdFromPublicKey(publicKeyFromRaw(publicKey))
}
