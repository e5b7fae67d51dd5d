import { sha256 } from '@noble/hashes/sha2.js'
import { InvalidVrfInputError } from '../errors.js'
import { VRF_OUTPUT_BYTES, vrfProofToHash, vrfProve, vrfPublicKey, vrfVerify } from './ecvrf.js'

const utf8 = new TextEncoder()
const ALPHA_TAG = utf8.encode('infraxa/audit-alpha/v1')
const EXPAND_TAG = utf8.encode('infraxa/audit-steps/v1')
const TWO_POW_64 = 1n << 64n

/** The VRF input of an audit: `"infraxa/audit-alpha/v1" ‖ u8 len(jobId) ‖ jobId ‖ root`. */
export function challengeAlpha(jobId: Uint8Array, root: Uint8Array): Uint8Array {
  if (jobId.length > 255) throw new InvalidVrfInputError('job id longer than 255 bytes')
  const out = new Uint8Array(ALPHA_TAG.length + 1 + jobId.length + root.length)
  out.set(ALPHA_TAG)
  out[ALPHA_TAG.length] = jobId.length
  out.set(jobId, ALPHA_TAG.length + 1)
  out.set(root, ALPHA_TAG.length + 1 + jobId.length)
  return out
}

/**
 * c distinct step indices in [0, stepCount), uniformly chosen, from a VRF output. Counter-mode
 * SHA-256 over the output yields u64 draws; a draw ≥ ⌊2^64 / n⌋·n is rejected (no modulo bias) and a
 * repeated step is skipped. Returns every step when c ≥ stepCount. Sorted ascending.
 */
export function deriveChallenge(vrfOutput: Uint8Array, stepCount: number, c: number): number[] {
  if (vrfOutput.length !== VRF_OUTPUT_BYTES) throw new InvalidVrfInputError('VRF output must be 64 bytes')
  if (!Number.isSafeInteger(stepCount) || stepCount < 0)
    throw new InvalidVrfInputError(`step count ${stepCount}`)
  if (!Number.isSafeInteger(c) || c < 0) throw new InvalidVrfInputError(`challenge size ${c}`)
  if (c >= stepCount) return Array.from({ length: stepCount }, (_, i) => i)
  const n = BigInt(stepCount)
  const limit = (TWO_POW_64 / n) * n
  const chosen = new Set<number>()
  const block = new Uint8Array(EXPAND_TAG.length + VRF_OUTPUT_BYTES + 4)
  block.set(EXPAND_TAG)
  block.set(vrfOutput, EXPAND_TAG.length)
  const counterAt = EXPAND_TAG.length + VRF_OUTPUT_BYTES
  for (let counter = 0; chosen.size < c; counter++) {
    new DataView(block.buffer).setUint32(counterAt, counter)
    const digest = sha256(block)
    const view = new DataView(digest.buffer, digest.byteOffset, digest.byteLength)
    for (let i = 0; i < 4 && chosen.size < c; i++) {
      const draw = view.getBigUint64(i * 8)
      if (draw >= limit) continue
      chosen.add(Number(draw % n))
    }
  }
  return [...chosen].sort((a, b) => a - b)
}

/** An audit challenge as the router makes it and anyone can re-check. */
export interface AuditChallengeData {
  readonly steps: number[]
  readonly vrfPublicKey: Uint8Array
  readonly vrfOutput: Uint8Array
  readonly vrfProof: Uint8Array
}

/**
 * Makes the challenge for a committed transcript: VRF over (job id, root) with the router's key, then
 * {@link deriveChallenge}. The provider cannot predict the steps before committing the root, and the
 * router cannot pick them.
 */
export function createAuditChallenge(args: {
  vrfSecretKey: Uint8Array
  jobId: Uint8Array
  root: Uint8Array
  stepCount: number
  c: number
}): AuditChallengeData {
  const alpha = challengeAlpha(args.jobId, args.root)
  const vrfProof = vrfProve(args.vrfSecretKey, alpha)
  const vrfOutput = vrfProofToHash(vrfProof)
  return {
    steps: deriveChallenge(vrfOutput, args.stepCount, args.c),
    vrfPublicKey: vrfPublicKey(args.vrfSecretKey),
    vrfOutput,
    vrfProof,
  }
}

/**
 * Whether a challenge was honestly derived: the VRF proof verifies for (job id, root) under its key,
 * its output is the stated one, and the steps are exactly those derived for `stepCount` and their count.
 */
export function verifyAuditChallenge(
  challenge: AuditChallengeData,
  args: { jobId: Uint8Array; root: Uint8Array; stepCount: number },
): boolean {
  const beta = vrfVerify(challenge.vrfPublicKey, challengeAlpha(args.jobId, args.root), challenge.vrfProof)
  if (beta === undefined) return false
  if (beta.length !== challenge.vrfOutput.length || beta.some((b, i) => b !== challenge.vrfOutput[i]))
    return false
  const c = Math.min(challenge.steps.length, args.stepCount)
  const expected = deriveChallenge(beta, args.stepCount, c)
  return expected.length === challenge.steps.length && expected.every((s, i) => s === challenge.steps[i])
}

/**
 * Probability that auditing c uniformly chosen steps catches a provider that falsified a fraction f of
 * them (sampling with replacement: 1 − (1 − f)^c; a lower bound for distinct steps).
 */
export function catchProbability(f: number, c: number): number {
  if (!(f >= 0 && f <= 1)) throw new RangeError('catchProbability: f must be in [0, 1]')
  if (!(c >= 0)) throw new RangeError('catchProbability: c must be ≥ 0')
  return 1 - (1 - f) ** c
}

/** Smallest c with catchProbability(f, c) ≥ target. */
export function auditsNeeded(f: number, target: number): number {
  if (!(f > 0 && f <= 1)) throw new RangeError('auditsNeeded: f must be in (0, 1]')
  if (!(target >= 0 && target < 1)) throw new RangeError('auditsNeeded: target must be in [0, 1)')
  if (f === 1) return target > 0 ? 1 : 0
  return Math.max(0, Math.ceil(Math.log(1 - target) / Math.log(1 - f)))
}
