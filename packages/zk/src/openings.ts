import type { CommittedStep } from '@infraxa/proofs/transcript'
import {
  bytesEqual,
  decodeEnvelope,
  InfraxaError,
  openEnvelope,
  type SignedEnvelope,
} from '@infraxa/protocol'
import { activeSteps, windowCount, zkLeaf, zkWindowRoot } from './commitment.js'
import { fieldFromBytes, toBytes32 } from './field.js'

/** The Poseidon leaves of the window holding one opened step (what an AUDIT_PROOF's `zk_windows` carries). */
export interface ZkWindowOpeningData {
  readonly step: number
  /** `windowSize` leaves, 32-byte big-endian each; 0 past the last step. */
  readonly leaves: readonly Uint8Array[]
}

/**
 * Provider side: for each opened step, the Poseidon leaves of its window, computed from the same
 * committed steps as the SHA-256 transcript — the audit opens both commitments at once.
 */
export function zkWindowOpenings(
  steps: readonly CommittedStep[],
  opened: readonly number[],
  windowSize: number,
): ZkWindowOpeningData[] {
  return opened.map((step) => {
    const w = Math.floor(step / windowSize)
    const leaves: Uint8Array[] = []
    for (let i = 0; i < windowSize; i++) {
      const at = w * windowSize + i
      leaves.push(toBytes32(at < steps.length ? zkLeaf(steps[at]!) : 0n))
    }
    return { step, leaves }
  })
}

/**
 * One answer, one truth: checks that each step an audit opened under the SHA-256 transcript root is the
 * step the zk proof covers — its Poseidon leaf is at its place among its window's leaves, and those
 * leaves hash to the window root the (verified) zk proof carries. A provider that committed one set of
 * steps to `transcript_root` and another to `zk_root` fails at every opened step where they differ.
 * Call it with a zk proof whose window roots were verified (`verifyZkTranscript`, the zk mode).
 */
export function checkZkOpenings(args: {
  proof: {
    readonly windowSize: number
    readonly stepCount: number
    readonly windows: ReadonlyArray<{ index: number; windowRoot: Uint8Array }>
  }
  openings: readonly CommittedStep[]
  zkWindows: readonly ZkWindowOpeningData[]
}): { ok: true } | { ok: false; reason: string } {
  const { windowSize, stepCount, windows } = args.proof
  if (windows.length !== windowCount(stepCount, windowSize))
    return { ok: false, reason: 'zk proof windows do not cover the steps' }
  for (const opening of args.openings) {
    const given = args.zkWindows.find((z) => z.step === opening.step)
    if (given === undefined)
      return { ok: false, reason: `no Poseidon opening of audited step ${opening.step}` }
    const w = Math.floor(opening.step / windowSize)
    const windowRoot = windows[w]?.windowRoot
    if (windowRoot === undefined || windows[w]!.index !== w) {
      return { ok: false, reason: `the zk proof has no window ${w} for step ${opening.step}` }
    }
    if (given.leaves.length !== windowSize) {
      return {
        ok: false,
        reason: `step ${opening.step}: ${given.leaves.length} Poseidon leaves, ${windowSize} expected`,
      }
    }
    let leaves: bigint[]
    let leaf: bigint
    try {
      leaves = given.leaves.map((l) => fieldFromBytes(l, 'Poseidon leaf'))
      leaf = zkLeaf(opening)
    } catch (error) {
      if (!(error instanceof InfraxaError)) throw error
      return { ok: false, reason: `step ${opening.step}: ${error.shortMessage}` }
    }
    // Past the last step the circuit counts leaves as 0.
    const active = activeSteps(w, stepCount, windowSize)
    if (leaves.slice(active).some((l) => l !== 0n)) {
      return { ok: false, reason: `step ${opening.step}: leaves past the last step are not 0` }
    }
    if (leaves[opening.step % windowSize] !== leaf) {
      return {
        ok: false,
        reason: `step ${opening.step}: the zk proof and the audited transcript commit to different steps (Poseidon leaf differs)`,
      }
    }
    if (!bytesEqual(toBytes32(zkWindowRoot(leaves, windowSize)), windowRoot)) {
      return {
        ok: false,
        reason: `step ${opening.step}: its window's leaves do not hash to the proved window root`,
      }
    }
  }
  return { ok: true }
}

/**
 * {@link checkZkOpenings} from the signed messages: the provider's AUDIT_PROOF of the job (its openings
 * and `zk_windows`) beside its zk proof (the decoded ZK_PROOF message, or its encoded envelope).
 */
export function checkZkAudit(args: {
  proof: Parameters<typeof checkZkOpenings>[0]['proof'] | Uint8Array
  auditProof: SignedEnvelope
  response: { jobId: Uint8Array; transcriptRoot: Uint8Array }
  providerKey: Uint8Array
}): { ok: true; steps: number } | { ok: false; reason: string } {
  let proof: Parameters<typeof checkZkOpenings>[0]['proof']
  let audit: ReturnType<typeof openEnvelope<'AUDIT_PROOF'>>['message']
  try {
    proof =
      args.proof instanceof Uint8Array
        ? openEnvelope('ZK_PROOF', decodeEnvelope(args.proof), { signer: args.providerKey }).message
        : args.proof
    audit = openEnvelope('AUDIT_PROOF', args.auditProof, { signer: args.providerKey }).message
  } catch (error) {
    if (!(error instanceof InfraxaError)) throw error
    return { ok: false, reason: `zk audit: ${error.shortMessage}` }
  }
  if (
    !bytesEqual(audit.transcriptRoot, args.response.transcriptRoot) ||
    !bytesEqual(audit.jobId, args.response.jobId)
  ) {
    return { ok: false, reason: 'the audit proof is for another transcript' }
  }
  const opened = checkZkOpenings({ proof, openings: audit.openings, zkWindows: audit.zkWindows })
  return opened.ok ? { ok: true, steps: audit.openings.length } : opened
}
