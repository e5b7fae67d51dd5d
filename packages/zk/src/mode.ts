import { MalformedVerificationInputError } from '@infraxa/proofs'
import {
  checkBinding,
  type VerificationInput,
  type VerificationMode,
  type VerificationResult,
} from '@infraxa/proofs/modes'
import {
  create,
  decodeEnvelope,
  encodeEnvelope,
  InfraxaError,
  openEnvelope,
  type Signer,
  signEnvelope,
  ZkTranscriptProofSchema,
} from '@infraxa/protocol'
import { loadZkArtifacts, type ZkVerifierArtifacts } from './artifacts.js'
import { checkZkAudit } from './openings.js'
import type { ZkTranscriptProofData } from './prover.js'
import { verifyZkTranscript } from './verify.js'

export const ZK_SNARK_MODE_ID = 'zk_snark'

/**
 * Signs a transcript proof as the provider's ZK_PROOF envelope and encodes it: the bytes of
 * `VerificationInput.modeProof` (and of the `zk_proof` inference frame's envelope, encoded).
 */
export function encodeZkModeProof(proof: ZkTranscriptProofData, signer: Signer): Uint8Array {
  const message = create(ZkTranscriptProofSchema, {
    ...proof,
    windows: proof.windows.map((w) => ({ ...w })),
  })
  return encodeEnvelope(signEnvelope('ZK_PROOF', message, signer))
}

const invalid = (reason: string, details?: Record<string, unknown>): VerificationResult =>
  details === undefined ? { valid: false, reason } : { valid: false, reason, details }

function peerFault(error: unknown): string {
  if (error instanceof InfraxaError) return error.shortMessage
  throw error
}

/**
 * The `zk_snark` mode. Proves, without revealing a single log-prob, that the provider's committed
 * top-k steps hash to the Poseidon root it signed in the response (`zk_root`) and that every output
 * token is the greedy choice of its step (highest committed log-prob, lowest id on ties). It does not
 * prove the transformer ran (audits cover that), and it covers greedy decoding only: requests with a
 * temperature above 0 are rejected.
 *
 * Checks, in order: the signed request/response binding; that the request asked for `zk_snark`,
 * greedy, with the circuit's k; the provider's signed ZK_PROOF envelope (`input.modeProof`, encoded);
 * then {@link verifyZkTranscript} (job, root, step count, window layout, verification key hash,
 * window roots → zk root, and every window's Groth16 proof against public signals rebuilt from the
 * response).
 *
 * @example
 * const registry = createModeRegistry([merkleMode(), zkSnarkMode()])
 * await registry.get('zk_snark').verify({ request, response, modeProof }, {})
 */
export function zkSnarkMode(options: { readonly artifacts?: ZkVerifierArtifacts } = {}): VerificationMode {
  const artifacts = options.artifacts ?? loadZkArtifacts()
  return {
    specificationVersion: 'v1',
    id: ZK_SNARK_MODE_ID,
    version: '1.0.0',
    needs: ['modeProof'],
    verify: async (input) => verifyZk(artifacts, input),
  }
}

async function verifyZk(
  artifacts: ZkVerifierArtifacts,
  input: VerificationInput,
): Promise<VerificationResult> {
  if (input?.request === undefined || input.response === undefined) {
    throw new MalformedVerificationInputError(
      ZK_SNARK_MODE_ID,
      'input needs the request and response envelopes',
    )
  }
  if (input.modeProof === undefined) {
    throw new MalformedVerificationInputError(
      ZK_SNARK_MODE_ID,
      'input needs modeProof: the provider’s encoded ZK_PROOF envelope',
    )
  }
  const bound = checkBinding(input.request, input.response)
  if (!bound.ok) return invalid(bound.reason)
  const { request, response, providerKey } = bound.exchange

  if (request.verificationMode !== ZK_SNARK_MODE_ID) {
    return invalid(
      `request asked for verification mode "${request.verificationMode}", not ${ZK_SNARK_MODE_ID}`,
    )
  }
  const temperature = request.sampling?.temperature ?? 0
  if (temperature !== 0) {
    return invalid(
      `${ZK_SNARK_MODE_ID} proves greedy decoding only; the request has temperature ${temperature}`,
    )
  }
  if (response.commitTopK !== artifacts.topK) {
    return invalid(`commit_top_k ${response.commitTopK}; the circuit proves k = ${artifacts.topK}`)
  }
  if (response.zkRoot.length !== 32) return invalid('response has no 32-byte zk_root')

  let proof: ReturnType<typeof openEnvelope<'ZK_PROOF'>>['message']
  try {
    proof = openEnvelope('ZK_PROOF', decodeEnvelope(input.modeProof), { signer: providerKey }).message
  } catch (error) {
    return invalid(`zk proof: ${peerFault(error)}`)
  }
  const verdict = await verifyZkTranscript({
    artifacts,
    jobId: response.jobId,
    zkRoot: response.zkRoot,
    outputTokens: response.outputTokens,
    proof,
  })
  if (!verdict.ok) return invalid(verdict.reason)
  // With an audit of the same job: the steps it opened under the SHA-256 root must be the proved ones.
  let openedSteps = 0
  if (input.auditProof !== undefined) {
    const opened = checkZkAudit({ proof, auditProof: input.auditProof, response, providerKey })
    if (!opened.ok) return invalid(opened.reason)
    openedSteps = opened.steps
  }
  return {
    valid: true,
    details: {
      windows: proof.windows.length,
      windowSize: artifacts.windowSize,
      steps: response.stepCount,
      auditedStepsBound: openedSteps,
    },
  }
}
