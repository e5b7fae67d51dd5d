import { ed25519 } from '@noble/curves/ed25519.js'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ed25519KeyPair, ed25519Sign, ed25519Verify } from '../src/ed25519.js'

// The reference: @noble/curves' strict RFC 8032 verification (what envelopes used before).
const reference = (sig: Uint8Array, msg: Uint8Array, pk: Uint8Array) => {
  try {
    return ed25519.verify(sig, msg, pk, { zip215: false })
  } catch {
    return false
  }
}

describe('Ed25519 through node:crypto', () => {
  it('derives the same public key and the same (deterministic) signature as the reference', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ maxLength: 300 }),
        (seed, msg) => {
          const { privateKey, publicKey } = ed25519KeyPair(seed)
          expect(publicKey).toEqual(ed25519.getPublicKey(seed))
          const sig = ed25519Sign(privateKey, msg)
          expect(sig).toEqual(ed25519.sign(msg, seed))
          expect(ed25519Verify(sig, msg, publicKey)).toBe(true)
        },
      ),
      { numRuns: 100 },
    )
  })

  it('agrees with the reference on mutated signatures, messages and keys, and on non-canonical S', () => {
    const seed = new Uint8Array(32).fill(3)
    const { privateKey, publicKey } = ed25519KeyPair(seed)
    const msg = new TextEncoder().encode('infraxa')
    const sig = ed25519Sign(privateKey, msg)
    fc.assert(
      fc.property(
        fc.constantFrom('sig', 'msg', 'key'),
        fc.nat(63),
        fc.integer({ min: 1, max: 255 }),
        (what, at, xor) => {
          const s = Uint8Array.from(sig)
          const m = Uint8Array.from(msg)
          const k = Uint8Array.from(publicKey)
          if (what === 'sig') s[at]! ^= xor
          else if (what === 'msg') m[at % m.length]! ^= xor
          else k[at % 32]! ^= xor
          expect(ed25519Verify(s, m, k)).toBe(reference(s, m, k))
        },
      ),
      { numRuns: 500 },
    )
    // S + L (same signature, non-canonical scalar) must be refused by both.
    const L = 2n ** 252n + 27742317777372353535851937790883648493n
    let sValue = 0n
    for (let i = 63; i >= 32; i--) sValue = (sValue << 8n) | BigInt(sig[i]!)
    const big = Uint8Array.from(sig)
    let x = sValue + L
    for (let i = 32; i < 64; i++) {
      big[i] = Number(x & 0xffn)
      x >>= 8n
    }
    expect(ed25519Verify(big, msg, publicKey)).toBe(false)
    expect(reference(big, msg, publicKey)).toBe(false)
  })

  it('returns false, never throws, for keys and signatures of the wrong size or not on the curve', () => {
    expect(ed25519Verify(new Uint8Array(63), new Uint8Array(1), new Uint8Array(32))).toBe(false)
    expect(ed25519Verify(new Uint8Array(64), new Uint8Array(1), new Uint8Array(31))).toBe(false)
    expect(ed25519Verify(new Uint8Array(64), new Uint8Array(1), new Uint8Array(32).fill(0xff))).toBe(false)
  })
})
