import { InfraxaError } from '@infraxa/protocol'

/** The request asks for a model this provider does not serve. */
export class UnknownModelError extends InfraxaError {
  constructor(hashHex: string) {
    super('ERR_UNKNOWN_MODEL', `this provider does not serve model ${hashHex}`)
  }
}

/** The request was addressed to another provider. */
export class WrongProviderError extends InfraxaError {
  constructor() {
    super('ERR_WRONG_PROVIDER', 'the request is addressed to another provider')
  }
}

/** The request's deadline has passed. */
export class DeadlineExceededError extends InfraxaError {
  constructor() {
    super('ERR_DEADLINE_EXCEEDED', 'the request deadline has passed')
  }
}

/** Every generation slot of the model is busy. */
export class BusyError extends InfraxaError {
  /** When the provider expects a place to be free (sent to the router with the ERROR frame). */
  readonly retryAfterMs: number
  constructor(running: number, queued: number, retryAfterMs = 1_000) {
    super('ERR_BUSY', `all ${running} sequences of this model are busy and ${queued} jobs wait`, {
      details: `Retry after ${retryAfterMs} ms or elsewhere.`,
    })
    this.retryAfterMs = retryAfterMs
  }
}

/** The request breaks one of the provider's published limits. */
export class LimitExceededError extends InfraxaError {
  constructor(reason: string) {
    super('ERR_LIMIT_EXCEEDED', reason)
  }
}

/** A job with this id already exists (a replayed request). */
export class DuplicateJobError extends InfraxaError {
  constructor() {
    super('ERR_DUPLICATE_JOB', 'a job with this id was already served')
  }
}

/** An audit names a job this provider does not hold (unknown, or past the retention window). */
export class UnknownJobError extends InfraxaError {
  constructor() {
    super('ERR_UNKNOWN_JOB', 'no such job (unknown or past the retention window)')
  }
}

/** The audit challenge is not acceptable for this job. */
export class BadChallengeError extends InfraxaError {
  constructor(reason: string) {
    super('ERR_BAD_CHALLENGE', reason)
  }
}

/** The verification mode is not served by this provider. */
export class UnsupportedModeError extends InfraxaError {
  constructor(mode: string, supported: readonly string[]) {
    super('ERR_UNSUPPORTED_MODE', `verification mode "${mode}" is not served here (${supported.join(', ')})`)
  }
}

/** The request holds both chat messages and a text prompt: which one to evaluate is not defined. */
export class InvalidPromptError extends InfraxaError {
  constructor(reason: string) {
    super('ERR_INVALID_PROMPT', reason)
  }
}

/** A payment voucher that would not pay: bad signature, another payee, above the deposit, a closed channel. */
export class InvalidVoucherError extends InfraxaError {
  constructor(reason: string) {
    super('ERR_INVALID_VOUCHER', `payment voucher refused: ${reason}`)
  }
}
