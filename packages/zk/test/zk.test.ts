/**
 * @infraxa/zk without proving: the Poseidon commitment, proof and key encodings, the committed
 * artifacts, and the checks the zk_snark mode makes before any pairing.
 */

import { MalformedVerificationInputError } from '@infraxa/proofs'
import { sampleToken } from '@infraxa/proofs/sampling'
import { type CommittedStep, MIN_QUANTISED_LOGPROB } from '@infraxa/proofs/transcript'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ToyModel } from '../../proofs/test/fixtures/toy-model.js'
import { bn254 } from '../src/bn254.js'
import {
  BN254_Q,
  BN254_R,
  candidateKey,
  checkZkOpenings,
  createZkRootBuilder,
  decodeProof,
  encodeProof,
  fieldFromBytes,
  GROTH16_PROOF_BYTES,
  jobIdElement,
  leafElements,
  loadZkArtifacts,
  MalformedZkProofError,
  poseidon,
  toBytes32,
  toSnarkjsProof,
  verificationKeyHash,
  verifyGroth16,
  windowCount,
  windowInput,
  windowPublicSignals,
  windowsTreeRoot,
  ZkArtifactError,
  zkLeaf,
  zkRootOf,
  zkSnarkMode,
  zkWindowOpenings,
  zkWindowRoot,
  zkWindowRoots,
} from '../src/index.js'
import { makeZkExchange, resign, zkInput } from './support/exchange.js'

const jobId = new Uint8Array(16).fill(5)

function steps(n: number, k = 8): CommittedStep[] {
  return Array.from({ length: n }, (_, t) => {
    const topIds = Array.from({ length: k }, (_, i) => (t * 31 + i * 977) % 32000)
    const topLogprobs = Array.from({ length: k }, (_, i) => -1000 - i * 60_000 - (t % 7) * 100)
    return { step: t, token: topIds[0]!, topIds, topLogprobs }
  })
}

describe('candidate keys', () => {
  it('the smallest key is the greedy choice (highest log-prob, lowest id on ties)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 1, maxLength: 12 }),
        fc.array(fc.constantFrom(0, -1, -65_536, MIN_QUANTISED_LOGPROB, -777), {
          minLength: 12,
          maxLength: 12,
        }),
        (ids, lps) => {
          const q = lps.slice(0, ids.length)
          const keys = ids.map((id, i) => candidateKey(id, q[i]!))
          const min = [...keys].sort((a, b) => (a < b ? -1 : 1))[0]!
          expect(ids[keys.indexOf(min)]).toBe(sampleToken(ids, q, { temperature: 0, seed: 0n }, 0))
          expect(keys.every((key) => key < 1n << 63n)).toBe(true)
        },
      ),
    )
  })
})

