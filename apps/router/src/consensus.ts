import type { InfraxaNode } from '@infraxa/p2p'
import { type FraudRuling, MERKLE_MODE_ID, type ModeRegistry } from '@infraxa/proofs/modes'
import { create, openEnvelope, ReceiptSchema, type SignedEnvelope, signEnvelope } from '@infraxa/protocol'
import { CONSENSUS_MODE_ID, encodeConsensusEvidence } from './consensus-mode.js'
import { NoVerifiedAnswerError } from './errors.js'
import { buildFraudProof } from './fraud-evidence.js'
import type { CompletionRequest, CompletionResult } from './http.js'
import type { ReceiptStore } from './receipts.js'
import type { ReputationBook } from './reputation.js'
import type { VerifyModels } from './verify-models.js'

type Exchange = { request: SignedEnvelope; response: SignedEnvelope; outputTokens: readonly number[] }

/** What the consensus orchestration needs from the router. */
export interface ConsensusDeps {
  /** Providers asked per request. @default 3 */
  n: number
  /** Providers that must commit to the same tokens. @default 2 */
  k: number
  /** The signed exchange behind a receipt this router issued. */
  exchangeOf(receiptId: string): Exchange | undefined
  /** Keeps the consensus verdict as the answer's receipt (verification `consensus`, evidence inside). */
  seal(receiptId: string, providerId: string, evidence: Uint8Array, reason: string): void
  /**
   * A provider whose answer disagrees with the consensus: re-executed from the step where it departs,
   * and if a step proves fraud, penalised (and accused on chain). Runs in the background.
   */
  onDissent(
    exchange: { request: SignedEnvelope; response: SignedEnvelope },
    steps: number[],
    providerId: string,
  ): Promise<void>
  /** A provider in the agreeing group whose own job was not audited: verified by the agreement (paid). */
  onAgreed(receiptId: string, providerId: string, exchange: Exchange): void
}

/**
 * The `consensus` mode's orchestration: one request sent to n distinct providers with the same seed
 * (each an ordinary job: bound, committed, audited as the router's settings say), the answers grouped by
 * their committed tokens, and the largest group's answer returned when at least k providers are in it —
 * checked by the consensus mode itself on the signed exchanges, whose evidence the receipt keeps. Every
 * provider outside it is re-executed where its tokens depart, so a disagreement becomes a fraud proof
 * when one step shows it.
 *
 * @throws {NoVerifiedAnswerError} fewer than k providers could serve, or no k agreed
 */
export async function runConsensus(
  deps: ConsensusDeps,
  args: {
    request: CompletionRequest
    /** Providers eligible now (the request is sent to at most n of them). */
    eligible: number
    registry: ModeRegistry
    run: (request: CompletionRequest, taken: Set<string>) => Promise<CompletionResult>
  },
): Promise<CompletionResult> {
  const { n, k } = deps
  const count = Math.min(n, args.eligible)
  if (count < k) {
    throw new NoVerifiedAnswerError([
      `consensus needs ${k} providers of the model, ${args.eligible} can serve it now`,
    ])
  }
  // Every job the same seed: honest providers then commit to the same tokens.
  const sub: CompletionRequest = { ...args.request, verification: MERKLE_MODE_ID }
  const taken = new Set<string>()
  const settled = await Promise.allSettled(Array.from({ length: count }, () => args.run(sub, taken)))
  const answers = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []))
  const failures = settled.flatMap((s) =>
    s.status === 'rejected' ? [String((s.reason as Error).message)] : [],
  )
  const withExchange = answers.flatMap((result) => {
    const exchange = deps.exchangeOf(result.receipt.receipt_id)
    return exchange === undefined ? [] : [{ result, exchange }]
  })
  const key = (tokens: readonly number[]) => tokens.join(',')
  const groups = new Map<string, typeof withExchange>()
  for (const a of withExchange) {
    const g = groups.get(key(a.exchange.outputTokens)) ?? []
    g.push(a)
    groups.set(key(a.exchange.outputTokens), g)
  }
  const largest = [...groups.values()].sort((a, b) => b.length - a.length)[0] ?? []
  const primary = largest[0]
  if (primary === undefined || largest.length < k) {
    throw new NoVerifiedAnswerError([
      `consensus not reached: ${largest.length} of ${withExchange.length} answers agree, ${k} needed`,
      ...failures,
    ])
  }
  const others = withExchange.filter((a) => a !== primary)
  const evidence = encodeConsensusEvidence(others.map((a) => a.exchange))
  const verdict = await args.registry
    .get(CONSENSUS_MODE_ID)
    .verify(
      { request: primary.exchange.request, response: primary.exchange.response, modeProof: evidence },
      {},
    )
  if (!verdict.valid) throw new NoVerifiedAnswerError([`consensus check failed: ${verdict.reason}`])
  const reason = `${largest.length} of ${withExchange.length} providers committed to this answer (k = ${k})`
  deps.seal(primary.result.receipt.receipt_id, primary.result.receipt.provider, evidence, reason)
  for (const agreed of largest) {
    if (agreed.result.receipt.verdict === 'unaudited') {
      deps.onAgreed(agreed.result.receipt.receipt_id, agreed.result.receipt.provider, agreed.exchange)
    }
  }
  for (const dissenter of withExchange.filter((a) => !largest.includes(a))) {
    const mine = dissenter.exchange.outputTokens
    const theirs = primary.exchange.outputTokens
    let step = 0
    while (step < mine.length && step < theirs.length && mine[step] === theirs[step]) step++
    if (step >= mine.length) continue
    void deps
      .onDissent(dissenter.exchange, [step], dissenter.result.receipt.provider)
      .catch((error: unknown) => {
        console.error('router: could not re-execute a dissenting answer:', error)
      })
  }
  return {
    ...primary.result,
    receipt: {
      ...primary.result.receipt,
      verification: CONSENSUS_MODE_ID,
      verdict: 'verified',
      reason,
      attempts: answers.length + failures.length,
    },
  }
}

