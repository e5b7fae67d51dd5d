/**
 * Errors of the Infraxa protocol layer, and the base class every Infraxa package extends.
 *
 * Every error has a stable `code` (the same string travels in an ERROR message when a peer must be
 * told), a `shortMessage` that says what happened, and optional `details` that say what to do.
 */

export interface InfraxaErrorOptions {
  /** What the caller can do about it. */
  details?: string
  cause?: unknown
}

export class InfraxaError extends Error {
  /** Stable machine-readable code, e.g. `ERR_MESSAGE_TOO_LARGE`. */
  readonly code: string
  /** One line saying what happened, without the details. */
  readonly shortMessage: string
  readonly details: string | undefined

  constructor(code: string, shortMessage: string, options: InfraxaErrorOptions = {}) {
    super(options.details ? `${shortMessage}\n\n${options.details}` : shortMessage, { cause: options.cause })
    this.name = new.target.name
    this.code = code
    this.shortMessage = shortMessage
    this.details = options.details
  }
}

/** The bytes exceed the size limit of their message kind; nothing was decoded. */
export class MessageTooLargeError extends InfraxaError {
  readonly size: number
  readonly limit: number
  constructor(kind: string, size: number, limit: number) {
    super('ERR_MESSAGE_TOO_LARGE', `${kind} of ${size} bytes exceeds the limit of ${limit} bytes`, {
      details: 'Send a smaller message (fewer tokens, shorter prompt) or raise the limit on both peers.',
    })
    this.size = size
    this.limit = limit
  }
}

/** The bytes are not a valid protobuf encoding of the expected message, or break a field rule. */
export class MalformedMessageError extends InfraxaError {
  constructor(kind: string, reason: string, options: InfraxaErrorOptions = {}) {
    super('ERR_MALFORMED_MESSAGE', `malformed ${kind}: ${reason}`, options)
  }
}

/** The envelope's signature does not verify over its domain, payload type and payload. */
export class InvalidSignatureError extends InfraxaError {
  constructor(reason = 'signature does not verify') {
    super('ERR_INVALID_SIGNATURE', `invalid envelope signature: ${reason}`, {
      details: 'The message was altered in transit or signed by another key; discard it.',
    })
  }
}

/** The envelope is well-formed and signed, but is not the kind (domain, type, signer) expected here. */
export class UnexpectedEnvelopeError extends InfraxaError {
  constructor(reason: string) {
    super('ERR_UNEXPECTED_ENVELOPE', `unexpected envelope: ${reason}`)
  }
}

/** An argument passed by the caller (not a peer) is out of range or of the wrong shape. */
export class InvalidArgumentError extends InfraxaError {
  constructor(reason: string) {
    super('ERR_INVALID_ARGUMENT', reason)
  }
}
