/**
 * Worked example for docs/verification-modes.md: a third-party mode, built only on the public API,
 * that runs the same compliance suite as the built-in modes.
 *
 * `greedy_replay` re-executes *every* step of a greedy answer and checks each output token is the
 * model's argmax (or within `maxLogprobDelta` of it, for near-ties across hardware). No openings needed:
 * it trades the audit's O(c) cost for a full prefill, and works only for temperature 0.
 */
import { describe, expect, it } from 'vitest'
import { ComplianceFailedError } from '../src/errors.js'
import {
  type ComplianceCase,
  checkBinding,
  MalformedVerificationInputError,
  runModeCompliance,
  type VerificationMode,
} from '../src/index.js'
import { makeExchange } from './fixtures/exchange.js'
import { ToyModel, toyExecutor } from './fixtures/toy-model.js'

const greedyReplayMode: VerificationMode = {
  specificationVersion: 'v1',
  id: 'greedy_replay',
  version: '1.0.0',
  needs: ['executor', 'tolerance'],
  async verify(input, context) {
    if (input?.request === undefined || input.response === undefined) {
      throw new MalformedVerificationInputError(
        'greedy_replay',
        'input needs the request and response envelopes',
      )
    }
    if (context.executor === undefined || context.tolerance === undefined) {
      throw new MalformedVerificationInputError('greedy_replay', 'context needs an executor and a tolerance')
    }
    const bound = checkBinding(input.request, input.response)
    if (!bound.ok) return { valid: false, reason: bound.reason }
    const { request, response } = bound.exchange
    if ((request.sampling?.temperature ?? 0) !== 0)
      return { valid: false, reason: 'greedy_replay needs temperature 0' }
    const positions = response.outputTokens.map((_, t) => t)
    const dists = await context.executor.replay({
      promptTokens: response.promptTokens,
      outputTokens: response.outputTokens,
      positions,
      topK: 2,
    })
    for (const t of positions) {
      const [best] = dists[t] ?? []
      const chosen = dists[t]?.find((e) => e.id === response.outputTokens[t])
      if (
        best === undefined ||
        chosen === undefined ||
        best.logprob - chosen.logprob > context.tolerance.maxLogprobDelta
      ) {
        return {
          valid: false,
          reason: `step ${t}: token ${response.outputTokens[t]} is not the model's argmax`,
        }
      }
    }
    return { valid: true, details: { replayedSteps: positions.length } }
  },
}

const model = new ToyModel(1)
const context = { executor: toyExecutor(model), tolerance: { maxLogprobDelta: 0.05, minTopKOverlap: 0.75 } }

describe('a third-party verification mode (worked example)', () => {
  const honestCases: ComplianceCase[] = [
    { name: 'greedy answer', input: makeExchange({ model }).input, context },
    {
      name: 'another greedy answer',
      input: makeExchange({ model, jobByte: 2, content: 'The cat' }).input,
      context,
    },
  ]
  const attackCases: ComplianceCase[] = [
    {
      name: 'one token changed',
      input: makeExchange({
        model,
        jobByte: 3,
        cheat: (s) => s.map((x, t) => (t === 4 ? { ...x, token: x.topK[1]!.id } : x)),
      }).input,
      context,
    },
    { name: 'substituted model', input: makeExchange({ model: new ToyModel(9), jobByte: 4 }).input, context },
  ]

  it('passes the same compliance suite as the built-in modes', async () => {
    const report = await runModeCompliance({ mode: greedyReplayMode, honestCases, attackCases })
    expect(report.failures).toEqual([])
  })

  it('the suite fails a mode that accepts everything', async () => {
    const acceptAll: VerificationMode = {
      ...greedyReplayMode,
      id: 'accept_all',
      verify: async () => ({ valid: true }),
    }
    await expect(runModeCompliance({ mode: acceptAll, honestCases, attackCases })).rejects.toBeInstanceOf(
      ComplianceFailedError,
    )
  })

  it('the suite fails a mode that crashes with an untyped error', async () => {
    const crashes: VerificationMode = {
      ...greedyReplayMode,
      id: 'crashes',
      verify: async (input, ctx) => {
        // Forgets to check its input: crashes with a TypeError on a missing request.
        if (input.request.payload.length === 0) throw new Error('empty request')
        return greedyReplayMode.verify(input, ctx)
      },
    }
    await expect(runModeCompliance({ mode: crashes, honestCases, attackCases })).rejects.toThrow(
      /input without a request did not throw a typed/,
    )
    const crashAlways: VerificationMode = {
      ...greedyReplayMode,
      id: 'crash',
      verify: async () => {
        throw new Error('boom')
      },
    }
    await expect(runModeCompliance({ mode: crashAlways, honestCases, attackCases })).rejects.toThrow(/failed/)
  })
})
