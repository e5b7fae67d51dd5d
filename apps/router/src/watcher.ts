import type { InfraxaNode } from '@infraxa/p2p'
import type { TokenVerdict } from '@infraxa/proofs/audit'
import { MERKLE_MODE_ID, type ModeRegistry } from '@infraxa/proofs/modes'
import {
  create,
  InfraxaError,
  openEnvelope,
  ReceiptSchema,
  type SignedEnvelope,
  signEnvelope,
} from '@infraxa/protocol'
import { fetchAuditProof, signAuditChallenge } from './audit-request.js'
import { type ReceiptStore, tokenCheckMessage } from './receipts.js'
import type { ReputationBook } from './reputation.js'
import type { VerifyModels } from './verify-models.js'

export interface WatcherDeps {
  node: InfraxaNode
  registry: ModeRegistry
  receipts: ReceiptStore
  reputation: ReputationBook
  verifyModels: VerifyModels
  vrfSecretKey: Uint8Array
  auditSteps: number
  /** Called with each settled verdict (metrics). */
  onSettled: (verdict: 'verified' | 'failed', jobHex: string, reason: string) => void
  /** Called (and awaited) when the audit proves fraud: the stake contract's turn. */
  onAuditFailed?: AuditFailedHook
  /** Told of each answer settled verified and its tokens (prompt + output): what a provider is paid for. */
  onVerified?: (providerId: string, jobHex: string, tokens: number) => void
}

/** What the router does with an audit that failed: take it to the stake contract when one step proves it. */
export type AuditFailedHook = (
  exchange: { request: SignedEnvelope; response: SignedEnvelope },
  steps: readonly number[],
  providerId: string,
) => Promise<void>

/**
 * The optimistic mode's watcher: settles a `pending` receipt by auditing the answer after the fact
 * (same VRF challenge and full audit check as an audited job, with the per-token verdict), re-signing
 * the receipt `verified` or `failed` and recording success or fraud in the reputation book.
 */
export function createWatcher({
  node,
  registry,
  receipts,
  reputation,
  verifyModels,
  vrfSecretKey,
  auditSteps,
  onSettled,
  onAuditFailed,
  onVerified,
}: WatcherDeps) {
  /**
   * The router's watcher for an optimistic answer: audits c VRF-chosen steps after the fact, and on a
   * step the model does not produce, builds a self-contained fraud proof, adjudicates it, bans the
   * provider and marks the receipt failed.
   */
  return async function watch(
    jobHex: string,
    receipt: ReturnType<typeof create<typeof ReceiptSchema>>,
    providerId: string,
    modelHash: Uint8Array,
  ): Promise<{ verdict: string; reason: string }> {
    // The settled receipt carries what the verdict rests on, as an audited job's does: the challenge,
    // the provider's signed answer to it and the per-token check, for anyone to check again.
    const settle = (
      verdict: 'verified' | 'failed',
      reason: string,
      evidence: {
        challenge?: SignedEnvelope
        auditProof?: SignedEnvelope
        tokenCheck?: TokenVerdict | undefined
      } = {},
    ) => {
      const updated = create(ReceiptSchema, {
        ...receipt,
        verdict,
        reason,
        issuedAtMs: BigInt(Date.now()),
        ...(evidence.challenge && { challenge: evidence.challenge }),
        ...(evidence.auditProof && { auditProof: evidence.auditProof }),
        ...(evidence.tokenCheck && { tokenCheck: tokenCheckMessage(evidence.tokenCheck) }),
      })
      receipts.put(jobHex, signEnvelope('RECEIPT', updated, node.signer), providerId, verdict)
      onSettled(verdict, jobHex, reason)
      return { verdict, reason }
    }
    try {
      const request = receipt.request!
      const response = receipt.response!
      const { message: res } = openEnvelope('INFERENCE_RESPONSE', response)
      const executor = verifyModels.engineFor(modelHash)!
      const tolerance = verifyModels.toleranceFor(modelHash, res.engine)
      const challenge = signAuditChallenge(node, vrfSecretKey, res, auditSteps)
      if (challenge.steps.length === 0) {
        reputation.record(providerId, 'success', { jobId: jobHex })
        return settle('verified', 'no steps to check')
      }
      const challengeEnvelope = challenge.envelope
      let auditProof: SignedEnvelope
      try {
        auditProof = await fetchAuditProof(node, providerId, challengeEnvelope)
      } catch (error) {
        if (!(error instanceof InfraxaError)) throw error
        reputation.record(providerId, 'failed_audit', {
          jobId: jobHex,
          reason: `watcher audit refused: ${error.shortMessage}`,
        })
        return settle('failed', `the provider did not answer the watcher's audit: ${error.shortMessage}`, {
          challenge: challengeEnvelope,
        })
      }
      // The full audit check: challenged steps exactly, openings under the signed root, sampling rule,
      // re-execution within tolerance, prompt.
      const result = await registry.get(MERKLE_MODE_ID).verify(
        { request, response, challenge: challengeEnvelope, auditProof },
        {
          executor,
          tolerance,
          minAuditSteps: Math.min(auditSteps, res.stepCount),
          tokenNoise: verifyModels.noiseFor(modelHash, res.engine),
        },
      )
      const evidence = {
        challenge: challengeEnvelope,
        auditProof,
        tokenCheck: result.details?.tokenCheck as TokenVerdict | undefined,
      }
      if (!result.valid) {
        reputation.record(providerId, 'fraud', { jobId: jobHex, reason: result.reason })
        await onAuditFailed?.({ request, response }, challenge.steps, providerId).catch((error: unknown) => {
          console.error('router: could not take the fraud to the stake contract:', error)
        })
        return settle('failed', `fraud proven by the watcher's audit: ${result.reason}`, evidence)
      }
      reputation.record(providerId, 'success', { jobId: jobHex })
      onVerified?.(providerId, jobHex, res.promptTokens.length + res.outputTokens.length)
      return settle('verified', `watcher re-executed ${challenge.steps.length} steps`, evidence)
    } catch (error) {
      const reason = error instanceof InfraxaError ? error.shortMessage : String(error)
      if (!(error instanceof InfraxaError)) console.error('router: watcher error', error)
      return { verdict: 'pending', reason: `watcher could not check yet: ${reason}` }
    }
  }
}
