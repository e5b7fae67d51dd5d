/**
 * Transcript commitments (ARCHITECTURE §4): one RFC 6962 leaf per generated step.
 *
 * @example
 * import { buildTranscript, openSteps, verifyOpenings } from '@infraxa/proofs/transcript'
 * const t = buildTranscript(jobId, steps)
 * const proof = openSteps(t, [3, 17])
 * verifyOpenings(t.root, jobId, steps.length, proof) // true
 */
export {
  type CommittedStep,
  canonicalOrder,
  checkCommittedStep,
  dequantiseLogprob,
  encodeLeaf,
  LEAF_TAG,
  LOGPROB_SCALE,
  MAX_COMMIT_TOP_K,
  MAX_JOB_ID_BYTES,
  MIN_QUANTISED_LOGPROB,
  quantiseLogprob,
} from './leaf.js'
export {
  buildTranscript,
  commitStep,
  type GeneratedStep,
  openSteps,
  type StepOpenings,
  type Transcript,
  verifyOpenings,
} from './transcript.js'
