import { InvalidStepError } from '@infraxa/proofs'
import { type CommittedStep, checkCommittedStep, MAX_JOB_ID_BYTES } from '@infraxa/proofs/transcript'
import { toBytes32 } from './field.js'
import { poseidon } from './poseidon.js'

/**
 * The Poseidon commitment of zk_snark mode, over the same committed steps as the SHA-256 transcript
 * (`@infraxa/proofs/transcript`), laid out so that a circuit can recompute it cheaply:
 *
 * ```text
 * key_i      = (−logprob_i) · 2^32 + id_i                     64-bit: nlp = −logprob (Q16.16) < 2^31, id < 2^32
 * leaf_t     = Poseidon(e_0, …, e_{E−1})                      K + 1 slots of 64 bits, 3 per element:
 *              slots key_0 … key_{K−1}, then t · 2^32 + token   e_j = Σ_s slot_{3j+s} · 2^(64 s), E = ⌈(K+1)/3⌉
 * window_w   = Poseidon(leaf_{wT} … leaf_{wT+T−1})            T ≤ 16; T = 16n: Poseidon over n 16-leaf chunks;
 *                                                             steps past the end count as leaf 0
 * windows    = binary Poseidon(2) Merkle tree over window_0 … window_{W−1}, zero-padded to a power of two
 *              (the root of one window is that window; of none, 0)
 * zk_root    = Poseidon(DOMAIN, Poseidon(len, jobId chunks), stepCount, T, K, windows)
 * ```
 *
 * with DOMAIN the ASCII `infraxa/zk/v1` as a big-endian integer and the job id split into three
 * 31-byte big-endian chunks (zero-padded). The window circuit (`circuits/src/window.circom`) proves
 * window_w and the greedy rule for each window; everything above the windows is recomputed by the
 * verifier from the signed response and the window roots.
 */
export const ZK_ROOT_DOMAIN = BigInt(`0x${Buffer.from('infraxa/zk/v1').toString('hex')}`)

/** The window sizes the commitment supports (the window hash takes ≤ 16 inputs per Poseidon). */
export function checkWindowSize(windowSize: number): void {
  const ok =
    Number.isInteger(windowSize) &&
    windowSize >= 1 &&
    (windowSize <= 16 || (windowSize % 16 === 0 && windowSize <= 256))
  if (!ok) throw new RangeError(`window size ${windowSize} (1..16, or a multiple of 16 up to 256)`)
}

/** One committed candidate as the circuit sees it: `(−logprob) · 2^32 + id`. */
export function candidateKey(id: number, quantisedLogprob: number): bigint {
  return (BigInt(-quantisedLogprob) << 32n) | BigInt(id)
}

/** The packed field elements of a step's leaf (the inputs of its Poseidon). */
export function leafElements(step: CommittedStep): bigint[] {
  const k = step.topIds.length
  const slots = step.topIds.map((id, i) => candidateKey(id, step.topLogprobs[i]!))
  slots.push((BigInt(step.step) << 32n) | BigInt(step.token))
  const elements: bigint[] = []
  for (let e = 0; e < Math.ceil((k + 1) / 3); e++) {
    let acc = 0n
    for (let s = 0; s < 3; s++) {
      const slot = slots[3 * e + s]
      if (slot !== undefined) acc |= slot << BigInt(64 * s)
    }
    elements.push(acc)
  }
  return elements
}

/**
 * The Poseidon leaf of one committed step (checked first: k ids, distinct, log-probs in range).
 *
 * @throws {InvalidStepError} a malformed step
 */
export function zkLeaf(step: CommittedStep): bigint {
  checkCommittedStep(step)
  if (step.topIds.length > 47) throw new InvalidStepError(`zk leaves take k ≤ 47, not ${step.topIds.length}`)
  return poseidon(leafElements(step))
}

/** The root of one window from its (up to T) leaves; missing leaves are 0. */
export function zkWindowRoot(leaves: readonly bigint[], windowSize: number): bigint {
  checkWindowSize(windowSize)
  if (leaves.length > windowSize) throw new RangeError(`${leaves.length} leaves in a window of ${windowSize}`)
  const padded = [...leaves, ...new Array<bigint>(windowSize - leaves.length).fill(0n)]
  if (windowSize <= 16) return poseidon(padded)
  const chunks: bigint[] = []
  for (let c = 0; c < windowSize / 16; c++) chunks.push(poseidon(padded.slice(16 * c, 16 * c + 16)))
  return poseidon(chunks)
}

/** How many windows of `windowSize` steps cover `stepCount` steps. */
export function windowCount(stepCount: number, windowSize: number): number {
  return Math.ceil(stepCount / windowSize)
}

/** How many real (not padded) steps window `index` holds. */
export function activeSteps(index: number, stepCount: number, windowSize: number): number {
  return Math.max(0, Math.min(windowSize, stepCount - index * windowSize))
}

function checkSteps(steps: readonly CommittedStep[], k: number | undefined): void {
  steps.forEach((s, t) => {
    if (s.step !== t) throw new InvalidStepError(`step ${s.step} at position ${t}`)
    checkCommittedStep(s, k)
  })
}

