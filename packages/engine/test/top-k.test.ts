import { describe, expect, it } from 'vitest'
import { distributionDistance } from '../src/distribution-distance.js'
import { compareTokenLogprobs, MIN_LOGPROB, topKFromSortedProbabilities } from '../src/top-k.js'

describe('topKFromSortedProbabilities', () => {
  it('takes the first k entries as natural-log probabilities', () => {
    const p = new Map([
      [5, 0.5],
      [3, 0.25],
      [9, 0.125],
      [1, 0.125],
    ])
    expect(topKFromSortedProbabilities(p, 2)).toEqual([
      { id: 5, logprob: Math.log(0.5) },
      { id: 3, logprob: Math.log(0.25) },
    ])
  })

  it('breaks ties by lower id, including ties across the k-th entry', () => {
    const p = new Map([
      [7, 0.4],
      [9, 0.2],
      [4, 0.2],
      [2, 0.2],
    ])
    expect(topKFromSortedProbabilities(p, 2).map((e) => e.id)).toEqual([7, 2])
    expect(topKFromSortedProbabilities(p, 3).map((e) => e.id)).toEqual([7, 2, 4])
  })

  it('returns fewer entries when the vocabulary is smaller than k, and floors zero probabilities', () => {
    const p = new Map([
      [0, 1],
      [1, 0],
    ])
    expect(topKFromSortedProbabilities(p, 5)).toEqual([
      { id: 0, logprob: 0 },
      { id: 1, logprob: MIN_LOGPROB },
    ])
  })

  it('orders by log-prob descending then id', () => {
    const list = [
      { id: 3, logprob: -1 },
      { id: 1, logprob: -1 },
      { id: 2, logprob: -0.5 },
    ]
    expect(list.sort(compareTokenLogprobs).map((e) => e.id)).toEqual([2, 1, 3])
  })
})

describe('distributionDistance', () => {
  const committed = [
    { id: 1, logprob: -0.1 },
    { id: 2, logprob: -2 },
    { id: 3, logprob: -3 },
    { id: 4, logprob: -4 },
  ]

  it('is zero for identical distributions', () => {
    expect(distributionDistance(committed, committed)).toEqual({
      maxLogprobDelta: 0,
      topKOverlap: 1,
      sharedIds: 4,
    })
  })

  it('measures the largest delta over shared ids and the overlap of committed ids', () => {
    const replayed = [
      { id: 1, logprob: -0.15 },
      { id: 2, logprob: -1.9 },
      { id: 3, logprob: -3 },
      { id: 9, logprob: -3.5 },
    ]
    const d = distributionDistance(committed, replayed)
    expect(d.maxLogprobDelta).toBeCloseTo(0.1, 12)
    expect(d.topKOverlap).toBe(0.75)
  })

  it('is infinitely far when no id is shared', () => {
    expect(distributionDistance(committed, [{ id: 8, logprob: 0 }]).maxLogprobDelta).toBe(
      Number.POSITIVE_INFINITY,
    )
  })
})

describe('toleranceForQuantization', () => {
  it('is the calibrated tolerance for quantised weights and the float one for F32/F16/BF16', async () => {
    const { CALIBRATED_TOLERANCE, FLOAT_WEIGHTS_TOLERANCE, toleranceForQuantization } = await import(
      '../src/index.js'
    )
    expect(toleranceForQuantization('Q8_0')).toBe(CALIBRATED_TOLERANCE)
    expect(toleranceForQuantization('Q4_K_M')).toBe(CALIBRATED_TOLERANCE)
    for (const q of ['F32', 'F16', 'bf16']) expect(toleranceForQuantization(q)).toBe(FLOAT_WEIGHTS_TOLERANCE)
    expect(FLOAT_WEIGHTS_TOLERANCE.maxLogprobDelta).toBeGreaterThan(CALIBRATED_TOLERANCE.maxLogprobDelta)
  })
})
