import type { InfraxaNode } from '@infraxa/p2p'
import { createAuditChallenge } from '@infraxa/proofs/audit'
import {
  AuditChallengeSchema,
  create,
  decodeEnvelope,
  encodeEnvelope,
  PROTOCOL_IDS,
  type SignedEnvelope,
  signEnvelope,
} from '@infraxa/protocol'

/** How long a provider has to answer an audit. */
const AUDIT_TIMEOUT_MS = 30_000

/**
 * The router's signed AUDIT_CHALLENGE for a committed answer: c steps derived by ECVRF over (job id,
 * root), so the provider cannot predict them and the router cannot pick them.
 */
export function signAuditChallenge(
  node: InfraxaNode,
  vrfSecretKey: Uint8Array,
  response: { jobId: Uint8Array; transcriptRoot: Uint8Array; stepCount: number },
  c: number,
): { envelope: SignedEnvelope; steps: readonly number[] } {
  const challenge = createAuditChallenge({
    vrfSecretKey,
    jobId: response.jobId,
    root: response.transcriptRoot,
    stepCount: response.stepCount,
    c,
  })
  const envelope = signEnvelope(
    'AUDIT_CHALLENGE',
    create(AuditChallengeSchema, {
      jobId: response.jobId,
      transcriptRoot: response.transcriptRoot,
      ...challenge,
    }),
    node.signer,
  )
  return { envelope, steps: challenge.steps }
}

/**
 * Sends a challenge to the provider on `/infraxa/audit/1.0.0` and returns its signed AUDIT_PROOF.
 * Throws an `InfraxaError` when the provider refuses, times out or answers garbage (callers count that
 * as failing the audit), or when `signal` aborts.
 */
export async function fetchAuditProof(
  node: InfraxaNode,
  providerId: string,
  challenge: SignedEnvelope,
  signal?: AbortSignal,
): Promise<SignedEnvelope> {
  const bytes = await node.request(providerId, PROTOCOL_IDS.audit, encodeEnvelope(challenge), {
    signal: signal
      ? AbortSignal.any([signal, AbortSignal.timeout(AUDIT_TIMEOUT_MS)])
      : AbortSignal.timeout(AUDIT_TIMEOUT_MS),
    readTimeoutMs: AUDIT_TIMEOUT_MS,
  })
  return decodeEnvelope(bytes)
}
