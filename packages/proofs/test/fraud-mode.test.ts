import { encodeEnvelope, openEnvelope } from '@infraxa/protocol'
import { describe, expect, it } from 'vitest'
import { type ComplianceCase, runModeCompliance } from '../src/compliance/index.js'
import { adjudicateFraudProof, createFraudProof, fraudProofMode } from '../src/modes/index.js'
import { openSteps } from '../src/transcript/index.js'
import { makeExchange, otherSigner } from './fixtures/exchange.js'
import { ToyModel, toyExecutor, toyTokenize, toyTokenizeText } from './fixtures/toy-model.js'

const model = new ToyModel(1)
const tolerance = { maxLogprobDelta: 0.05, minTopKOverlap: 0.75 }
const context = { executor: toyExecutor(model), tolerance }

/** A watcher's fraud proof against step t of an exchange, with its own recomputation. */
function accuse(exchange: ReturnType<typeof makeExchange>, t: number) {
  const { openings, siblings } = openSteps(exchange.transcript, [t])
  const context_ = [...exchange.steps.slice(0, t).map((s) => s.token)]
  const recomputed = model.topK([...promptOf(exchange), ...context_], 8)
  return createFraudProof({
    request: exchange.input.request,
    response: exchange.input.response,
    opening: openings[0]!,
    siblings,
    recomputed,
    bond: 100n,
    challenger: otherSigner,
  })
}

/** The requested prompt's tokens, as a watcher tokenizes them: the raw text, or the toy chat template. */
function promptOf(exchange: ReturnType<typeof makeExchange>): number[] {
  const { prompt } = openEnvelope('INFERENCE_REQUEST', exchange.input.request).message
  return prompt !== ''
    ? toyTokenizeText(prompt)
    : toyTokenize([{ role: 'user', content: 'Once upon a time' }])
}

const forged = makeExchange({
  model,
  jobByte: 20,
  cheat: (steps) =>
    steps.map((s, t) =>
      t === 6 ? { ...s, topK: s.topK.map((e, i) => (i === 2 ? { ...e, logprob: e.logprob - 1 } : e)) } : s,
    ),
})
const honestExchange = makeExchange({ model, jobByte: 21 })
const accused = makeExchange({ model, jobByte: 23 })

describe('fraud_proof mode (optimistic)', () => {
  it('adjudicates a genuine fraud proof as fraud, and a false accusation as none', async () => {
    const fraud = await adjudicateFraudProof(accuse(forged, 6), context)
    expect(fraud).toMatchObject({ fraud: true, step: 6, bond: 100n })
    expect(fraud.reason).toMatch(/Δ log-prob/)
    const falseAccusation = await adjudicateFraudProof(accuse(honestExchange, 6), context)
    expect(falseAccusation).toMatchObject({ fraud: false })
    expect(falseAccusation.reason).toMatch(/false accusation/)
  })

  it('text completions: an honest answer is no fraud, the prompt run under the chat template is', async () => {
    const honestText = makeExchange({ model, jobByte: 24, textPrompt: 'Once upon a time' })
    expect(await adjudicateFraudProof(accuse(honestText, 4), context)).toMatchObject({ fraud: false })
    const asChat = makeExchange({ model, jobByte: 25, textPrompt: 'Once upon a time', evaluateAsChat: true })
    const ruling = await adjudicateFraudProof(accuse(asChat, 4), context)
    expect(ruling).toMatchObject({ fraud: true })
    expect(ruling.reason).toMatch(/prompt tampering/)
  })

  it('does not blame a provider for an opening it did not commit to', async () => {
    const proof = accuse(honestExchange, 3)
    const forgedOpening = createFraudProof({
      request: honestExchange.input.request,
      response: honestExchange.input.response,
      opening: {
        step: 3,
        token: honestExchange.steps[3]!.token,
        topIds: [1, 2, 3, 4, 5, 6, 7, 8],
        topLogprobs: [0, 0, 0, 0, 0, 0, 0, 0],
      },
      siblings: openSteps(honestExchange.transcript, [3]).siblings,
      recomputed: [],
      bond: 1n,
      challenger: otherSigner,
    })
    expect((await adjudicateFraudProof(forgedOpening, context)).fraud).toBe(false)
    const tampered = { ...proof, signature: proof.signature.map((b, i) => (i === 0 ? b ^ 1 : b)) }
    expect((await adjudicateFraudProof(tampered, context)).fraud).toBe(false)
  })

  it('passes the compliance suite', async () => {
    const honestCases: ComplianceCase[] = [
      { name: 'no fraud proof yet (pending)', input: honestExchange.input, context },
      {
        name: 'false accusation',
        input: { ...accused.input, modeProof: encodeEnvelope(accuse(accused, 6)) },
        context,
      },
      {
        name: 'garbage proof bytes are ignored',
        input: { ...makeExchange({ model, jobByte: 22 }).input, modeProof: new Uint8Array([1, 2, 3]) },
        context,
      },
    ]
    const attackCases: ComplianceCase[] = [
      {
        name: 'forged log-prob proven by a fraud proof',
        input: { ...forged.input, modeProof: encodeEnvelope(accuse(forged, 6)) },
        context,
      },
    ]
    const report = await runModeCompliance({ mode: fraudProofMode(), honestCases, attackCases })
    expect(report.outcomes.find((o) => o.name === 'no fraud proof yet (pending)')?.result).toMatchObject({
      valid: true,
      details: { pending: true },
    })
  })
})
