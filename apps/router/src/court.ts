import type { InfraxaNode } from '@infraxa/p2p'
import { peerIdFromSignerKey } from '@infraxa/p2p'
import { adjudicateFraudProof, FRAUD_PROOF_MODE_ID, type FraudRuling } from '@infraxa/proofs/modes'
import {
  create,
  decodeEnvelope,
  encodeEnvelope,
  FraudVerdictSchema,
  openEnvelope,
  PROTOCOL_IDS,
  type SignedEnvelope,
  signEnvelope,
} from '@infraxa/protocol'
import { sha256 } from '@noble/hashes/sha2.js'
import { CannotVerifyError } from './errors.js'
import type { ReputationBook } from './reputation.js'
import type { VerifyModels } from './verify-models.js'

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

/**
 * The router as a court for fraud proofs on `/infraxa/fraud/1.0.0`: any node holding the model
 * adjudicates them by re-running the one disputed step. Watchers (other providers, other routers)
 * submit proofs; proven fraud bans the provider in this router's book too; every ruling is answered with
 * a signed FRAUD_VERDICT (a false accusation is answered `fraud: false`).
 */
export async function serveFraudProofs(
  node: InfraxaNode,
  {
    verifyModels,
    reputation,
    onFraud,
  }: {
    verifyModels: VerifyModels
    reputation: ReputationBook
    /** Called with each proof found to prove fraud. */
    onFraud?: (proof: SignedEnvelope, ruling: FraudRuling) => void
  },
): Promise<void> {
  await node.handle(
    PROTOCOL_IDS.fraud,
    async (stream) => {
      const frame = await stream.read()
      if (frame === null) return undefined
      const proofEnvelope = decodeEnvelope(frame)
      const ruling = await ruleOnFraudProof(proofEnvelope, verifyModels)
      if (ruling.fraud && ruling.provider.length === 32) {
        const providerId = peerIdFromSignerKey(ruling.provider).toString()
        reputation.record(providerId, 'fraud', {
          jobId: hex(ruling.jobId),
          reason: `fraud proof from ${peerIdFromSignerKey(ruling.challenger).toString()}: ${ruling.reason}`,
        })
        // Proven here: this router takes it to the stake contract too (bonded accusation, its vote).
        onFraud?.(proofEnvelope, ruling)
      }
      const verdict = create(FraudVerdictSchema, {
        fraudProofHash: sha256(proofEnvelope.payload),
        jobId: ruling.jobId,
        fraud: ruling.fraud,
        reason: ruling.reason,
        decidedAtMs: BigInt(Date.now()),
      })
      return encodeEnvelope(signEnvelope('FRAUD_VERDICT', verdict, node.signer))
    },
    { readTimeoutMs: 10_000, maxFrameBytes: 3 * 1024 * 1024 + 4096, rateLimit: { burst: 16, perSecond: 2 } },
  )
}

/**
 * Rules on a FRAUD_PROOF envelope by re-running its one disputed step on this router's copy of the model.
 *
 * @throws {CannotVerifyError} the router holds no copy of the proof's model
 */
export async function ruleOnFraudProof(
  proofEnvelope: SignedEnvelope,
  verifyModels: VerifyModels,
): Promise<FraudRuling> {
  const { message: proof } = openEnvelope('FRAUD_PROOF', proofEnvelope)
  const modelHash = proof.request
    ? openEnvelope('INFERENCE_REQUEST', proof.request).message.modelHash
    : undefined
  const executor = modelHash && verifyModels.engineFor(modelHash)
  if (!modelHash || !executor)
    throw new CannotVerifyError(modelHash ? hex(modelHash) : '(none)', FRAUD_PROOF_MODE_ID)
  const responseEngine = proof.response
    ? openEnvelope('INFERENCE_RESPONSE', proof.response).message.engine
    : undefined
  return adjudicateFraudProof(proofEnvelope, {
    executor,
    tolerance: verifyModels.toleranceFor(modelHash, responseEngine),
  })
}
