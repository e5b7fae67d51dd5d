import { create, InferenceResponseSchema, promptTokenHash, signEnvelope } from '@infraxa/protocol'
import { describe, expect, it } from 'vitest'
import { catchProbability } from '../src/audit/index.js'
import { type ComplianceCase, runModeCompliance } from '../src/compliance/index.js'
import {
  DuplicateVerificationModeError,
  InvalidStepError,
  MalformedVerificationInputError,
  UnknownVerificationModeError,
} from '../src/errors.js'
import { createModeRegistry, merkleMode } from '../src/modes/index.js'
import { buildTranscript } from '../src/transcript/index.js'
import { makeExchange, otherSigner, providerSigner } from './fixtures/exchange.js'
import { ToyModel, toyExecutor } from './fixtures/toy-model.js'

const model = new ToyModel(1)
const otherModel = new ToyModel(2)
const tolerance = { maxLogprobDelta: 0.05, minTopKOverlap: 0.75 }
const context = { executor: toyExecutor(model), tolerance, minAuditSteps: 4 }
/** Challenge every step, so a single falsified step is always caught in these deterministic cases. */
const all = { auditSteps: 64 }

const honest = (name: string, o: Partial<Parameters<typeof makeExchange>[0]> = {}): ComplianceCase => ({
  name,
  input: makeExchange({ model, ...o }).input,
  context,
})

const honestCases: ComplianceCase[] = [
  honest('greedy, 12 steps, c = 4'),
  honest('temperature 0.8, 16 steps', { temperature: 0.8, seed: 99n, maxTokens: 16, jobByte: 2 }),
  honest('k = 4, 5 steps, all audited', { k: 4, maxTokens: 5, jobByte: 3, ...all }),
  honest('one step', { maxTokens: 1, jobByte: 4 }),
  honest('text completion (raw prompt, no template)', { textPrompt: 'Once upon a time', jobByte: 6 }),
  honest('top_p 0.6 at temperature 1.2, 16 steps', {
    temperature: 1.2,
    topP: 0.6,
    maxTokens: 16,
    jobByte: 7,
  }),
  {
    name: 'other hardware (noise 0.02 within tolerance)',
    input: makeExchange({ model, jobByte: 5 }).input,
    context: { ...context, executor: toyExecutor(model, 0.02) },
  },
]

const attack = (name: string, o: Partial<Parameters<typeof makeExchange>[0]>): ComplianceCase => ({
  name,
  input: makeExchange({ model, jobByte: 10, ...all, ...o }).input,
  context,
})

const attackCases: ComplianceCase[] = [
  attack('changed token (committed top-k honest)', {
    cheat: (steps) => steps.map((s, t) => (t === 5 ? { ...s, token: s.topK[2]!.id } : s)),
  }),
  attack('changed token with a forged top-k to match', {
    cheat: (steps) =>
      steps.map((s, t) =>
        t === 5
          ? {
              token: s.topK[2]!.id,
              topK: [s.topK[2]!, s.topK[0]!, s.topK[1]!, ...s.topK.slice(3)].map((e, i) => ({
                id: e.id,
                logprob: s.topK[i]!.logprob,
              })),
            }
          : s,
      ),
  }),
  attack('forged token slipped into the top-k in place of the last real entry (overlap 7/8)', {
    cheat: (steps) =>
      steps.map((s, t) => {
        if (t !== 5) return s
        const outsider = [...Array(64).keys()].find((id) => !s.topK.some((e) => e.id === id))!
        const topK = [{ id: outsider, logprob: -0.01 }, ...s.topK.slice(0, 7)]
        return { token: outsider, topK }
      }),
  }),
  attack('log-prob changed beyond tolerance', {
    cheat: (steps) =>
      steps.map((s, t) =>
        t === 3
          ? { ...s, topK: s.topK.map((e, i) => (i === 1 ? { ...e, logprob: e.logprob - 0.5 } : e)) }
          : s,
      ),
  }),
  attack('steps reordered', { cheat: (steps) => [steps[1]!, steps[0]!, ...steps.slice(2)] }),
  attack('steps truncated (step count says fewer than committed)', {
    tamperResponse: (r) => {
      r.outputTokens = r.outputTokens.slice(0, 8)
      r.stepCount = 8
    },
  }),
  attack('foreign root (another job’s transcript)', {
    tamperResponse: (r) => {
      r.transcriptRoot = buildTranscript(
        new Uint8Array(16).fill(77),
        model.generate([1, 2], 12, 8, (k) => k[0]!.id),
      ).root
    },
  }),
  attack('substituted model (runs another model, claims this one)', { model: otherModel }),
  attack('prompt tampering (evaluated another prompt)', {
    tamperResponse: (r) => {
      r.promptTokens = [...r.promptTokens, 5]
      r.promptTokenHash = promptTokenHash(r.promptTokens)
    },
  }),
  attack('text prompt evaluated under the chat template (prompt tampering)', {
    textPrompt: 'Once upon a time',
    evaluateAsChat: true,
  }),
  attack('top_p asked, provider samples the whole top-k (ignores the nucleus)', {
    temperature: 1.5,
    seed: 3n,
    topP: 0.3,
    providerTopP: undefined,
    maxTokens: 24,
  }),
  attack('router cherry-picked the audited steps', { auditSteps: 4, overrideChallenge: [0, 1, 2, 3] }),
  attack('openings of other steps than challenged', { auditSteps: 4, tamperOpenings: (o) => o.slice(1) }),
  attack('audit proof signed by another key', { provider: otherSigner }),
  attack('too few audited steps', { auditSteps: 2 }),
]

