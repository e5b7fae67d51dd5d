import { MalformedVerificationInputError } from '@infraxa/proofs'
import { type BoundExchange, checkBinding, type VerificationMode } from '@infraxa/proofs/modes'
import {
  bytesEqual,
  ConsensusEvidenceSchema,
  create,
  decodeMessage,
  encodeMessage,
  InfraxaError,
  type SignedEnvelope,
} from '@infraxa/protocol'

export const CONSENSUS_MODE_ID = 'consensus'

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

/** The encoded CONSENSUS_EVIDENCE of the other exchanges (the mode proof). */
export function encodeConsensusEvidence(
  exchanges: ReadonlyArray<{ request: SignedEnvelope; response: SignedEnvelope }>,
) {
  return encodeMessage(
    'CONSENSUS_EVIDENCE',
    create(ConsensusEvidenceSchema, {
      requests: exchanges.map((e) => e.request),
      responses: exchanges.map((e) => e.response),
    }),
  )
}

/** Whether two bound exchanges are the same job for the consensus: same router, model, prompt, sampling. */
function sameJob(
  a: BoundExchange,
  b: BoundExchange,
  routerKey: Uint8Array,
  otherRouterKey: Uint8Array,
): boolean {
  const sa = a.request.sampling
  const sb = b.request.sampling
  return (
    bytesEqual(routerKey, otherRouterKey) &&
    bytesEqual(a.request.modelHash, b.request.modelHash) &&
    sa?.temperature === sb?.temperature &&
    sa?.seed === sb?.seed &&
    sa?.maxTokens === sb?.maxTokens &&
    sa?.topP === sb?.topP &&
    (sa?.stop ?? []).join('\u0000') === (sb?.stop ?? []).join('\u0000') &&
    a.response.promptTokens.length === b.response.promptTokens.length &&
    a.response.promptTokens.every((t, i) => t === b.response.promptTokens[i])
  )
}

const sameTokens = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((t, i) => t === b[i])

/**
 * The `consensus` mode (k of n), added the way a third party adds one: through the mode registry and the
 * compliance suite, with only `@infraxa/proofs`' public API. The router sends one job to n providers with
 * the same seed; an answer is valid when at least `k` distinct providers committed to exactly its tokens
 * for the same signed job. The mode proof is the CONSENSUS_EVIDENCE of the other exchanges; each one is
 * checked like the answer itself (signatures, request/response binding, same router, model, prompt,
 * sampling and seed, another provider). Exchanges that fail a check count as disagreeing, never as
 * agreeing. Under seeded sampling honest providers on the same engine give the same tokens (the engine's
 * calibration: bit-exact on one build), so agreement is token for token.
 *
 * @example
 * const registry = createModeRegistry([merkleMode(), consensusMode({ k: 2 })])
 */
export function consensusMode({ k = 2 }: { k?: number } = {}): VerificationMode {
  if (!Number.isInteger(k) || k < 1) throw new RangeError('consensusMode: k must be a positive integer')
  return {
    specificationVersion: 'v1',
    id: CONSENSUS_MODE_ID,
    version: '1.0.0',
    needs: ['modeProof'],
    async verify(input) {
      if (input?.request === undefined || input.response === undefined) {
        throw new MalformedVerificationInputError(
          CONSENSUS_MODE_ID,
          'input needs the request and response envelopes',
        )
      }
      if (input.modeProof === undefined) {
        throw new MalformedVerificationInputError(
          CONSENSUS_MODE_ID,
          'input needs the other exchanges (modeProof)',
        )
      }
      const primary = checkBinding(input.request, input.response)
      if (!primary.ok) return { valid: false, reason: primary.reason }
      let others: Array<{ request: SignedEnvelope; response: SignedEnvelope }>
      try {
        const evidence = decodeMessage('CONSENSUS_EVIDENCE', input.modeProof)
        if (evidence.requests.length !== evidence.responses.length) {
          return { valid: false, reason: 'consensus evidence: as many requests as responses are needed' }
        }
        others = evidence.requests.map((request, i) => ({ request, response: evidence.responses[i]! }))
      } catch (error) {
        if (!(error instanceof InfraxaError)) throw error
        return { valid: false, reason: `consensus evidence: ${error.shortMessage}` }
      }
      const providers = new Set([hex(primary.exchange.providerKey)])
      const dissent: string[] = []
      let agree = 1
      for (const other of others) {
        const bound = checkBinding(other.request, other.response)
        if (!bound.ok) {
          dissent.push(`an exchange that does not verify (${bound.reason})`)
          continue
        }
        const provider = hex(bound.exchange.providerKey)
        if (providers.has(provider)) {
          dissent.push(`provider ${provider.slice(0, 16)}… counted twice`)
          continue
        }
        providers.add(provider)
        if (!sameJob(primary.exchange, bound.exchange, input.request.publicKey, other.request.publicKey)) {
          dissent.push(`provider ${provider.slice(0, 16)}… answered another job`)
          continue
        }
        if (sameTokens(primary.exchange.response.outputTokens, bound.exchange.response.outputTokens)) agree++
        else dissent.push(`provider ${provider.slice(0, 16)}… committed other tokens`)
      }
      const of = others.length + 1
      if (agree >= k) return { valid: true, details: { agree, of, k, dissent } }
      return {
        valid: false,
        reason: `${agree} of ${of} providers committed to this answer, ${k} needed${dissent.length > 0 ? ` (${dissent.join('; ')})` : ''}`,
        details: { agree, of, k, dissent },
      }
    },
  }
}
