import type { InfraxaNode } from '@infraxa/p2p'
import { createAuditChallenge } from '@infraxa/proofs/audit'
import {
  AuditChallengeSchema,
  create,
  decodeEnvelope,
  encodeEnvelope,
  InfraxaError,
  PROTOCOL_IDS,
  RemoteError,
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

/** Tries of an audit whose stream broke in transit (not an answer from the provider). */
const AUDIT_TRIES = 3

/**
 * Sends a challenge to the provider on `/infraxa/audit/1.0.0` and returns its signed AUDIT_PROOF.
 * A stream that breaks in transit, or a provider that says "busy / rate-limited, retry later", is tried
 * again (3 tries within the 30 s budget): under load an honest provider must not be banned for a lost
 * stream. Any other answer — an ERROR frame, garbage, silence past the budget — throws an
 * `InfraxaError` (callers count it as failing the audit), as does `signal` aborting.
 */
export async function fetchAuditProof(
  node: InfraxaNode,
  providerId: string,
  challenge: SignedEnvelope,
  signal?: AbortSignal,
): Promise<SignedEnvelope> {
  const budget = AbortSignal.timeout(AUDIT_TIMEOUT_MS)
  const all = signal ? AbortSignal.any([signal, budget]) : budget
  for (let attempt = 1; ; attempt++) {
    try {
      const bytes = await node.request(providerId, PROTOCOL_IDS.audit, encodeEnvelope(challenge), {
        signal: all,
        readTimeoutMs: AUDIT_TIMEOUT_MS,
      })
      return decodeEnvelope(bytes)
    } catch (error) {
      const retryable =
        error instanceof RemoteError ? RETRY_LATER.has(error.code) : error instanceof InfraxaError
      if (!retryable || attempt >= AUDIT_TRIES || all.aborted) throw error
      const wait = error instanceof RemoteError ? (error.retryAfterMs ?? 200) : 100 * attempt
      await new Promise((resolve) => setTimeout(resolve, Math.min(wait, 5_000)))
    }
  }
}

const RETRY_LATER = new Set(['ERR_BUSY', 'ERR_RATE_LIMITED'])
