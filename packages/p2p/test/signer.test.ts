import {
  CapabilitySchema,
  create,
  decodeEnvelope,
  encodeEnvelope,
  InvalidArgumentError,
  openEnvelope,
  signEnvelope,
  UnexpectedEnvelopeError,
} from '@infraxa/protocol'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { describe, expect, it } from 'vitest'
import {
  MODEL_HASH_BYTES,
  modelCid,
  modelHashFromCid,
  peerIdFromSignerKey,
  publicKeyFromPeerId,
  signerFromPrivateKey,
} from '../src/index.js'

describe('node key as a protocol signer', () => {
  it('signs envelopes that verify against the key inside the PeerId', async () => {
    const key = await generateKeyPair('Ed25519')
    const peerId = peerIdFromPrivateKey(key)
    const signer = signerFromPrivateKey(key)
    expect(Buffer.from(signer.publicKey).equals(Buffer.from(publicKeyFromPeerId(peerId)))).toBe(true)
    const envelope = signEnvelope('CAPABILITY', create(CapabilitySchema, { maxPromptTokens: 7 }), signer)
    const opened = openEnvelope('CAPABILITY', decodeEnvelope(encodeEnvelope(envelope)), {
      signer: publicKeyFromPeerId(peerId.toString()),
    })
    expect(opened.message.maxPromptTokens).toBe(7)
    // The libp2p key's own signature matches (Ed25519 is deterministic).
    const message = new TextEncoder().encode('same bytes')
    expect(Buffer.from(signer.sign(message)).equals(Buffer.from(await key.sign(message)))).toBe(true)
  })

  it('rejects an envelope checked against another peer', async () => {
    const [a, b] = await Promise.all([generateKeyPair('Ed25519'), generateKeyPair('Ed25519')])
    const envelope = signEnvelope('CAPABILITY', create(CapabilitySchema, {}), signerFromPrivateKey(a))
    expect(() =>
      openEnvelope('CAPABILITY', envelope, { signer: publicKeyFromPeerId(peerIdFromPrivateKey(b)) }),
    ).toThrow(UnexpectedEnvelopeError)
  })

  it('maps a signer key back to its PeerId', async () => {
    const key = await generateKeyPair('Ed25519')
    expect(peerIdFromSignerKey(signerFromPrivateKey(key).publicKey).equals(peerIdFromPrivateKey(key))).toBe(
      true,
    )
    expect(() => peerIdFromSignerKey(new Uint8Array(31))).toThrow(InvalidArgumentError)
  })

  it('refuses non-Ed25519 keys and PeerIds', async () => {
    const key = await generateKeyPair('secp256k1')
    expect(() => signerFromPrivateKey(key)).toThrow(InvalidArgumentError)
    expect(() => publicKeyFromPeerId(peerIdFromPrivateKey(key))).toThrow(InvalidArgumentError)
    expect(() => publicKeyFromPeerId('not-a-peer-id')).toThrow(InvalidArgumentError)
  })
})

describe('model CID', () => {
  it('is a CIDv1, raw codec, sha2-256 multihash whose digest is the model hash', () => {
    const hash = Uint8Array.from({ length: MODEL_HASH_BYTES }, (_, i) => i)
    const cid = modelCid(hash)
    expect(cid.version).toBe(1)
    expect(cid.code).toBe(0x55)
    expect(cid.multihash.code).toBe(0x12)
    expect([...cid.multihash.digest]).toEqual([...hash])
    expect(cid.toString()).toMatch(/^bafkrei/)
    expect([...modelHashFromCid(cid)]).toEqual([...hash])
  })

  it('refuses hashes that are not 32 bytes', () => {
    expect(() => modelCid(new Uint8Array(31))).toThrow(InvalidArgumentError)
  })
})
