import { describe, expect, it } from 'vitest'
import { VRF_PROOF_BYTES, vrfProofToHash, vrfProve, vrfPublicKey, vrfVerify } from '../src/audit/ecvrf.js'

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')
const unhex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'))

// RFC 9381 Appendix B.3, ECVRF-EDWARDS25519-SHA512-TAI, Examples 16, 17 and 18 (all vectors of the suite;
// secret keys and messages are those of RFC 8032 §7.1). https://www.rfc-editor.org/rfc/rfc9381#appendix-B.3
const VECTORS = [
  {
    sk: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    pk: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    alpha: '',
    pi: '8657106690b5526245a92b003bb079ccd1a92130477671f6fc01ad16f26f723f26f8a57ccaed74ee1b190bed1f479d9727d2d0f9b005a6e456a35d4fb0daab1268a1b0db10836d9826a528ca76567805',
    beta: '90cf1df3b703cce59e2a35b925d411164068269d7b2d29f3301c03dd757876ff66b71dda49d2de59d03450451af026798e8f81cd2e333de5cdf4f3e140fdd8ae',
  },
  {
    sk: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    pk: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    alpha: '72',
    pi: 'f3141cd382dc42909d19ec5110469e4feae18300e94f304590abdced48aed5933bf0864a62558b3ed7f2fea45c92a465301b3bbf5e3e54ddf2d935be3b67926da3ef39226bbc355bdc9850112c8f4b02',
    beta: 'eb4440665d3891d668e7e0fcaf587f1b4bd7fbfe99d0eb2211ccec90496310eb5e33821bc613efb94db5e5b54c70a848a0bef4553a41befc57663b56373a5031',
  },
  {
    sk: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
    pk: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    alpha: 'af82',
    pi: '9bc0f79119cc5604bf02d23b4caede71393cedfbb191434dd016d30177ccbf8096bb474e53895c362d8628ee9f9ea3c0e52c7a5c691b6c18c9979866568add7a2d41b00b05081ed0f58ee5e31b3a970e',
    beta: '645427e5d00c62a23fb703732fa5d892940935942101e456ecca7bb217c61c452118fec1219202a0edcf038bb6373241578be7217ba85a2687f7a0310b2df19f',
  },
]

describe('ECVRF-EDWARDS25519-SHA512-TAI', () => {
  VECTORS.forEach((v, i) => {
    it(`matches RFC 9381 Example ${16 + i}`, () => {
      const sk = unhex(v.sk)
      expect(hex(vrfPublicKey(sk))).toBe(v.pk)
      // Verified before this process proved it: the full point arithmetic, not the proved-here cache.
      expect(hex(vrfVerify(unhex(v.pk), unhex(v.alpha), unhex(v.pi))!)).toBe(v.beta)
      const pi = vrfProve(sk, unhex(v.alpha))
      expect(hex(pi)).toBe(v.pi)
      expect(hex(vrfProofToHash(pi))).toBe(v.beta)
      expect(hex(vrfVerify(unhex(v.pk), unhex(v.alpha), pi)!)).toBe(v.beta)
    })
  })

  it('a proof made here verifies at once, and any change to key, input or proof is still refused', () => {
    const sk = new Uint8Array(32).fill(9)
    const pk = vrfPublicKey(sk)
    const alpha = new Uint8Array([1, 2, 3])
    const pi = vrfProve(sk, alpha)
    expect(vrfVerify(pk, alpha, pi)).toEqual(vrfProofToHash(pi))
    expect(vrfVerify(pk, new Uint8Array([1, 2, 4]), pi)).toBeUndefined()
    expect(vrfVerify(vrfPublicKey(new Uint8Array(32).fill(8)), alpha, pi)).toBeUndefined()
    for (const at of [0, 40, 79]) {
      const bad = Uint8Array.from(pi)
      bad[at]! ^= 1
      expect(vrfVerify(pk, alpha, bad)).toBeUndefined()
    }
  })

  it('rejects a proof under another key, for another input, or with a flipped bit', () => {
    const [a, b] = VECTORS as [(typeof VECTORS)[0], (typeof VECTORS)[0]]
    expect(vrfVerify(unhex(b.pk), unhex(a.alpha), unhex(a.pi))).toBeUndefined()
    expect(vrfVerify(unhex(a.pk), unhex('00'), unhex(a.pi))).toBeUndefined()
    for (const position of [0, 31, 32, 47, 48, 79]) {
      const pi = unhex(a.pi)
      pi[position]! ^= 1
      expect(vrfVerify(unhex(a.pk), unhex(a.alpha), pi)).toBeUndefined()
    }
  })

  it('rejects malformed proofs and small-order keys without throwing', () => {
    const a = VECTORS[0]!
    expect(
      vrfVerify(unhex(a.pk), new Uint8Array(), unhex(a.pi).subarray(0, VRF_PROOF_BYTES - 1)),
    ).toBeUndefined()
    expect(vrfVerify(new Uint8Array(31), new Uint8Array(), unhex(a.pi))).toBeUndefined()
    const identity = new Uint8Array(32)
    identity[0] = 1 // y = 1: the neutral point, small order
    expect(vrfVerify(identity, new Uint8Array(), unhex(a.pi))).toBeUndefined()
    const sOverflow = unhex(a.pi)
    sOverflow.fill(0xff, 48)
    expect(vrfVerify(unhex(a.pk), new Uint8Array(), sOverflow)).toBeUndefined()
    expect(
      vrfVerify(unhex(a.pk), new Uint8Array(), new Uint8Array(VRF_PROOF_BYTES).fill(0xff)),
    ).toBeUndefined()
  })
})