describe('Poseidon commitment', () => {
  it('packs K + 1 slots of 64 bits, three per element', () => {
    const s: CommittedStep = {
      step: 5,
      token: 9,
      topIds: [9, 1, 2, 3, 4, 6, 7, 8],
      topLogprobs: [0, -1, -2, -3, -4, -5, -6, -7],
    }
    const e = leafElements(s)
    expect(e).toHaveLength(3)
    const slot = (i: number) => (e[Math.floor(i / 3)]! >> BigInt(64 * (i % 3))) & ((1n << 64n) - 1n)
    expect(slot(0)).toBe(9n)
    expect(slot(1)).toBe((1n << 32n) | 1n)
    expect(slot(7)).toBe((7n << 32n) | 8n)
    expect(slot(8)).toBe((5n << 32n) | 9n)
    expect(e[2]! >> 192n).toBe(0n)
    expect(zkLeaf(s)).toBe(poseidon(e))
  })

  it('every committed field changes the leaf', () => {
    const [s] = steps(1)
    const base = zkLeaf(s!)
    const variants: CommittedStep[] = [
      { ...s!, step: 1 },
      { ...s!, token: s!.topIds[1]! },
      { ...s!, topIds: s!.topIds.map((id, i) => (i === 7 ? id + 1 : id)) },
      { ...s!, topLogprobs: s!.topLogprobs.map((lp, i) => (i === 3 ? lp - 1 : lp)) },
      { ...s!, topIds: [...s!.topIds].reverse(), topLogprobs: [...s!.topLogprobs].reverse() },
    ]
    for (const v of variants) expect(zkLeaf(v)).not.toBe(base)
  })

  it('windows: Poseidon over T leaves, missing ones 0; the window tree zero-pads to a power of two', () => {
    const s = steps(20)
    const leaves = s.map(zkLeaf)
    const roots = zkWindowRoots(s, 16)
    expect(roots).toEqual([
      poseidon(leaves.slice(0, 16)),
      poseidon([...leaves.slice(16), ...Array(12).fill(0n)]),
    ])
    expect(zkWindowRoot(leaves.slice(0, 4), 32)).toBe(
      poseidon([poseidon([...leaves.slice(0, 4), ...Array(12).fill(0n)]), poseidon(Array(16).fill(0n))]),
    )
    expect(windowsTreeRoot([])).toBe(0n)
    expect(windowsTreeRoot([7n])).toBe(7n)
    expect(windowsTreeRoot([1n, 2n, 3n])).toBe(poseidon([poseidon([1n, 2n]), poseidon([3n, 0n])]))
    expect(windowCount(0, 16)).toBe(0)
    expect(windowCount(16, 16)).toBe(1)
    expect(windowCount(17, 16)).toBe(2)
  })

  it('the zk root binds the job, the step count, the window size, k and every step', () => {
    const s = steps(20)
    const root = zkRootOf({ jobId, steps: s, windowSize: 16, topK: 8 })
    expect(root).toHaveLength(32)
    expect(fieldFromBytes(root)).toBeLessThan(BN254_R)
    const others = [
      zkRootOf({ jobId: new Uint8Array(16).fill(6), steps: s, windowSize: 16, topK: 8 }),
      zkRootOf({ jobId, steps: s.slice(0, 19), windowSize: 16, topK: 8 }),
      zkRootOf({ jobId, steps: s, windowSize: 8, topK: 8 }),
      zkRootOf({
        jobId,
        steps: s.map((x, t) => (t === 13 ? { ...x, topLogprobs: x.topLogprobs.map((l) => l - 1) } : x)),
        windowSize: 16,
        topK: 8,
      }),
    ]
    for (const other of others) expect(other).not.toEqual(root)
    expect(jobIdElement(new Uint8Array([1]))).not.toBe(jobIdElement(new Uint8Array([1, 0])))
    expect(() => zkRootOf({ jobId, steps: [s[1]!], windowSize: 16, topK: 8 })).toThrow(/step 1 at position 0/)
    expect(() => zkRootOf({ jobId, steps: s, windowSize: 24, topK: 8 })).toThrow(RangeError)
  })

  it('the incremental builder gives zkRootOf’s root at every length', () => {
    const s = steps(33)
    const builder = createZkRootBuilder(jobId, { windowSize: 16, topK: 8 })
    expect(builder.root()).toEqual(zkRootOf({ jobId, steps: [], windowSize: 16, topK: 8 }))
    for (const [t, step] of s.entries()) {
      builder.push(step)
      if ([0, 15, 16, 17, 31, 32].includes(t)) {
        expect(builder.root()).toEqual(zkRootOf({ jobId, steps: s.slice(0, t + 1), windowSize: 16, topK: 8 }))
      }
    }
    expect(builder.stepCount).toBe(33)
    expect(() => builder.push(s[3]!)).toThrow(/step 3 at position 33/)
  })

  it('the circuit input pads the last window with a dummy that passes the greedy check', () => {
    const s = steps(18)
    const input = windowInput(s, 1, 16, 8) as {
      index: string
      active: string
      token: string[]
      key: string[][]
    }
    expect(input.index).toBe('1')
    expect(input.active).toBe('2')
    expect(input.token.slice(0, 3)).toEqual([String(s[16]!.token), String(s[17]!.token), '0'])
    expect(input.key[2]).toEqual(['0', '1', '2', '3', '4', '5', '6', '7'])
    expect(() => windowInput(s, 2, 16, 8)).toThrow(RangeError)
  })
})

