import { sha512 } from '@noble/hashes/sha2.js'
import { describe, expect, it } from 'vitest'
import {
  auditsNeeded,
  catchProbability,
  createAuditChallenge,
  deriveChallenge,
  verifyAuditChallenge,
} from '../src/audit/index.js'
import { InvalidVrfInputError } from '../src/errors.js'

const output = (i: number) => sha512(new Uint8Array([i & 255, i >> 8, 7]))

describe('audit challenges', () => {
  it('derives c distinct, sorted steps in range, and every step when c ≥ n', () => {
    for (let i = 0; i < 200; i++) {
      const n = 1 + (i % 50)
      const steps = deriveChallenge(output(i), n, 4)
      expect(steps.length).toBe(Math.min(4, n))
      expect(new Set(steps).size).toBe(steps.length)
      expect(steps.every((s) => s >= 0 && s < n)).toBe(true)
      expect([...steps].sort((a, b) => a - b)).toEqual(steps)
    }
    expect(deriveChallenge(output(1), 3, 10)).toEqual([0, 1, 2])
    expect(deriveChallenge(output(1), 0, 4)).toEqual([])
  })

  it('chooses steps uniformly (chi-square over many VRF outputs)', () => {
    const n = 37
    const counts = new Array(n).fill(0)
    const draws = 5000
    for (let i = 0; i < draws; i++) for (const s of deriveChallenge(output(i), n, 4)) counts[s]++
    const expected = (draws * 4) / n
    const chi2 = counts.reduce((acc, c) => acc + (c - expected) ** 2 / expected, 0)
    // 36 degrees of freedom: P(chi2 > 67.99) ≈ 0.001
    expect(chi2).toBeLessThan(67.99)
  })

  it('verifies an honest challenge and rejects one for another root, job, key or cherry-picked steps', () => {
    const vrfSecretKey = new Uint8Array(32).fill(5)
    const jobId = new Uint8Array(16).fill(1)
    const root = new Uint8Array(32).fill(2)
    const challenge = createAuditChallenge({ vrfSecretKey, jobId, root, stepCount: 256, c: 4 })
    expect(verifyAuditChallenge(challenge, { jobId, root, stepCount: 256 })).toBe(true)
    expect(verifyAuditChallenge(challenge, { jobId, root: new Uint8Array(32).fill(3), stepCount: 256 })).toBe(
      false,
    )
    expect(verifyAuditChallenge(challenge, { jobId: new Uint8Array(16), root, stepCount: 256 })).toBe(false)
    expect(verifyAuditChallenge(challenge, { jobId, root, stepCount: 255 })).toBe(false)
    const other = createAuditChallenge({
      vrfSecretKey: new Uint8Array(32).fill(6),
      jobId,
      root,
      stepCount: 256,
      c: 4,
    })
    expect(
      verifyAuditChallenge(
        { ...challenge, vrfPublicKey: other.vrfPublicKey },
        { jobId, root, stepCount: 256 },
      ),
    ).toBe(false)
    const picked = { ...challenge, steps: [0, 1, 2, 3] }
    expect(verifyAuditChallenge(picked, { jobId, root, stepCount: 256 })).toBe(false)
    expect(
      verifyAuditChallenge({ ...challenge, vrfOutput: other.vrfOutput }, { jobId, root, stepCount: 256 }),
    ).toBe(false)
  })

  it('computes catch probabilities and the audits needed for a target', () => {
    expect(catchProbability(0.1, 4)).toBeCloseTo(1 - 0.9 ** 4, 12)
    expect(catchProbability(1, 1)).toBe(1)
    expect(catchProbability(0, 100)).toBe(0)
    expect(auditsNeeded(0.1, 0.99)).toBe(44)
    expect(catchProbability(0.1, auditsNeeded(0.1, 0.99))).toBeGreaterThanOrEqual(0.99)
    expect(() => catchProbability(2, 1)).toThrow(RangeError)
  })

  it('rejects a VRF output of the wrong length with a typed error', () => {
    expect(() => deriveChallenge(new Uint8Array(63), 10, 2)).toThrow(InvalidVrfInputError)
  })
})
