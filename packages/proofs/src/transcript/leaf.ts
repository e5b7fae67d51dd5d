import { InvalidStepError } from '../errors.js'

/**
 * Fixed-point scale of committed log-probabilities: Q16.16, `round(logprob × 65536)` as a signed
 * 32-bit integer. Resolution 1/65536 ≈ 1.5e-5 nats, three orders of magnitude below the calibrated
 * comparison tolerances (≥ 1e-2), so quantisation never decides a verdict; range down to −32767 nats,
 * far below any log-probability a top-k entry has (lower values are clamped).
 */
export const LOGPROB_SCALE = 65536
/** Smallest committed log-probability (clamp for −∞ and anything below). */
export const MIN_QUANTISED_LOGPROB = -32767 * LOGPROB_SCALE
/** Largest supported k (ids and log-probs per step). */
export const MAX_COMMIT_TOP_K = 256
/** Largest job id in bytes. */
export const MAX_JOB_ID_BYTES = 64

/** ASCII tag that starts every leaf. */
export const LEAF_TAG = 'infraxa/leaf/v1'

/** One step as committed: the chosen token and the quantised top-k (field names as in the StepOpening message). */
export interface CommittedStep {
  readonly step: number
  readonly token: number
  readonly topIds: readonly number[]
  /** Q16.16 fixed point, see {@link LOGPROB_SCALE}. */
  readonly topLogprobs: readonly number[]
}

/** Quantises a natural-log probability to Q16.16 (clamped to [MIN_QUANTISED_LOGPROB, 0]). */
export function quantiseLogprob(logprob: number): number {
  if (Number.isNaN(logprob)) throw new InvalidStepError('log-probability is NaN')
  if (logprob > 1e-6) throw new InvalidStepError(`log-probability ${logprob} is above 0`)
  const q = Math.round(logprob * LOGPROB_SCALE)
  return Math.max(MIN_QUANTISED_LOGPROB, Math.min(0, q)) | 0
}

/**
 * The canonical order of committed candidates: their indices sorted by quantised log-prob, highest
 * first, lower id first among equal ones — the order `commitStep` commits in, the nucleus is taken in,
 * and the poseidon-gumbel rule assigns noise by.
 */
export function canonicalOrder(ids: readonly number[], quantisedLogprobs: readonly number[]): number[] {
  return ids
    .map((_, i) => i)
    .sort((a, b) => quantisedLogprobs[b]! - quantisedLogprobs[a]! || ids[a]! - ids[b]!)
}

/** The log-probability a quantised value stands for. */
export function dequantiseLogprob(q: number): number {
  return q / LOGPROB_SCALE
}

const isU32 = (v: number) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff

/** Checks a committed step is well-formed: k ids, distinct, k log-probs in range. */
export function checkCommittedStep(step: CommittedStep, k?: number): void {
  const { topIds, topLogprobs } = step
  if (!isU32(step.step)) throw new InvalidStepError(`step index ${step.step}`)
  if (!isU32(step.token)) throw new InvalidStepError(`token ${step.token}`)
  if (topIds.length === 0 || topIds.length > MAX_COMMIT_TOP_K) {
    throw new InvalidStepError(`top-k of ${topIds.length} entries (1..${MAX_COMMIT_TOP_K})`)
  }
  if (k !== undefined && topIds.length !== k)
    throw new InvalidStepError(`top-k of ${topIds.length} where k = ${k}`)
  if (topLogprobs.length !== topIds.length)
    throw new InvalidStepError('top-k ids and log-probs differ in length')
  const seen = new Set<number>()
  for (let i = 0; i < topIds.length; i++) {
    const id = topIds[i]!
    if (!isU32(id)) throw new InvalidStepError(`token id ${id}`)
    if (seen.has(id)) throw new InvalidStepError(`token id ${id} twice in the top-k`)
    seen.add(id)
    const lp = topLogprobs[i]!
    if (!Number.isInteger(lp) || lp > 0 || lp < MIN_QUANTISED_LOGPROB) {
      throw new InvalidStepError(`quantised log-probability ${lp} out of range`)
    }
  }
}

const utf8 = new TextEncoder()
const TAG_BYTES = utf8.encode(LEAF_TAG)

/**
 * The leaf data of one step (hashed as an RFC 6962 leaf: `SHA-256(0x00 ‖ data)`). Byte by byte:
 *
 * | bytes        | content                                              |
 * | ------------ | ---------------------------------------------------- |
 * | 15           | ASCII `infraxa/leaf/v1`                              |
 * | 1            | job id length L (1..64)                              |
 * | L            | job id                                               |
 * | 4            | step index t, u32 big-endian                         |
 * | 4            | chosen token id, u32 big-endian                      |
 * | 2            | k, u16 big-endian                                    |
 * | 4·k          | top-k token ids, u32 big-endian, in committed order  |
 * | 4·k          | top-k log-probs, i32 big-endian, Q16.16              |
 *
 * The order of the top-k is the provider's (by log-prob, descending, ties by lower id when produced by
 * `@infraxa/engine`); verifiers compare sets, so the order only has to be the one committed.
 */
export function encodeLeaf(jobId: Uint8Array, step: CommittedStep): Uint8Array {
  if (jobId.length === 0 || jobId.length > MAX_JOB_ID_BYTES) {
    throw new InvalidStepError(`job id of ${jobId.length} bytes (1..${MAX_JOB_ID_BYTES})`)
  }
  checkCommittedStep(step)
  const k = step.topIds.length
  const out = new Uint8Array(TAG_BYTES.length + 1 + jobId.length + 4 + 4 + 2 + 8 * k)
  const view = new DataView(out.buffer)
  let o = 0
  out.set(TAG_BYTES, o)
  o += TAG_BYTES.length
  out[o++] = jobId.length
  out.set(jobId, o)
  o += jobId.length
  view.setUint32(o, step.step)
  o += 4
  view.setUint32(o, step.token)
  o += 4
  view.setUint16(o, k)
  o += 2
  for (const id of step.topIds) {
    view.setUint32(o, id)
    o += 4
  }
  for (const lp of step.topLogprobs) {
    view.setInt32(o, lp)
    o += 4
  }
  return out
}
