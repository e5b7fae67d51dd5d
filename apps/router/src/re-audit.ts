import type { InfraxaNode } from '@infraxa/p2p'
import { peerIdFromSignerKey } from '@infraxa/p2p'
import type { ModeRegistry } from '@infraxa/proofs/modes'
import { InfraxaError, openEnvelope, type SignedEnvelope } from '@infraxa/protocol'
import { fetchAuditProof, signAuditChallenge } from './audit-request.js'
import { BadRequestError, CannotVerifyError } from './errors.js'
import { type ReceiptStore, receiptIdOf } from './receipts.js'
import type { VerifyModels } from './verify-models.js'

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

export interface ReAuditDeps {
  node: InfraxaNode
  receipts: ReceiptStore
  registry: ModeRegistry
  verifyModels: VerifyModels
  vrfSecretKey: Uint8Array
  auditSteps: number
}

/**
 * Audits an earlier job again, with the same VRF challenge (it is derived from the job), against the
 * provider that served it — e.g. after the provider restarted, or to settle a dispute. Records nothing
 * in reputation; returns the verdict.
 */
export async function auditAgain(
  deps: ReAuditDeps,
  receiptId: string,
  signal?: AbortSignal,
): Promise<{ valid: boolean; reason: string }> {
  const { node, receipts, registry, verifyModels, vrfSecretKey, auditSteps } = deps
  const envelope = receipts.getEnvelope(receiptIdOf(receiptId))
  if (envelope === undefined) throw new BadRequestError(`no receipt "${receiptId}"`)
  const { message: receipt } = openEnvelope('RECEIPT', envelope, { signer: node.publicKey })
  if (receipt.request === undefined || receipt.response === undefined)
    throw new BadRequestError('receipt has no exchange')
  const { message: request } = openEnvelope('INFERENCE_REQUEST', receipt.request)
  const { message: response } = openEnvelope('INFERENCE_RESPONSE', receipt.response)
  const providerId = peerIdFromSignerKey(receipt.response.publicKey).toString()
  const challengeEnvelope = signAuditChallenge(
    node,
    vrfSecretKey,
    { ...response, jobId: request.jobId },
    auditSteps,
  ).envelope
  let auditProof: SignedEnvelope
  try {
    auditProof = await fetchAuditProof(node, providerId, challengeEnvelope, signal)
  } catch (error) {
    if (error instanceof InfraxaError)
      return { valid: false, reason: `audit not answered: ${error.shortMessage}` }
    throw error
  }
  const executor = verifyModels.engineFor(request.modelHash)
  if (executor === undefined) throw new CannotVerifyError(hex(request.modelHash), receipt.verificationMode)
  const tolerance = verifyModels.toleranceFor(request.modelHash, response.engine)
  const result = await registry.get(receipt.verificationMode).verify(
    { request: receipt.request, response: receipt.response, challenge: challengeEnvelope, auditProof },
    {
      executor,
      tolerance,
      minAuditSteps: Math.min(auditSteps, response.stepCount),
      tokenNoise: verifyModels.noiseFor(request.modelHash, response.engine),
    },
  )
  return result.valid ? { valid: true, reason: '' } : { valid: false, reason: result.reason }
}
