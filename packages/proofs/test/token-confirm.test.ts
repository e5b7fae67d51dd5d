import { describe, expect, it } from 'vitest'
import { confirmTokens, scoreToken, type TokenScore } from '../src/audit/index.js'
import { createSampler } from '../src/sampling/index.js'
import { ToyModel, toyExecutor } from './fixtures/toy-model.js'

const model = new ToyModel(3)
const sampling = { temperature: 0, seed: 0n }
const prompt = [1, 2, 3]
const k = 8
/** Same-build float noise with a stepwise follow-up (the router's model for F32 on its own build). */
const noise = {
  mismatchRate: 1e-3,
  maxMargin: 0.2,
  stepwise: { mismatchRate: 1e-9, maxMargin: 0.06 },
}

/** An honest greedy answer of the toy model, and a TEST DOUBLE verifier whose cheap replay drifts. */
function answer(cheatAt?: number) {
  const steps = model.generate(prompt, 24, k, createSampler(sampling))
  const outputTokens = steps.map((s, t) => (t === cheatAt ? s.topK[1]!.id : s.token))
  return { outputTokens }
}

/** Cheap-check scores as a drifting prefill would give them: `flagged` steps show a small margin. */
function cheapScores(outputTokens: number[], flagged: number[]): TokenScore[] {
  return outputTokens.map((token, step) => ({
    step,
    token,
    margin: flagged.includes(step) ? 0.01 : 0,
    rank: flagged.includes(step) ? 1 : 0,
    logprob: -1,
  }))
}

describe('confirmTokens (stepwise follow-up of mismatches)', () => {
  const executor = toyExecutor(model)

  it('clears an honest answer whose cheap check showed drift-sized mismatches', async () => {
    const { outputTokens } = answer()
    const calls = executor.calls
    const r = await confirmTokens({
      executor,
      promptTokens: prompt,
      outputTokens,
      scores: cheapScores(outputTokens, [4, 9]),
      k,
      sampling,
      noise,
    })
    expect(executor.calls).toBe(calls + 1)
    expect(r.stepwiseSteps).toBe(10)
    expect(r.verdict).toMatchObject({ verdict: 'pass', mismatches: 0 })
    expect(r.scores).toHaveLength(outputTokens.length)
  })

  it('fails a near-tie swap the cheap check could only call noise', async () => {
    const { outputTokens } = answer(6)
    // The swapped token loses by a margin within the cheap check's honest bound.
    const real = scoreToken({
      step: 6,
      token: outputTokens[6]!,
      distribution: (
        await executor.replay({ promptTokens: prompt, outputTokens, positions: [6], topK: 16 })
      )[0]!,
      k,
      sampling,
      drift: 0,
    })
    expect(real.margin).toBeGreaterThan(0)
    const scores = cheapScores(outputTokens, [6])
    const r = await confirmTokens({
      executor,
      promptTokens: prompt,
      outputTokens,
      scores,
      k,
      sampling,
      noise,
    })
    expect(r.verdict.verdict).toBe('fail')
    expect(r.verdict.reason).toMatch(/stepwise re-execution of steps 0..6/)
  })

  it('replays nothing without mismatches or without a stepwise noise model', async () => {
    const { outputTokens } = answer(6)
    const calls = executor.calls
    const clean = await confirmTokens({
      executor,
      promptTokens: prompt,
      outputTokens,
      scores: cheapScores(outputTokens, []),
      k,
      sampling,
      noise,
    })
    const noStepwise = await confirmTokens({
      executor,
      promptTokens: prompt,
      outputTokens,
      scores: cheapScores(outputTokens, [6]),
      k,
      sampling,
      noise: { mismatchRate: 1e-3, maxMargin: 0.2 },
    })
    expect(executor.calls).toBe(calls)
    expect(clean.verdict.verdict).toBe('pass')
    expect(noStepwise.verdict.verdict).toBe('pass')
  })
})
