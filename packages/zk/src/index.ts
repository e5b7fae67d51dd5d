/**
 * zk-SNARK verification (`zk_snark` mode): Groth16 proofs, over windows of T steps, that the committed
 * top-k steps hash to a Poseidon root the provider signs (`InferenceResponse.zk_root`) and that every
 * output token is the choice of its step's sampling rule — greedy, or seeded poseidon-gumbel sampling
 * (temperature > 0) — without revealing the log-probs. The transformer is not proved (audits cover it).
 * Circuits and artifacts: `circuits/`; the exact statement, numbers and the setup's trust: `docs/zk.md`.
 *
 * @example
 * import { createZkProver, zkRootOf, encodeZkModeProof, zkSnarkMode } from '@infraxa/zk'
 * // Provider: sign the zk root in the response, then prove off the event loop.
 * const prover = createZkProver()
 * const zkRoot = zkRootOf({ jobId, steps: transcript.steps, windowSize: 16, topK: 8 })
 * const { proof } = await prover.proveTranscript({ jobId, steps: transcript.steps })
 * // Sampled (temperature > 0, rule poseidon-gumbel): the sampled circuit, T = 8, and the job's sampling.
 * const sampled = createZkProver({ artifacts: loadZkArtifacts(DEFAULT_ZK_SAMPLED_ARTIFACTS_DIR) })
 * await sampled.proveTranscript({ jobId, steps, sampling: { temperature: 0.8, seed: 42n } })
 * const modeProof = encodeZkModeProof(proof, providerSigner)
 * // Verifier:
 * const result = await zkSnarkMode().verify({ request, response, modeProof }, {})
 */
export {
  DEFAULT_ZK_ARTIFACTS_DIR,
  DEFAULT_ZK_SAMPLED_ARTIFACTS_DIR,
  fixedPublicInputs,
  loadZkArtifacts,
  type ZkArtifacts,
  type ZkManifest,
  type ZkManifestFile,
  type ZkRule,
  type ZkVerifierArtifacts,
} from './artifacts.js'
export {
  activeSteps,
  candidateKey,
  createZkRootBuilder,
  jobIdElement,
  leafElements,
  windowCount,
  windowsTreeRoot,
  ZK_ROOT_DOMAIN,
  type ZkRootBuilder,
  zkLeaf,
  zkRootFromWindows,
  zkRootOf,
  zkWindowRoot,
  zkWindowRoots,
} from './commitment.js'
export { MalformedZkProofError, ZkArtifactError, ZkProverError, ZkUnprovableError } from './errors.js'
export { BN254_Q, BN254_R, fieldFromBytes, toBytes32 } from './field.js'
export {
  decodeProof,
  encodeProof,
  type Fp2Element,
  type G1Affine,
  type G2Affine,
  GROTH16_PROOF_BYTES,
  type Groth16Proof,
  type Groth16Statement,
  type Groth16VerificationKey,
  parseVerificationKey,
  toSnarkjsProof,
  verificationKeyHash,
  verifyGroth16,
} from './groth16.js'
export { encodeZkModeProof, ZK_SNARK_MODE_ID, zkSnarkMode } from './mode.js'
export { checkZkAudit, checkZkOpenings, type ZkWindowOpeningData, zkWindowOpenings } from './openings.js'
export { poseidon } from './poseidon.js'
export {
  createZkProver,
  proveTranscript,
  proveWindow,
  windowInput,
  type ZkProveProgress,
  type ZkProver,
  type ZkProveTimings,
  type ZkSampling,
  type ZkTranscriptProofData,
  type ZkWindowProofData,
} from './prover.js'
export {
  type CircuitInput,
  loadSnarkjs,
  releaseSnarkjsThreads,
  type Snarkjs,
  type SnarkjsProof,
  type SnarkjsVerificationKey,
} from './snarkjs.js'
export { verifyWindow, verifyZkTranscript, windowPublicSignals, type ZkVerdict } from './verify.js'
