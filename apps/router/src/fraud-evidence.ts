import type { InfraxaNode } from '@infraxa/p2p'
import { createFraudProof, type FraudRuling } from '@infraxa/proofs/modes'
import {
  AuditChallengeSchema,
  create,
  InfraxaError,
  openEnvelope,
  type SignedEnvelope,
  signEnvelope,
} from '@infraxa/protocol'
import { fetchAuditProof } from './audit-request.js'
import { ruleOnFraudProof } from './court.js'
import type { VerifyModels } from './verify-models.js'

/**
 * Turns a failed audit into a self-contained FRAUD_PROOF that any holder of the model can adjudicate
 * (the evidence a stake contract accusation carries): for each of `steps`, asks the provider to open
 * that step alone, recomputes it, and rules on the candidate with this router's own copy. Returns the
 * first proof that proves fraud, with the ruling; `undefined` when none does (the failure was not of one step — a
 * statistical verdict, a refused audit — so it bans here but is not taken to the chain).
 */
export async function buildFraudProof(
  node: InfraxaNode,
  providerId: string,
  exchange: { request: SignedEnvelope; response: SignedEnvelope },
  steps: readonly number[],
  verifyModels: VerifyModels,
  bond: bigint,
): Promise<{ proof: SignedEnvelope; ruling: FraudRuling } | undefined> {
  const { message: response } = openEnvelope('INFERENCE_RESPONSE', exchange.response)
  const { message: request } = openEnvelope('INFERENCE_REQUEST', exchange.request)
  const executor = verifyModels.engineFor(request.modelHash)
  if (executor === undefined) return undefined
  for (const step of steps) {
    try {
      const challenge = signEnvelope(
        'AUDIT_CHALLENGE',
        create(AuditChallengeSchema, {
          jobId: response.jobId,
          transcriptRoot: response.transcriptRoot,
          steps: [step],
        }),
        node.signer,
      )
      const { message: opened } = openEnvelope(
        'AUDIT_PROOF',
        await fetchAuditProof(node, providerId, challenge),
        {
          signer: exchange.response.publicKey,
        },
      )
      const opening = opened.openings[0]
      if (opening === undefined) continue
      const [recomputed] = await executor.replay({
        promptTokens: response.promptTokens,
        outputTokens: response.outputTokens,
        positions: [step],
        topK: response.commitTopK,
      })
      const proof = createFraudProof({
        ...exchange,
        opening,
        siblings: opened.siblings,
        recomputed: recomputed ?? [],
        bond,
        challenger: node.signer,
      })
      const ruling = await ruleOnFraudProof(proof, verifyModels)
      if (ruling.fraud) return { proof, ruling }
    } catch (error) {
      if (!(error instanceof InfraxaError)) throw error
      // The provider would not open this step, or it is not ours to judge: try the next.
    }
  }
  return undefined
}
