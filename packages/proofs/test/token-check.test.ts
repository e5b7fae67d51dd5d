import { describe, expect, it } from 'vitest'
import { compareStep } from '../src/audit/compare.js'
import { binomialTail, judgeTokens, scoreToken, type TokenScore } from '../src/audit/token-check.js'
import { createSampler, type SamplingParams } from '../src/sampling/sample.js'

const greedy = { temperature: 0, seed: 0n }
/** A verifier distribution: ids 10, 11, … with the given log-probs (most likely first). */
const dist = (...logprobs: number[]) => logprobs.map((logprob, i) => ({ id: 10 + i, logprob }))
const score = (token: number, distribution = dist(-0.5, -1, -2, -3, -4, -5), k = 4, sampling = greedy) =>
  scoreToken({ step: 3, token, distribution, k, sampling, drift: 0.03 })

describe('scoreToken', () => {
  it('gives margin 0 to the verifier’s own pick and the log-prob gap to another token at T = 0', () => {
    expect(score(10).margin).toBe(0)
    expect(score(11).margin).toBeCloseTo(0.5, 4)
    expect(score(11).rank).toBe(1)
    expect(score(99)).toMatchObject({ margin: Number.POSITIVE_INFINITY, rank: -1 })
  })

  it('at T > 0 gives margin 0 to the token the seeded sampler picks from the same log-probs', () => {
    const distribution = dist(-1.2, -1.3, -1.5, -1.9, -2.4, -3)
    for (let seed = 0n; seed < 40n; seed++) {
      const sampling = { temperature: 0.9, seed }
      const pick = createSampler(sampling)(distribution.slice(0, 4), 3)
      expect(score(pick, distribution, 4, sampling).margin).toBe(0)
      const other = distribution.slice(0, 4).find((e) => e.id !== pick)!.id
      expect(score(other, distribution, 4, sampling).margin).toBeGreaterThan(0)
    }
  })

  it('poseidon-gumbel: margin 0 for the pick, > 0 for a loser, and near-tied ranks (drift) never flag an honest pick', () => {
    const distribution = dist(-1.2, -1.21, -1.5, -1.9, -2.4, -3, -6, -7, -8, -9)
    let flagged = 0
    let honestFlags = 0
    for (let seed = 0n; seed < 200n; seed++) {
      const sampling = { temperature: 0.9, seed, rule: 'poseidon-gumbel' as const }
      const choose = createSampler(sampling)
      const pick = choose(distribution.slice(0, 8), 3)
      expect(score(pick, distribution, 8, sampling).margin).toBe(0)
      const others = distribution.slice(0, 8).filter((e) => e.id !== pick)
      if (others.some((e) => score(e.id, distribution, 8, sampling).margin > 0.06)) flagged++
      // An honest provider whose numerics (Δ 0.02 ≤ drift) swap two near-tied candidates: its ranks,
      // hence its noise, differ from the verifier's.
      const provider = distribution.map((e) => (e.id === 11 ? { ...e, logprob: -1.19 } : e))
      provider.sort((a, b) => b.logprob - a.logprob)
      const honestPick = choose(provider.slice(0, 8), 3)
      if (score(honestPick, distribution, 8, sampling).margin > 0.06) honestFlags++
    }
    expect(honestFlags).toBe(0)
    expect(flagged).toBeGreaterThan(150)
  })

  it('does not hold a near-boundary candidate against an honest pick (it may be outside the provider’s top-k)', () => {
    // The verifier's 4th entry is within 2 × drift of its 5th: the provider may have ranked it 5th.
    const distribution = dist(-1, -1.5, -2, -3.0, -3.01, -5)
    expect(score(10, distribution).margin).toBe(0)
    // A token the provider could not have had in its top-4 but the verifier ranks 5th is still found.
    expect(score(14, distribution).rank).toBe(4)
  })
})

const honest = (n: number): TokenScore[] =>
  Array.from({ length: n }, (_, step) => ({ step, token: 1, margin: 0, rank: 0, logprob: -0.1 }))