/**
 * The router's {@link ConsensusDeps}: exchanges read from its receipts, the consensus receipt signed by
 * its node, dissenters re-executed with {@link buildFraudProof} — proven fraud recorded in reputation
 * (a ban) and handed on (`onFraud`: the stake contract).
 */
export function routerConsensus(deps: {
  n: number
  k: number
  node: InfraxaNode
  receipts: ReceiptStore
  reputation: ReputationBook
  verifyModels: VerifyModels
  onFraud: (proof: SignedEnvelope, ruling: FraudRuling) => void
  /** A verified answer and its tokens (prompt + output): what a provider is paid for. */
  onVerified: (providerId: string, jobHex: string, tokens: number) => void
}): ConsensusDeps {
  const receiptOf = (id: string) => {
    const envelope = deps.receipts.getEnvelope(id)
    return envelope === undefined
      ? undefined
      : openEnvelope('RECEIPT', envelope, { signer: deps.node.publicKey }).message
  }
  return {
    n: deps.n,
    k: deps.k,
    exchangeOf(id) {
      const receipt = receiptOf(id)
      if (receipt?.request === undefined || receipt.response === undefined) return undefined
      const { outputTokens } = openEnvelope('INFERENCE_RESPONSE', receipt.response).message
      return { request: receipt.request, response: receipt.response, outputTokens }
    },
    seal(id, providerId, evidence, reason) {
      const receipt = receiptOf(id)
      if (receipt === undefined) return
      const sealed = create(ReceiptSchema, {
        ...receipt,
        verificationMode: CONSENSUS_MODE_ID,
        verdict: 'verified',
        reason,
        modeProof: evidence,
        issuedAtMs: BigInt(Date.now()),
      })
      deps.receipts.put(id, signEnvelope('RECEIPT', sealed, deps.node.signer), providerId, 'verified')
    },
    onAgreed(receiptId, providerId, exchange) {
      const { promptTokens, outputTokens } = openEnvelope('INFERENCE_RESPONSE', exchange.response).message
      deps.onVerified(providerId, receiptId, promptTokens.length + outputTokens.length)
    },
    async onDissent(exchange, steps, providerId) {
      const found = await buildFraudProof(deps.node, providerId, exchange, steps, deps.verifyModels, 0n)
      if (found === undefined) return
      const jobId = Buffer.from(found.ruling.jobId).toString('hex')
      deps.reputation.record(providerId, 'fraud', {
        jobId,
        reason: `disagreed with the consensus, and step ${found.ruling.step} proves it: ${found.ruling.reason}`,
      })
      deps.onFraud(found.proof, found.ruling)
    },
  }
}