describe('merkle mode', () => {
  it('passes the compliance suite: honest cases verify, every attack is rejected', async () => {
    const report = await runModeCompliance({ mode: merkleMode(), honestCases, attackCases })
    expect(report.outcomes.filter((o) => o.kind === 'honest').every((o) => o.passed)).toBe(true)
    expect(report.outcomes.filter((o) => o.kind !== 'honest').length).toBeGreaterThan(attackCases.length)
    for (const o of report.outcomes.filter((o) => o.kind === 'attack')) {
      expect(o.result?.valid === false ? o.result.reason : o.error, o.name).toBeTruthy()
    }
  })

  it('gives the reason of each rejection', async () => {
    const mode = merkleMode()
    const reason = async (c: ComplianceCase) => {
      const r = await mode.verify(c.input, c.context)
      return r.valid ? 'valid' : r.reason
    }
    expect(await reason(attackCases[0]!)).toMatch(/sampling rule/)
    expect(await reason(attackCases[2]!)).toMatch(/above the model's top-k|sum to/)
    expect(await reason(attackCases[3]!)).toMatch(/Δ log-prob/)
    expect(await reason(attackCases[5]!)).toMatch(/truncated|committed root/)
    expect(await reason(attackCases[7]!)).toMatch(/overlap|Δ log-prob/)
    expect(await reason(attackCases[8]!)).toMatch(/prompt|overlap|Δ log-prob/)
    expect(await reason(attackCases[9]!)).toMatch(/requested prompt/)
    expect(await reason(attackCases[10]!)).toMatch(/sampling rule/)
    expect(await reason(attackCases[11]!)).toMatch(/VRF/)
  })

  it('throws a typed error when the caller omits what the mode needs', async () => {
    const { input } = makeExchange({ model })
    await expect(
      merkleMode().verify({ ...input, auditProof: undefined } as never, context),
    ).rejects.toBeInstanceOf(MalformedVerificationInputError)
    await expect(merkleMode().verify(input, { tolerance })).rejects.toBeInstanceOf(
      MalformedVerificationInputError,
    )
  })

  it('catches a provider falsifying a fraction f of steps about as often as 1 − (1 − f)^c', async () => {
    const f = 0.25
    const c = 4
    let caught = 0
    const jobs = 120
    for (let j = 0; j < jobs; j++) {
      const { input } = makeExchange({
        model,
        jobByte: j,
        maxTokens: 32,
        auditSteps: c,
        content: `job ${j}`,
        // Logit forgery on a fraction f of steps (tokens untouched, so only those steps diverge).
        cheat: (steps) =>
          steps.map((s, t) =>
            (t * 7 + j) % 4 === 0
              ? { ...s, topK: s.topK.map((e, i) => (i === 3 ? { ...e, logprob: e.logprob - 0.5 } : e)) }
              : s,
          ),
      })
      const r = await merkleMode().verify(input, { ...context, executor: toyExecutor(model) })
      if (!r.valid) caught++
    }
    const expected = catchProbability(f, c) // 0.68
    expect(caught / jobs).toBeGreaterThan(expected - 0.15)
    expect(caught / jobs).toBeLessThan(expected + 0.15)
  })

  it('runs the stepwise audit only past its trigger, and it catches what the prefill tolerance lets through', async () => {
    /** TEST DOUBLE: a float engine — its prefill drifts by `drift`, its stepwise replay is exact. */
    const floatEngine = (drift: number) => {
      const exact = toyExecutor(model)
      const prefill = toyExecutor(model, drift)
      const executor = {
        ...exact,
        stepwiseCalls: 0,
        async replay(request: Parameters<typeof exact.replay>[0]) {
          if (request.stepwise !== true) return prefill.replay(request)
          executor.stepwiseCalls++
          return exact.replay(request)
        },
      }
      return executor
    }
    const exactAudit = {
      tolerance: { maxLogprobDelta: 1e-4, minTopKOverlap: 0.875 },
      trigger: { maxDelta: 0.02, meanDelta: 0.01 },
    }
    const run = async (drift: number, cheat?: Parameters<typeof makeExchange>[0]['cheat']) => {
      const executor = floatEngine(drift)
      const { input } = makeExchange({ model, jobByte: 40, maxTokens: 16, ...(cheat && { cheat }) })
      const result = await merkleMode().verify(input, { ...context, executor, exactAudit })
      return { result, stepwise: executor.stepwiseCalls }
    }
    // Honest, drift below the trigger: no stepwise replay.
    const quiet = await run(0.005)
    expect(quiet).toMatchObject({ result: { valid: true, details: { stepwiseAudit: false } }, stepwise: 0 })
    // Honest, unusual drift (past the trigger, within the tolerance): replayed stepwise, and it passes.
    const loud = await run(0.03)
    expect(loud).toMatchObject({ result: { valid: true, details: { stepwiseAudit: true } }, stepwise: 1 })
    // A weight swap that keeps every token and moves the log-probs by 0.03 (inside the 0.05 tolerance).
    const shiftedBy =
      (by: number) => (steps: Parameters<NonNullable<Parameters<typeof makeExchange>[0]['cheat']>>[0]) =>
        steps.map((s) => ({ ...s, topK: s.topK.map((e) => ({ ...e, logprob: e.logprob - by })) }))
    const shifted = shiftedBy(0.03)
    const swap = await run(0, shifted)
    expect(swap.stepwise).toBe(1)
    expect(swap.result).toMatchObject({ valid: false, reason: expect.stringMatching(/stepwise audit/) })
    // A smaller swap that moves every opened step a little (each under maxDelta, their mean over
    // meanDelta): triggered by the mean, caught.
    const small = await run(0, shiftedBy(0.015))
    expect(small.stepwise).toBe(1)
    expect(small.result).toMatchObject({ valid: false, reason: expect.stringMatching(/stepwise audit/) })
    // Without the trigger the same cheat passes: the prefill tolerance alone does not see it.
    const { input } = makeExchange({ model, jobByte: 40, maxTokens: 16, cheat: shifted })
    expect((await merkleMode().verify(input, { ...context, executor: floatEngine(0) })).valid).toBe(true)
  })

  it('a transcript the executor refuses to replay (typed error) is invalid, not a crash', async () => {
    const { input } = makeExchange({ model })
    const refusing = {
      async replay(): Promise<never> {
        throw new InvalidStepError('token id 999999 outside the vocabulary')
      },
    }
    const r = await merkleMode().verify(input, { ...context, executor: refusing })
    expect(r).toMatchObject({ valid: false, reason: expect.stringMatching(/re-execution rejected/) })
  })

  it('a response signed by a key other than the addressed provider is invalid', async () => {
    const { input } = makeExchange({ model })
    const response = create(InferenceResponseSchema, {})
    const forged = signEnvelope('INFERENCE_RESPONSE', response, otherSigner)
    const r = await merkleMode().verify({ ...input, response: forged }, context)
    expect(r.valid).toBe(false)
    expect(providerSigner.publicKey).not.toEqual(otherSigner.publicKey)
  })
})

describe('mode registry', () => {
  it('resolves registered modes and throws typed errors for unknown or duplicate ids', () => {
    const registry = createModeRegistry([merkleMode()])
    expect(registry.has('merkle')).toBe(true)
    expect(registry.get('merkle').id).toBe('merkle')
    expect(() => registry.get('zk_snark')).toThrow(UnknownVerificationModeError)
    expect(() => registry.add(merkleMode())).toThrow(DuplicateVerificationModeError)
    expect(registry.ids()).toEqual(['merkle'])
  })
})