describe('judgeTokens', () => {
  const noise = { mismatchRate: 0.002, maxMargin: 0.06 }

  it('passes honest tokens, with a few drift-sized mismatches', () => {
    const scores = honest(256)
    scores[7] = { ...scores[7]!, margin: 0.004 }
    expect(judgeTokens(scores, noise)).toMatchObject({ verdict: 'pass', mismatches: 1 })
  })

  it('fails one token beyond the honest margin, naming its step', () => {
    const scores = honest(32)
    scores[9] = { ...scores[9]!, margin: 0.2 }
    const v = judgeTokens(scores, noise)
    expect(v.verdict).toBe('fail')
    expect(v.reason).toMatch(/^step 9: token 1 loses/)
  })

  it('fails a token that is not in the model’s distribution', () => {
    const scores = honest(32)
    scores[2] = { ...scores[2]!, margin: Number.POSITIVE_INFINITY, rank: -1 }
    expect(judgeTokens(scores, noise).reason).toMatch(/not among the model's most likely tokens/)
  })

  it('fails many small mismatches that honest noise would almost never produce, grey for fewer', () => {
    const many = honest(64).map((s, i) => (i % 8 === 0 ? { ...s, margin: 0.05 } : s))
    expect(judgeTokens(many, noise)).toMatchObject({ verdict: 'fail', mismatches: 8 })
    const some = honest(64).map((s, i) => (i % 16 === 0 ? { ...s, margin: 0.05 } : s))
    expect(judgeTokens(some, noise).verdict).toBe('grey')
  })
})

describe('binomialTail', () => {
  it('matches exact values', () => {
    expect(binomialTail(10, 0, 0.3)).toBe(1)
    expect(binomialTail(10, 11, 0.3)).toBe(0)
    // P(X ≥ 2), n = 3, p = 0.5: (3 + 1) / 8
    expect(binomialTail(3, 2, 0.5)).toBeCloseTo(0.5, 12)
    // P(X ≥ 1) = 1 − (1 − p)^n
    expect(binomialTail(200, 1, 0.01)).toBeCloseTo(1 - 0.99 ** 200, 12)
    expect(binomialTail(1000, 50, 0.001)).toBeLessThan(1e-60)
  })
})

describe('compareStep at the top-k boundary', () => {
  const q = (lp: number) => Math.round(lp * 65536)
  // Committed by the provider: ids 1..4; the sampled token 4 is its 4th, just above 5 (not committed).
  const committed = { step: 0, token: 4, topIds: [1, 2, 3, 4], topLogprobs: [-1, -1.5, -2.5, -3].map(q) }
  const tolerance = { maxLogprobDelta: 0.05, minTopKOverlap: 0.75 }

  it('accepts a chosen token the verifier ranks just outside its top-k (drift at the boundary)', () => {
    const recomputed = [
      { id: 1, logprob: -1 },
      { id: 2, logprob: -1.5 },
      { id: 3, logprob: -2.5 },
      { id: 5, logprob: -2.99 },
    ]
    expect(compareStep(committed, recomputed, tolerance).ok).toBe(true)
  })

  it('still rejects a chosen token far below the verifier’s top-k', () => {
    const recomputed = [
      { id: 1, logprob: -1 },
      { id: 2, logprob: -1.5 },
      { id: 3, logprob: -2.5 },
      { id: 5, logprob: -2.5 },
    ]
    const low = { ...committed, topLogprobs: [-1, -1.5, -2.5, -2.9].map(q) }
    const verdict = compareStep(low, recomputed, tolerance)
    expect(verdict.ok).toBe(false)
  })
})

/** A deterministic PRNG (mulberry32), so the simulations below are reproducible. */
function rng(seed: number) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * TEST DOUBLE numerics: a vocabulary-64 distribution (log-softmax of spread logits) as the verifier
 * sees it, and the provider's copy with every log-prob moved by up to `drift` (other hardware).
 */
function pairOfViews(random: () => number, drift: number) {
  const logits = Array.from(
    { length: 64 },
    () => 3 * random() ** 2 * (random() < 0.5 ? -1 : 1) + 2 * random(),
  )
  const max = Math.max(...logits)
  const z = Math.log(logits.reduce((s, l) => s + Math.exp(l - max), 0)) + max
  const verifier = logits.map((l, id) => ({ id, logprob: l - z }))
  const provider = verifier.map((e) => ({ id: e.id, logprob: e.logprob + (2 * random() - 1) * drift }))
  const byLogprob = (a: { id: number; logprob: number }, b: { id: number; logprob: number }) =>
    b.logprob - a.logprob || a.id - b.id
  return { verifier: verifier.sort(byLogprob), provider: provider.sort(byLogprob) }
}

describe('scoreToken with top_p (nucleus), simulated drift', () => {
  const drift = 0.03
  const k = 8
  const steps = 10_000

  /** Simulated jobs of 32 steps: how many the token check fails, and the per-step counts. */
  function run(sampling: SamplingParams, providerSampling: SamplingParams) {
    const random = rng(20261203)
    const choose = createSampler(providerSampling)
    const noise = { mismatchRate: 0.02, maxMargin: 2 * drift }
    let mismatches = 0
    let outside = 0
    let failedJobs = 0
    let job: TokenScore[] = []
    for (let t = 0; t < steps; t++) {
      const { verifier, provider } = pairOfViews(random, drift)
      const token = choose(provider.slice(0, k), t)
      const s = scoreToken({ step: t, token, distribution: verifier.slice(0, k + 8), k, sampling, drift })
      if (s.margin > 0) mismatches++
      if (s.margin === Number.POSITIVE_INFINITY) outside++
      job.push(s)
      if (job.length === 32) {
        if (judgeTokens(job, noise).verdict === 'fail') failedJobs++
        job = []
      }
    }
    return { mismatches, outside, failedJobs, jobs: steps / 32 }
  }

  it('never fails an honest job (2 × 10,000 steps in 32-step jobs, drift 0.03)', () => {
    for (const topP of [0.5, 0.9]) {
      const sampling = { temperature: 1, seed: 5n, topP }
      const honest = run(sampling, sampling)
      expect(honest.failedJobs, `top_p ${topP}`).toBe(0)
      expect(honest.outside).toBe(0)
      // Drift flips near-ties as without top_p: a small share of mismatches, within the margin.
      expect(honest.mismatches / steps).toBeLessThan(0.02)
    }
  })

  it('fails most jobs of a provider that ignores top_p (its pick surely outside the nucleus)', () => {
    const sampling = { temperature: 1, seed: 5n, topP: 0.5 }
    const cheat = run(sampling, { temperature: 1, seed: 5n })
    // Measured here: ~7.7% of steps surely outside; a 32-step job is caught when any one is.
    expect(cheat.outside / steps).toBeGreaterThan(0.05)
    expect(cheat.failedJobs / cheat.jobs).toBeGreaterThan(0.85)
  })

  it('scores a token surely outside the nucleus as +∞ and keeps a boundary token comparable', () => {
    const sampling = { temperature: 1, seed: 1n, topP: 0.5 }
    // P(10) ≈ 0.905: the nucleus is {10} for any honest drift; 11 is surely outside.
    const d = dist(-0.1, -3, -3.2, -3.4, -3.6, -3.8)
    expect(score(11, d, 4, sampling).margin).toBe(Number.POSITIVE_INFINITY)
    expect(score(10, d, 4, sampling).margin).toBe(0)
    expect(judgeTokens([score(11, d, 4, sampling)], { mismatchRate: 0.002, maxMargin: 0.06 }).reason).toMatch(
      /outside the top_p nucleus/,
    )
    // P(10) = 0.5 exactly at top_p 0.5: 11 may be inside an honest nucleus (drift), so not +∞.
    const edge = dist(Math.log(0.5), Math.log(0.3), Math.log(0.1), Math.log(0.05), -4, -5)
    expect(score(11, edge, 4, sampling).margin).toBeLessThan(Number.POSITIVE_INFINITY)
  })
})
