import { InfraxaError } from '@infraxa/protocol'

/** A Merkle proof or opening is structurally unusable (wrong sizes, indices out of range, too few hashes). */
export class MalformedProofError extends InfraxaError {
  constructor(reason: string) {
    super('ERR_MALFORMED_PROOF', `malformed proof: ${reason}`)
  }
}

/** A transcript step cannot be committed as given (bad top-k, chosen token outside it, non-finite values). */
export class InvalidStepError extends InfraxaError {
  constructor(reason: string) {
    super('ERR_INVALID_STEP', `invalid transcript step: ${reason}`)
  }
}

/** A VRF key, input or proof has the wrong length or encoding. */
export class InvalidVrfInputError extends InfraxaError {
  constructor(reason: string) {
    super('ERR_INVALID_VRF_INPUT', `invalid VRF input: ${reason}`)
  }
}

/** No verification mode is registered under this id. */
export class UnknownVerificationModeError extends InfraxaError {
  readonly modeId: string
  constructor(modeId: string, known: readonly string[]) {
    super('ERR_UNKNOWN_VERIFICATION_MODE', `no verification mode "${modeId}"`, {
      details: `Registered modes: ${known.length > 0 ? known.join(', ') : '(none)'}. Add it with registry.add(mode).`,
    })
    this.modeId = modeId
  }
}

/** A mode with this id is already registered. */
export class DuplicateVerificationModeError extends InfraxaError {
  constructor(modeId: string) {
    super('ERR_DUPLICATE_VERIFICATION_MODE', `verification mode "${modeId}" is already registered`)
  }
}

/**
 * The caller passed a mode input that lacks what the mode needs (e.g. no executor for the merkle mode).
 * This is a programming error, not a verdict about the provider: invalid proofs return `{ valid: false }`.
 */
export class MalformedVerificationInputError extends InfraxaError {
  constructor(modeId: string, reason: string) {
    super('ERR_MALFORMED_VERIFICATION_INPUT', `${modeId}: ${reason}`)
  }
}

/** A verification mode failed its compliance suite. */
export class ComplianceFailedError extends InfraxaError {
  readonly failures: readonly string[]
  constructor(modeId: string, failures: readonly string[]) {
    super('ERR_COMPLIANCE_FAILED', `mode "${modeId}" failed ${failures.length} compliance case(s)`, {
      details: failures.join('\n'),
    })
    this.failures = failures
  }
}
