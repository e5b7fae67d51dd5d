import { create } from '@bufbuild/protobuf'
import { InfraxaError } from './errors.js'
import { type ErrorMessage, ErrorMessageSchema } from './gen/infraxa/v1/error_pb.js'

/** An ERROR message received from a peer, raised locally. `code` is the peer's code. */
export class RemoteError extends InfraxaError {
  readonly retryAfterMs: number | undefined
  constructor(message: ErrorMessage) {
    super(message.code || 'ERR_REMOTE', `peer answered ${message.code || 'an error'}: ${message.message}`)
    this.retryAfterMs = message.retryAfterMs > 0 ? message.retryAfterMs : undefined
  }
}

const MAX_ERROR_TEXT = 1024

/**
 * The ERROR message that tells a peer about `error`. An {@link InfraxaError} keeps its code and short
 * message; anything else becomes `ERR_INTERNAL` without its text, so internals never leak to peers.
 */
export function toErrorMessage(
  error: unknown,
  extra: { jobId?: Uint8Array; retryAfterMs?: number } = {},
): ErrorMessage {
  const known = error instanceof InfraxaError
  return create(ErrorMessageSchema, {
    code: known ? error.code : 'ERR_INTERNAL',
    message: (known ? error.shortMessage : 'internal error').slice(0, MAX_ERROR_TEXT),
    jobId: extra.jobId ?? new Uint8Array(0),
    retryAfterMs: extra.retryAfterMs ?? 0,
  })
}
