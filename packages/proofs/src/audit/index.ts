/**
 * Audits: RFC 9381 ECVRF challenges the provider cannot predict and the router cannot cherry-pick,
 * catch probabilities, and the step comparison used when re-executing.
 *
 * @example
 * import { createAuditChallenge, verifyAuditChallenge } from '@infraxa/proofs/audit'
 * const challenge = createAuditChallenge({ vrfSecretKey, jobId, root, stepCount: 256, c: 4 })
 * verifyAuditChallenge(challenge, { jobId, root, stepCount: 256 }) // true
 */
export {
  type AuditChallengeData,
  auditsNeeded,
  catchProbability,
  challengeAlpha,
  createAuditChallenge,
  deriveChallenge,
  verifyAuditChallenge,
} from './challenge.js'
export { type ComparableStep, compareStep, type StepVerdict, type Tolerance } from './compare.js'
export {
  VRF_OUTPUT_BYTES,
  VRF_PROOF_BYTES,
  vrfProofToHash,
  vrfProve,
  vrfPublicKey,
  vrfVerify,
} from './ecvrf.js'
export {
  binomialTail,
  judgeTokens,
  scoreToken,
  TOKEN_CHECK_EXTRA,
  type TokenNoise,
  type TokenScore,
  type TokenVerdict,
} from './token-check.js'
export { confirmTokens } from './token-confirm.js'
