import { MalformedVerificationInputError } from '@infraxa/proofs'
import {
  checkBinding,
  type VerificationInput,
  type VerificationMode,
  type VerificationResult,
} from '@infraxa/proofs/modes'
import { samplingParamsOf } from '@infraxa/proofs/sampling'
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
import { DEFAULT_ZK_SAMPLED_ARTIFACTS_DIR, loadZkArtifacts, type ZkVerifierArtifacts } from './artifacts.js'
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
 * token is the choice of its step's sampling rule: greedy (temperature 0: highest committed log-prob,
 * lowest id on ties), or seeded poseidon-gumbel sampling (temperature > 0, `Sampling.rule` =
 * SAMPLING_RULE_POSEIDON_GUMBEL, no top-p) with the request's seed and temperature. It does not prove
 * the transformer ran (audits cover that).
 *
 * Checks, in order: the signed request/response binding; that the request asked for `zk_snark` with a
 * provable sampling and the circuit's k; the provider's signed ZK_PROOF envelope (`input.modeProof`, encoded);
 * then {@link verifyZkTranscript} (job, root, step count, window layout, verification key hash,
 * window roots → zk root, and every window's Groth16 proof against public signals rebuilt from the
 * response).
 *
 * @example
 * const registry = createModeRegistry([merkleMode(), zkSnarkMode()])
 * await registry.get('zk_snark').verify({ request, response, modeProof }, {})
 */
export function zkSnarkMode(
  options: {
    /** The greedy circuit (default: the committed release build). */
    readonly artifacts?: ZkVerifierArtifacts
    /** The sampled (poseidon-gumbel) circuit (default: the committed release build). */
    readonly sampledArtifacts?: ZkVerifierArtifacts
  } = {},
): VerificationMode {
  const circuits = {
    greedy: options.artifacts ?? loadZkArtifacts(),
    sampled: options.sampledArtifacts ?? loadZkArtifacts(DEFAULT_ZK_SAMPLED_ARTIFACTS_DIR),
  }
  return {
    specificationVersion: 'v1',
    id: ZK_SNARK_MODE_ID,
    version: '1.1.0',
    needs: ['modeProof'],
    verify: async (input) => verifyZk(circuits, input),
  }
}

async function verifyZk(
  circuits: { readonly greedy: ZkVerifierArtifacts; readonly sampled: ZkVerifierArtifacts },
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
  const params = samplingParamsOf(request.sampling)
  const sampled = params.temperature > 0
  if (sampled && (params.rule !== 'poseidon-gumbel' || params.topP !== undefined)) {
    return invalid(
      `${ZK_SNARK_MODE_ID} proves sampled answers under the poseidon-gumbel rule without top_p; the request has temperature ${params.temperature}, rule ${params.rule ?? 'hmac-gumbel'}${params.topP === undefined ? '' : `, top_p ${params.topP}`}`,
    )
  }
  const artifacts = sampled ? circuits.sampled : circuits.greedy
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
    ...(sampled && { sampling: { temperature: params.temperature, seed: params.seed } }),
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
      rule: artifacts.rule,
      steps: response.stepCount,
      auditedStepsBound: openedSteps,
    },
  }
}