/** The window roots of a transcript's committed steps (step t must have `step === t`). */
export function zkWindowRoots(steps: readonly CommittedStep[], windowSize: number): bigint[] {
  checkWindowSize(windowSize)
  checkSteps(steps, steps[0]?.topIds.length)
  const leaves = steps.map(zkLeaf)
  const roots: bigint[] = []
  for (let w = 0; w < windowCount(steps.length, windowSize); w++) {
    roots.push(zkWindowRoot(leaves.slice(w * windowSize, (w + 1) * windowSize), windowSize))
  }
  return roots
}

/** Root of the binary Poseidon(2) tree over the window roots, zero-padded to a power of two. */
export function windowsTreeRoot(windowRoots: readonly bigint[]): bigint {
  if (windowRoots.length === 0) return 0n
  let level = [...windowRoots]
  while (level.length > 1) {
    if (level.length % 2 === 1) level.push(0n)
    const next: bigint[] = []
    for (let i = 0; i < level.length; i += 2) next.push(poseidon([level[i]!, level[i + 1]!]))
    level = next
  }
  return level[0]!
}

/** The field element standing for a job id: Poseidon(length, three 31-byte big-endian chunks). */
export function jobIdElement(jobId: Uint8Array): bigint {
  if (jobId.length === 0 || jobId.length > MAX_JOB_ID_BYTES) {
    throw new InvalidStepError(`job id of ${jobId.length} bytes (1..${MAX_JOB_ID_BYTES})`)
  }
  const padded = new Uint8Array(93)
  padded.set(jobId)
  const chunk = (c: number) =>
    BigInt(`0x${Buffer.from(padded.subarray(31 * c, 31 * c + 31)).toString('hex')}`)
  return poseidon([BigInt(jobId.length), chunk(0), chunk(1), chunk(2)])
}

/** The transcript's zk root from its window roots (what a verifier recomputes). */
export function zkRootFromWindows(args: {
  readonly jobId: Uint8Array
  readonly stepCount: number
  readonly windowSize: number
  readonly topK: number
  readonly windowRoots: readonly bigint[]
}): bigint {
  const { jobId, stepCount, windowSize, topK, windowRoots } = args
  checkWindowSize(windowSize)
  if (windowRoots.length !== windowCount(stepCount, windowSize)) {
    throw new RangeError(
      `${windowRoots.length} window roots for ${stepCount} steps of windows of ${windowSize}`,
    )
  }
  return poseidon([
    ZK_ROOT_DOMAIN,
    jobIdElement(jobId),
    BigInt(stepCount),
    BigInt(windowSize),
    BigInt(topK),
    windowsTreeRoot(windowRoots),
  ])
}

/**
 * The zk root of a transcript — what the provider puts in `InferenceResponse.zk_root` and signs before
 * it proves. Steps are the committed (quantised) ones, `step === t` at position t, all with `topK`
 * candidates.
 *
 * @example
 * const zkRoot = zkRootOf({ jobId, steps: transcript.steps, windowSize: 16, topK: 8 })
 * response.zkRoot = zkRoot
 * @throws {InvalidStepError} a malformed step
 */
export function zkRootOf(args: {
  readonly jobId: Uint8Array
  readonly steps: readonly CommittedStep[]
  readonly windowSize: number
  readonly topK: number
}): Uint8Array {
  const { jobId, steps, windowSize, topK } = args
  checkSteps(steps, topK)
  return toBytes32(
    zkRootFromWindows({
      jobId,
      stepCount: steps.length,
      windowSize,
      topK,
      windowRoots: zkWindowRoots(steps, windowSize),
    }),
  )
}

/** Computes a zk root step by step, while the answer is generated (see {@link createZkRootBuilder}). */
export interface ZkRootBuilder {
  /** Adds the next committed step (its `step` must be the number of steps added so far). */
  push(step: CommittedStep): void
  readonly stepCount: number
  /** The zk root of the steps added so far. */
  root(): Uint8Array
}

/**
 * An incremental {@link zkRootOf}: hashes each step's leaf as it is pushed and each window as it fills,
 * so a provider spreads the Poseidon work (poseidon-lite: ~0.3–0.5 ms per step on 2 cores) over the
 * generation instead of paying it all before signing.
 *
 * @example
 * const zk = createZkRootBuilder(jobId, { windowSize: 16, topK: 8 })
 * engine.onStep((t, step) => zk.push(commitStep(t, step)))
 * response.zkRoot = zk.root()
 */
export function createZkRootBuilder(
  jobId: Uint8Array,
  shape: { readonly windowSize: number; readonly topK: number },
): ZkRootBuilder {
  const { windowSize, topK } = shape
  checkWindowSize(windowSize)
  jobIdElement(jobId)
  const windowRoots: bigint[] = []
  let leaves: bigint[] = []
  let count = 0
  return {
    push(step) {
      if (step.step !== count) throw new InvalidStepError(`step ${step.step} at position ${count}`)
      checkCommittedStep(step, topK)
      leaves.push(zkLeaf(step))
      count++
      if (leaves.length === windowSize) {
        windowRoots.push(zkWindowRoot(leaves, windowSize))
        leaves = []
      }
    },
    get stepCount() {
      return count
    },
    root() {
      const roots = leaves.length > 0 ? [...windowRoots, zkWindowRoot(leaves, windowSize)] : windowRoots
      return toBytes32(zkRootFromWindows({ jobId, stepCount: count, windowSize, topK, windowRoots: roots }))
    },
  }
}
