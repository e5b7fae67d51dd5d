import { bytesEqual, InfraxaError, type SignedEnvelope } from '@infraxa/protocol'
import { ComplianceFailedError } from '../errors.js'
import type {
  VerificationContext,
  VerificationInput,
  VerificationMode,
  VerificationResult,
} from '../modes/spec.js'

/** One input for the suite, with the context to verify it under. */
export interface ComplianceCase {
  readonly name: string
  readonly input: VerificationInput
  readonly context: VerificationContext
}

export interface ComplianceOutcome {
  readonly name: string
  readonly kind: 'honest' | 'attack' | 'generic-attack' | 'malformed'
  readonly passed: boolean
  readonly result?: VerificationResult
  readonly error?: string
  readonly ms: number
}

export interface ComplianceReport {
  readonly modeId: string
  readonly outcomes: readonly ComplianceOutcome[]
  readonly failures: readonly string[]
}

function flipLastByte(bytes: Uint8Array): Uint8Array {
  const copy = Uint8Array.from(bytes)
  copy[copy.length - 1]! ^= 1
  return copy
}

function withEnvelope(envelope: SignedEnvelope, change: Partial<SignedEnvelope>): SignedEnvelope {
  return { ...envelope, ...change }
}

/** Attacks every mode must reject, derived from the honest cases (so third-party modes get them free). */
function genericAttacks(honest: readonly ComplianceCase[]): ComplianceCase[] {
  const attacks: ComplianceCase[] = []
  for (const c of honest) {
    const { request, response } = c.input
    attacks.push({
      name: `${c.name}: response signature flipped`,
      input: {
        ...c.input,
        response: withEnvelope(response, { signature: flipLastByte(response.signature) }),
      },
      context: c.context,
    })
    attacks.push({
      name: `${c.name}: response payload altered`,
      input: { ...c.input, response: withEnvelope(response, { payload: flipLastByte(response.payload) }) },
      context: c.context,
    })
    attacks.push({
      name: `${c.name}: request payload altered`,
      input: { ...c.input, request: withEnvelope(request, { payload: flipLastByte(request.payload) }) },
      context: c.context,
    })
    attacks.push({
      name: `${c.name}: response presented as a request`,
      input: { ...c.input, request: response },
      context: c.context,
    })
  }
  for (let i = 0; i + 1 < honest.length; i++) {
    const a = honest[i]!
    const b = honest[i + 1]!
    // Two cases over the same exchange are no replay of one into the other.
    if (bytesEqual(a.input.request.payload, b.input.request.payload)) continue
    attacks.push({
      name: `${b.name}'s response replayed for ${a.name}'s request`,
      input: { ...b.input, request: a.input.request },
      context: b.context,
    })
  }
  return attacks
}

async function run(
  mode: VerificationMode,
  c: ComplianceCase,
): Promise<{ result?: VerificationResult; error?: unknown; ms: number }> {
  const start = performance.now()
  try {
    const result = await mode.verify(c.input, c.context)
    return { result, ms: performance.now() - start }
  } catch (error) {
    return { error, ms: performance.now() - start }
  }
}

const describeError = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e))

/**
 * The compliance suite every verification mode runs, ours or a third party's:
 * - every honest case verifies `{ valid: true }`;
 * - every attack case — the mode's own, plus generic ones derived from the honest cases (flipped
 *   signatures, altered payloads, a response replayed for another request) — resolves `{ valid: false }`
 *   with a reason (a typed throw counts as rejection, an untyped crash does not);
 * - an input missing the request throws an `InfraxaError`, never something untyped.
 *
 * Resolves a report; throws {@link ComplianceFailedError} listing every failed case.
 *
 * @example
 * it('merkle mode is compliant', async () => {
 *   await runModeCompliance({ mode: merkleMode(), honestCases, attackCases })
 * })
 */
export async function runModeCompliance(args: {
  mode: VerificationMode
  honestCases: readonly ComplianceCase[]
  attackCases: readonly ComplianceCase[]
}): Promise<ComplianceReport> {
  const { mode, honestCases, attackCases } = args
  if (honestCases.length === 0) throw new TypeError('runModeCompliance: give at least one honest case')
  const outcomes: ComplianceOutcome[] = []
  const failures: string[] = []

  for (const c of honestCases) {
    const { result, error, ms } = await run(mode, c)
    const passed = result?.valid === true
    outcomes.push({
      name: c.name,
      kind: 'honest',
      passed,
      ...(result && { result }),
      ...(error !== undefined && { error: describeError(error) }),
      ms,
    })
    if (!passed) {
      failures.push(
        `honest case "${c.name}" was not accepted: ${result && !result.valid ? result.reason : describeError(error)}`,
      )
    }
  }

  const attacks = [
    ...attackCases.map((c) => ({ c, kind: 'attack' as const })),
    ...genericAttacks(honestCases).map((c) => ({ c, kind: 'generic-attack' as const })),
  ]
  for (const { c, kind } of attacks) {
    const { result, error, ms } = await run(mode, c)
    const rejected =
      (result !== undefined && !result.valid && result.reason.length > 0) ||
      (error !== undefined && error instanceof InfraxaError)
    outcomes.push({
      name: c.name,
      kind,
      passed: rejected,
      ...(result && { result }),
      ...(error !== undefined && { error: describeError(error) }),
      ms,
    })
    if (!rejected) {
      failures.push(
        `attack "${c.name}" was not rejected: ${result?.valid ? 'accepted as valid' : describeError(error)}`,
      )
    }
  }

  const first = honestCases[0]!
  const malformed = await run(mode, {
    name: 'input without request',
    input: { response: first.input.response } as unknown as VerificationInput,
    context: first.context,
  })
  const typed = malformed.error instanceof InfraxaError
  outcomes.push({ name: 'input without request', kind: 'malformed', passed: typed, ms: malformed.ms })
  if (!typed)
    failures.push(
      `an input without a request did not throw a typed InfraxaError (${malformed.error === undefined ? 'resolved' : describeError(malformed.error)})`,
    )

  const report = { modeId: mode.id, outcomes, failures }
  if (failures.length > 0) throw new ComplianceFailedError(mode.id, failures)
  return report
}