describe('Groth16 encodings', () => {
  const proofJson = {
    pi_a: ['1', '2', '1'],
    pi_b: [
      ['3', '4'],
      ['5', '6'],
      ['1', '0'],
    ],
    pi_c: ['7', '8', '1'],
    protocol: 'groth16',
    curve: 'bn128',
  } as const

  it('a proof is 256 bytes: pi_a, pi_b (c0 before c1), pi_c, 32 B big-endian coordinates', () => {
    const bytes = encodeProof(proofJson)
    expect(bytes).toHaveLength(GROTH16_PROOF_BYTES)
    expect(Array.from({ length: 8 }, (_, i) => bytes[32 * i + 31])).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
    expect(toSnarkjsProof(decodeProof(bytes))).toEqual(proofJson)
  })

  it('malformed proofs throw typed errors when decoded and never verify', async () => {
    const { vkey } = loadZkArtifacts()
    expect(() => decodeProof(new Uint8Array(255))).toThrow(MalformedZkProofError)
    const big = new Uint8Array(256)
    big.set(toBytes32(BN254_Q), 0)
    expect(() => decodeProof(big)).toThrow(MalformedZkProofError)
    const signals = Array.from({ length: vkey.nPublic }, () => 1n)
    expect(await verifyGroth16(vkey, [{ publicSignals: signals, proof: encodeProof(proofJson) }])).toBe(false)
    expect(await verifyGroth16(vkey, [{ publicSignals: signals, proof: new Uint8Array(256) }])).toBe(false)
    expect(await verifyGroth16(vkey, [{ publicSignals: signals, proof: new Uint8Array(7) }])).toBe(false)
    expect(await verifyGroth16(vkey, [{ publicSignals: signals.slice(1), proof: new Uint8Array(256) }])).toBe(
      false,
    )
    // pi_b on the twist but outside the order-r subgroup (a random twist point: the cofactor is ~2^254).
    const curve = await bn254()
    const F2 = (curve.G2 as unknown as { F: TestF2 }).F
    let x = F2.fromObject([5n, 1n])
    let rhs = F2.add(F2.mul(F2.square(x), x), (curve.G2 as unknown as { b: Uint8Array }).b)
    while (!F2.isSquare(rhs)) {
      x = F2.add(x, F2.one)
      rhs = F2.add(F2.mul(F2.square(x), x), (curve.G2 as unknown as { b: Uint8Array }).b)
    }
    const twist = new Uint8Array(128)
    twist.set(x)
    twist.set(F2.sqrt(rhs), 64)
    expect(curve.G2.isValid(twist)).toBe(true)
    expect(curve.G2.isZero(curve.G2.timesScalar(twist, BN254_R))).toBe(false)
    const [[bx0, bx1], [by0, by1]] = (
      curve.G2 as unknown as { toObject(p: Uint8Array): bigint[][] }
    ).toObject(twist) as [[bigint, bigint], [bigint, bigint]]
    const [gx, gy] = (curve.G1 as unknown as { toObject(p: Uint8Array): bigint[] }).toObject(
      curve.G1.toAffine(curve.G1.timesScalar(curve.G1.fromObject([1n, 2n, 1n]), 7n)),
    ) as [bigint, bigint]
    const offSubgroup = {
      a: { x: gx, y: gy },
      b: { x: { c0: bx0, c1: bx1 }, y: { c0: by0, c1: by1 } },
      c: { x: gx, y: gy },
    }
    expect(await verifyGroth16(vkey, [{ publicSignals: signals, proof: offSubgroup }])).toBe(false)
    expect(fieldFromBytes.bind(null, toBytes32(BN254_R))).toThrow(MalformedZkProofError)
  })
})

describe('committed artifacts (circuits/build)', () => {
  it('load, and the verification key is the manifest’s', () => {
    const a = loadZkArtifacts()
    expect(a.windowSize).toBe(16)
    expect(a.topK).toBe(8)
    expect(a.vkey.nPublic).toBe(3 + 16)
    expect(Buffer.from(verificationKeyHash(a.vkey)).toString('hex')).toBe(a.manifest.vkeyHash)
    expect(a.manifest.setup.development).toBe(true)
  })

  it('a directory without a build is a typed error', () => {
    expect(() => loadZkArtifacts('/nonexistent')).toThrow(ZkArtifactError)
  })

  it('public signals are rebuilt from the response: root, index, active steps, tokens (0-padded)', () => {
    expect(
      windowPublicSignals({ windowRoot: 5n, index: 1, windowSize: 4, outputTokens: [1, 2, 3, 4, 5, 6] }),
    ).toEqual([5n, 1n, 2n, 5n, 6n, 0n, 0n])
  })
})

describe('zk_snark mode before the pairing', () => {
  const mode = zkSnarkMode()
  const model = new ToyModel(1)
  const fake = {
    jobId,
    zkRoot: new Uint8Array(32),
    windowSize: 16,
    stepCount: 0,
    windows: [],
    vkeyHash: new Uint8Array(32),
  }

  it('throws a typed error without the proof or the envelopes', async () => {
    const x = makeZkExchange({ model })
    await expect(
      mode.verify({ request: x.request, response: x.responseEnvelope }, {}),
    ).rejects.toBeInstanceOf(MalformedVerificationInputError)
    await expect(mode.verify({ response: x.responseEnvelope } as never, {})).rejects.toBeInstanceOf(
      MalformedVerificationInputError,
    )
  })

  it('rejects sampled requests, another k, another mode, a missing zk root, garbage proofs', async () => {
    const reason = async (input: Parameters<typeof mode.verify>[0]) => {
      const r = await mode.verify(input, {})
      return r.valid ? 'valid' : r.reason
    }
    expect(await reason(zkInput(makeZkExchange({ model, temperature: 0.5 }), fake))).toMatch(
      /poseidon-gumbel rule without top_p; the request has temperature 0.5, rule hmac-gumbel/,
    )
    expect(
      await reason(
        zkInput(
          makeZkExchange({ model, temperature: 0.5, rule: 1, topP: 0.9, providerTopP: undefined }),
          fake,
        ),
      ),
    ).toMatch(/top_p 0.9/)
    expect(await reason(zkInput(makeZkExchange({ model, k: 4 }, { windowSize: 16, topK: 4 }), fake))).toMatch(
      /k = 8/,
    )
    expect(await reason(zkInput(makeZkExchange({ model, mode: 'merkle' }), fake))).toMatch(/mode "merkle"/)
    const x = makeZkExchange({ model })
    expect(await reason(zkInput(x, fake))).toMatch(/another job/)
    expect(await reason(zkInput(x, { ...fake, jobId: x.jobId }))).toMatch(/another zk root/)
    expect(await reason(zkInput(x, { ...fake, jobId: x.jobId, zkRoot: x.response.zkRoot }))).toMatch(
      /covers 0 steps/,
    )
    expect(await reason({ ...zkInput(x, fake), modeProof: new Uint8Array([0xff, 0xff]) })).toMatch(
      /zk proof:/,
    )
    const noRoot = resign(x, (r) => {
      r.zkRoot = new Uint8Array()
    })
    expect(await reason(zkInput(x, fake, { response: noRoot }))).toMatch(/no 32-byte zk_root/)
  })
})

