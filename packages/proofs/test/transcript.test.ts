import { describe, expect, it } from 'vitest'
import { InvalidStepError, MalformedProofError } from '../src/errors.js'
import {
  buildTranscript,
  encodeLeaf,
  LOGPROB_SCALE,
  MIN_QUANTISED_LOGPROB,
  openSteps,
  quantiseLogprob,
  verifyOpenings,
} from '../src/transcript/index.js'

const jobId = new Uint8Array(16).fill(0xaa)
const steps = Array.from({ length: 37 }, (_, t) => ({
  token: (t * 7) % 50,
  topK: [
    { id: (t * 7) % 50, logprob: -0.1 - t / 1000 },
    { id: 50 + (t % 3), logprob: -2.5 },
    { id: 60, logprob: -7.25 },
  ],
}))

describe('transcript', () => {
  it('encodes a leaf byte for byte as documented', () => {
    const leaf = encodeLeaf(new Uint8Array([1, 2]), {
      step: 3,
      token: 258,
      topIds: [258, 7],
      topLogprobs: [-1, -65536],
    })
    expect(Buffer.from(leaf).toString('hex')).toBe(
      Buffer.from('infraxa/leaf/v1').toString('hex') +
        '02' +
        '0102' +
        '00000003' +
        '00000102' +
        '0002' +
        '00000102' +
        '00000007' +
        'ffffffff' +
        'ffff0000',
    )
  })

  it('quantises log-probs to Q16.16, clamping −∞ and rejecting NaN or positive values', () => {
    expect(quantiseLogprob(-1)).toBe(-LOGPROB_SCALE)
    expect(quantiseLogprob(0)).toBe(0)
    expect(quantiseLogprob(Number.NEGATIVE_INFINITY)).toBe(MIN_QUANTISED_LOGPROB)
    expect(Math.abs(quantiseLogprob(-1.23456789) / LOGPROB_SCALE + 1.23456789)).toBeLessThan(
      1 / LOGPROB_SCALE,
    )
    expect(() => quantiseLogprob(Number.NaN)).toThrow(InvalidStepError)
    expect(() => quantiseLogprob(0.5)).toThrow(InvalidStepError)
  })

  it('opens challenged steps that verify against the root', () => {
    const t = buildTranscript(jobId, steps)
    expect(t.steps).toHaveLength(37)
    const proof = openSteps(t, [36, 0, 17, 18])
    expect(proof.openings.map((o) => o.step)).toEqual([0, 17, 18, 36])
    expect(verifyOpenings(t.root, jobId, 37, proof, 3)).toBe(true)
  })

  it('rejects an opening with a changed token, log-prob, step index or job id', () => {
    const t = buildTranscript(jobId, steps)
    const proof = openSteps(t, [5, 20])
    const first = proof.openings[0]!
    const variants = [
      { ...first, token: first.token + 1 },
      { ...first, topLogprobs: [first.topLogprobs[0]! - 1, ...first.topLogprobs.slice(1)] },
      { ...first, topIds: [...first.topIds].reverse(), topLogprobs: [...first.topLogprobs].reverse() },
    ]
    for (const v of variants) {
      expect(
        verifyOpenings(t.root, jobId, 37, { openings: [v, proof.openings[1]!], siblings: proof.siblings }),
      ).toBe(false)
    }
    expect(verifyOpenings(t.root, new Uint8Array(16).fill(0xab), 37, proof)).toBe(false)
    // Same content claimed at another index: the step index is inside the leaf.
    let accepted = false
    try {
      accepted = verifyOpenings(t.root, jobId, 37, {
        openings: [{ ...first, step: 4 }, proof.openings[1]!],
        siblings: proof.siblings,
      })
    } catch (e) {
      expect(e).toBeInstanceOf(MalformedProofError)
    }
    expect(accepted).toBe(false)
  })

  it('binds the order of steps: a reordered transcript has another root', () => {
    const swapped = [...steps]
    ;[swapped[3], swapped[4]] = [swapped[4]!, swapped[3]!]
    expect(
      Buffer.from(buildTranscript(jobId, swapped).root).equals(
        Buffer.from(buildTranscript(jobId, steps).root),
      ),
    ).toBe(false)
  })

  it('rejects malformed steps with typed errors', () => {
    expect(() => buildTranscript(jobId, [{ token: 1, topK: [] }])).toThrow(InvalidStepError)
    expect(() =>
      buildTranscript(jobId, [
        {
          token: 1,
          topK: [
            { id: 1, logprob: -1 },
            { id: 1, logprob: -2 },
          ],
        },
      ]),
    ).toThrow(InvalidStepError)
    expect(() => buildTranscript(new Uint8Array(0), steps)).toThrow(InvalidStepError)
    const t = buildTranscript(jobId, steps)
    const proof = openSteps(t, [1])
    expect(() => verifyOpenings(t.root, jobId, 37, proof, 8)).toThrow(InvalidStepError)
  })
})
