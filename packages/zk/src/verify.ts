import { quantiseTemperature } from '@infraxa/proofs/sampling'
import { bytesEqual } from '@infraxa/protocol'
import type { ZkVerifierArtifacts } from './artifacts.js'
import { activeSteps, windowCount, zkRootFromWindows } from './commitment.js'
import { MalformedZkProofError } from './errors.js'
import { fieldFromBytes, toBytes32 } from './field.js'
import { type Groth16Statement, verifyGroth16 } from './groth16.js'
import type { ZkSampling, ZkTranscriptProofData, ZkWindowProofData } from './prover.js'

/**
 * The public signals of window `index`, rebuilt by the verifier from what it already has — the window
 * root it checked against the signed zk root, the window position, the signed step count and output
 * tokens, and for a sampled circuit the request's seed and temperature — never taken from the prover:
 * `[root, index, active, token_0 … token_{T−1}]`, or `[root, index, active, seed, tau, token_0 …]` with
 * `sampling` (tau = the temperature in Q16.16). Tokens past the end are 0.
 */
export function windowPublicSignals(args: {
  readonly windowRoot: bigint
  readonly index: number
  readonly windowSize: number
  readonly outputTokens: readonly number[]
  readonly sampling?: ZkSampling
}): bigint[] {
  const { windowRoot, index, windowSize, outputTokens, sampling } = args
  const active = activeSteps(index, outputTokens.length, windowSize)
  const tokens = Array.from({ length: windowSize }, (_, i) =>
    i < active ? BigInt(outputTokens[index * windowSize + i]!) : 0n,
  )
  const rule =
    sampling === undefined
      ? []
      : [BigInt.asUintN(64, sampling.seed), BigInt(quantiseTemperature(sampling.temperature))]
  return [windowRoot, BigInt(index), BigInt(active), ...rule, ...tokens]
}

/** The sampling a circuit's public signals take: the job's for a sampled circuit, none for a greedy one. */
function ruleSampling(
  artifacts: ZkVerifierArtifacts,
  sampling: ZkSampling | undefined,
): ZkSampling | undefined {
  if (artifacts.rule === 'greedy') return undefined
  if (sampling === undefined || !(sampling.temperature > 0)) {
    throw new MalformedZkProofError(
      `the ${artifacts.circuit} circuit needs the job's temperature > 0 and seed`,
    )
  }
  return sampling
}

/**
 * Verifies one window proof: the window's committed steps hash to `windowRoot` and each of its output
 * tokens is the choice of its committed top-k under the circuit's rule (greedy, or poseidon-gumbel with
 * the job's `sampling`).
 *
 * @example
 * await verifyWindow({ artifacts, outputTokens: response.outputTokens, window: proof.windows[0] }) // true
 */
export async function verifyWindow(args: {
  readonly artifacts: ZkVerifierArtifacts
  /** All output tokens of the transcript (their count is the step count). */
  readonly outputTokens: readonly number[]
  readonly window: ZkWindowProofData
  readonly sampling?: ZkSampling
}): Promise<boolean> {
  const { artifacts, outputTokens, window } = args
  if (window.index >= windowCount(outputTokens.length, artifacts.windowSize)) return false
  let root: bigint
  try {
    root = fieldFromBytes(window.windowRoot, 'window root')
  } catch {
    return false
  }
  let sampling: ZkSampling | undefined
  try {
    sampling = ruleSampling(artifacts, args.sampling)
  } catch {
    return false
  }
  const publicSignals = windowPublicSignals({
    windowRoot: root,
    index: window.index,
    windowSize: artifacts.windowSize,
    outputTokens,
    ...(sampling && { sampling }),
  })
  return verifyGroth16(artifacts.vkey, [{ publicSignals, proof: window.proof }])
}

export type ZkVerdict = { readonly ok: true } | { readonly ok: false; readonly reason: string }

/**
 * Verifies a transcript proof against what the provider signed in its response: the job id, the zk
 * root, the step count and the output tokens. Checks the proof is for this job, root, step count,
 * window size and verification key; that its windows are exactly 0 … W−1 in order; that the window
 * roots combine into the signed zk root; and (batched) that every window's Groth16 proof verifies for
 * the public signals rebuilt by {@link windowPublicSignals} (with the signed request's `sampling` for
 * a sampled circuit).
 */
export async function verifyZkTranscript(args: {
  readonly artifacts: ZkVerifierArtifacts
  readonly jobId: Uint8Array
  readonly zkRoot: Uint8Array
  readonly outputTokens: readonly number[]
  readonly proof: ZkTranscriptProofData
  readonly sampling?: ZkSampling
}): Promise<ZkVerdict> {
  const { artifacts, jobId, zkRoot, outputTokens, proof } = args
  const { windowSize, topK } = artifacts
  const stepCount = outputTokens.length
  const fail = (reason: string): ZkVerdict => ({ ok: false, reason })
  let sampling: ZkSampling | undefined
  try {
    sampling = ruleSampling(artifacts, args.sampling)
  } catch (error) {
    if (error instanceof MalformedZkProofError) return fail(error.shortMessage)
    throw error
  }
  if (!bytesEqual(proof.jobId, jobId)) return fail('zk proof is for another job')
  if (!bytesEqual(proof.zkRoot, zkRoot)) return fail('zk proof is for another zk root than the signed one')
  if (proof.stepCount !== stepCount) return fail(`zk proof covers ${proof.stepCount} steps, not ${stepCount}`)
  if (proof.windowSize !== windowSize) {
    return fail(`zk proof uses windows of ${proof.windowSize} steps; the circuit proves ${windowSize}`)
  }
  if (!bytesEqual(proof.vkeyHash, artifacts.vkeyHash)) return fail('zk proof is for another verification key')
  const count = windowCount(stepCount, windowSize)
  if (proof.windows.length !== count)
    return fail(`${proof.windows.length} window proofs where ${count} are needed`)
  const roots: bigint[] = []
  for (const [w, window] of proof.windows.entries()) {
    if (window.index !== w) return fail(`window proof ${w} says it is window ${window.index}`)
    try {
      roots.push(fieldFromBytes(window.windowRoot, `window ${w} root`))
    } catch (error) {
      if (error instanceof MalformedZkProofError) return fail(error.shortMessage)
      throw error
    }
  }
  const expected = zkRootFromWindows({ jobId, stepCount, windowSize, topK, windowRoots: roots })
  if (!bytesEqual(toBytes32(expected), zkRoot))
    return fail('window roots do not combine into the signed zk root')
  const statements: Groth16Statement[] = proof.windows.map((window, w) => ({
    publicSignals: windowPublicSignals({
      windowRoot: roots[w]!,
      index: w,
      windowSize,
      outputTokens,
      ...(sampling && { sampling }),
    }),
    proof: window.proof,
  }))
  if (await verifyGroth16(artifacts.vkey, statements)) return { ok: true }
  let bad = -1
  for (const [w, s] of statements.entries()) {
    if (!(await verifyGroth16(artifacts.vkey, [s]))) {
      bad = w
      break
    }
  }
  return fail(
    `window ${bad < 0 ? '?' : bad} proof does not verify (tokens, root or position differ from what was proved)`,
  )
}