describe('one answer, one truth: Poseidon openings of audited steps', () => {
  const proofOf = (committed: CommittedStep[]) => ({
    windowSize: 16,
    stepCount: committed.length,
    windows: zkWindowRoots(committed, 16).map((r, index) => ({ index, windowRoot: toBytes32(r) })),
  })

  it('accepts the steps the zk root covers, in every window (the last one padded)', () => {
    const honest = steps(37)
    const opened = [0, 15, 16, 36]
    const result = checkZkOpenings({
      proof: proofOf(honest),
      openings: opened.map((t) => honest[t]!),
      zkWindows: zkWindowOpenings(honest, opened, 16),
    })
    expect(result).toEqual({ ok: true })
  })

  it('refuses a mixed answer: one set of steps audited, another proved — whichever leaves the provider shows', () => {
    const audited = steps(37)
    // Other log-probs of a non-chosen candidate at step 20: still greedy, another Poseidon leaf.
    const proved = audited.map((s) =>
      s.step === 20 ? { ...s, topLogprobs: s.topLogprobs.map((l, i) => (i === 7 ? l - 1 : l)) } : s,
    )
    const proof = proofOf(proved)
    // Leaves of the proved steps: the audited step is not among them.
    expect(
      checkZkOpenings({ proof, openings: [audited[20]!], zkWindows: zkWindowOpenings(proved, [20], 16) }),
    ).toMatchObject({ ok: false, reason: expect.stringMatching(/commit to different steps/) })
    // Leaves of the audited steps: they do not hash to the proved window root.
    expect(
      checkZkOpenings({ proof, openings: [audited[20]!], zkWindows: zkWindowOpenings(audited, [20], 16) }),
    ).toMatchObject({ ok: false, reason: expect.stringMatching(/do not hash to the proved window root/) })
    // Steps of other windows still agree: the check is per opened step (an audit catches a mix at f of
    // the steps with probability 1 − (1 − f)^c).
    expect(
      checkZkOpenings({ proof, openings: [audited[3]!], zkWindows: zkWindowOpenings(proved, [3], 16) }),
    ).toEqual({ ok: true })
  })

  it('refuses missing, short, non-canonical or non-zero padding leaves', () => {
    const honest = steps(20)
    const proof = proofOf(honest)
    const [opening] = zkWindowOpenings(honest, [17], 16)
    const check = (leaves: readonly Uint8Array[]) =>
      checkZkOpenings({ proof, openings: [honest[17]!], zkWindows: [{ step: 17, leaves }] })
    expect(checkZkOpenings({ proof, openings: [honest[17]!], zkWindows: [] })).toMatchObject({
      reason: expect.stringMatching(/no Poseidon opening/),
    })
    expect(check(opening!.leaves.slice(1))).toMatchObject({ reason: expect.stringMatching(/16 expected/) })
    expect(check(opening!.leaves.map((l, i) => (i === 0 ? new Uint8Array(32).fill(0xff) : l)))).toMatchObject(
      {
        reason: expect.stringMatching(/not below the BN254 scalar field modulus/),
      },
    )
    expect(check(opening!.leaves.map((l, i) => (i === 15 ? toBytes32(1n) : l)))).toMatchObject({
      reason: expect.stringMatching(/past the last step are not 0/),
    })
  })
})

/** The wasm Fp² of ffjavascript, as far as the subgroup test uses it. */
interface TestF2 {
  readonly one: Uint8Array
  fromObject(v: readonly bigint[]): Uint8Array
  add(a: Uint8Array, b: Uint8Array): Uint8Array
  mul(a: Uint8Array, b: Uint8Array): Uint8Array
  square(a: Uint8Array): Uint8Array
  isSquare(a: Uint8Array): boolean
  sqrt(a: Uint8Array): Uint8Array
}
