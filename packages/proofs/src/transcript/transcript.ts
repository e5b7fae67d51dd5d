import { InvalidStepError, MalformedProofError } from '../errors.js'
import { leafHash } from '../merkle/hash.js'
import { proveInclusion, verifyInclusion } from '../merkle/proof.js'
import { buildTree, type MerkleTree } from '../merkle/tree.js'
import {
  type CommittedStep,
  canonicalOrder,
  checkCommittedStep,
  encodeLeaf,
  quantiseLogprob,
} from './leaf.js'

/** A step as an engine produces it: the chosen token and the float top-k distribution. */
export interface GeneratedStep {
  readonly token: number
  readonly topK: ReadonlyArray<{ readonly id: number; readonly logprob: number }>
}

/** A committed transcript: the quantised steps, their Merkle tree and its root. */
export interface Transcript {
  readonly jobId: Uint8Array
  readonly steps: readonly CommittedStep[]
  readonly tree: MerkleTree
  readonly root: Uint8Array
}

/**
 * Quantises an engine step at index `t` into the form that is committed, candidates in canonical order:
 * highest quantised log-prob first, lower id first among equal ones (audits match candidates by id; the
 * zk_snark sampled circuit needs this order).
 */
export function commitStep(t: number, step: GeneratedStep): CommittedStep {
  const ids = step.topK.map((e) => e.id)
  const quantised = step.topK.map((e) => quantiseLogprob(e.logprob))
  const order = canonicalOrder(ids, quantised)
  return {
    step: t,
    token: step.token,
    topIds: order.map((i) => ids[i]!),
    topLogprobs: order.map((i) => quantised[i]!),
  }
}

/**
 * Commits to every step of a generation: leaf t encodes (job id, t, token, top-k) as specified by
 * {@link encodeLeaf}; the root is the RFC 6962 tree hash over the leaves.
 *
 * @example
 * const transcript = buildTranscript(jobId, steps) // steps: GeneratedStep[] or CommittedStep[]
 * response.transcriptRoot = transcript.root
 */
export function buildTranscript(
  jobId: Uint8Array,
  steps: readonly (GeneratedStep | CommittedStep)[],
): Transcript {
  const committed = steps.map((s, t) => {
    if ('topK' in s) return commitStep(t, s)
    if (s.step !== t) throw new InvalidStepError(`step ${s.step} at position ${t}`)
    return s
  })
  const tree = buildTree(committed.map((s) => leafHash(encodeLeaf(jobId, s))))
  return { jobId, steps: committed, tree, root: tree.root }
}

/** Openings of some steps: their committed content and the shared-sibling inclusion proof. */
export interface StepOpenings {
  readonly openings: readonly CommittedStep[]
  readonly siblings: readonly Uint8Array[]
}

/** Opens the given steps of a transcript (any order; openings come back sorted by step). */
export function openSteps(transcript: Transcript, steps: readonly number[]): StepOpenings {
  const siblings = proveInclusion(transcript.tree, steps)
  const openings = [...steps].sort((a, b) => a - b).map((t) => transcript.steps[t]!)
  return { openings, siblings }
}

/**
 * Whether `openings` are the committed steps of the transcript with `root` over `stepCount` leaves.
 *
 * @throws {MalformedProofError | InvalidStepError} structurally broken openings (a peer's fault: callers
 *   that verify a peer's proof treat a throw as an invalid proof).
 */
export function verifyOpenings(
  root: Uint8Array,
  jobId: Uint8Array,
  stepCount: number,
  { openings, siblings }: StepOpenings,
  k?: number,
): boolean {
  const leaves = new Map<number, Uint8Array>()
  for (const opening of openings) {
    checkCommittedStep(opening, k)
    if (leaves.has(opening.step)) throw new MalformedProofError(`step ${opening.step} opened twice`)
    leaves.set(opening.step, leafHash(encodeLeaf(jobId, opening)))
  }
  return verifyInclusion(root, stepCount, leaves, siblings)
}
