import { InfraxaError } from '@infraxa/protocol'

/**
 * The HTTP request is not a valid (or not a supported) completion request. Maps to 400
 * `invalid_request_error`, naming the offending parameter in `param` where there is one.
 */
export class BadRequestError extends InfraxaError {
  readonly status = 400
  /** The request parameter at fault (OpenAI's `error.param`), e.g. `top_p` or `messages[2].role`. */
  readonly param: string | undefined
  constructor(reason: string, param?: string, code = 'ERR_BAD_REQUEST') {
    super(code, reason)
    this.param = param
  }
}

/** Prompt + max_tokens exceed the model's context window (OpenAI's `context_length_exceeded`). Maps to 400. */
export class ContextLengthExceededError extends BadRequestError {
  constructor(
    promptTokens: number,
    maxTokens: number,
    contextSize: number,
    param: 'messages' | 'prompt' = 'messages',
  ) {
    super(
      `This model's maximum context length is ${contextSize} tokens. However, you requested ${promptTokens + maxTokens} tokens (${promptTokens} in the ${param}, ${maxTokens} in the completion). Please reduce the length of the ${param} or completion.`,
      param,
      'context_length_exceeded',
    )
  }
}

/** No model on the network matches the requested name or hash. Maps to 404. */
export class UnknownModelError extends InfraxaError {
  readonly status = 404
  constructor(model: string, known: readonly string[]) {
    super('ERR_UNKNOWN_MODEL', `no provider serves model "${model}"`, {
      details: `Models on the network: ${known.length > 0 ? known.join(', ') : '(none yet)'}; see GET /v1/models.`,
    })
  }
}

/** The router cannot verify this model in the requested mode (it has no local copy to re-execute). */
export class CannotVerifyError extends InfraxaError {
  readonly status = 422
  constructor(model: string, mode: string) {
    super('ERR_CANNOT_VERIFY', `this router cannot verify model "${model}" in mode "${mode}"`, {
      details:
        'Start the router with --verify-model <gguf> for that model, or choose another verification mode.',
    })
  }
}

/**
 * A provider failed after part of an answer reached the client, and the retry elsewhere (same request,
 * same seed) did not reproduce that part: the client has a cut answer. Nobody's fault (another provider's
 * honest numerics may pick another token). Maps to 503.
 */
export class ResumeDivergedError extends InfraxaError {
  readonly status = 503
  constructor(step: number, reason: string) {
    super(
      'ERR_ANSWER_CUT',
      `the answer was cut: its provider failed after part of it was sent, and the retry chose another token at step ${step}`,
      { details: reason },
    )
  }
}

/** Every eligible provider failed, timed out or failed verification. Maps to 503. */
export class NoVerifiedAnswerError extends InfraxaError {
  readonly status = 503
  readonly attempts: readonly string[]
  /** @param attempts - one line per provider tried; none: no provider of the model could be asked. */
  constructor(attempts: readonly string[], waitedMs?: number) {
    super(
      'ERR_NO_VERIFIED_ANSWER',
      attempts.length > 0
        ? `no provider produced a verified answer (${attempts.length} tried)`
        : `no provider of this model could be asked${waitedMs === undefined ? '' : ` (waited ${Math.round(waitedMs / 1000)} s for one)`}`,
      {
        details:
          attempts.length > 0
            ? attempts.join('\n')
            : 'None is known, or all are banned, busy or unfit for the request; see GET /v1/dashboard.',
      },
    )
    this.attempts = attempts
  }
}

/** The request body exceeds the HTTP size limit. Maps to 413. */
export class PayloadTooLargeError extends InfraxaError {
  readonly status = 413
  constructor(limit: number) {
    super('ERR_PAYLOAD_TOO_LARGE', `request body exceeds ${limit} bytes`)
  }
}

/**
 * A completion request whose body is not declared `application/json`. Maps to 415. Refused before it
 * is read: a web page can make a browser send a `text/plain` or form POST to a router on the user's
 * machine without asking first (no CORS preflight), and such a request must not run a paid job.
 */
export class UnsupportedMediaTypeError extends InfraxaError {
  readonly status = 415
  constructor(contentType: string | undefined) {
    super(
      'ERR_UNSUPPORTED_MEDIA_TYPE',
      contentType ? `content-type "${contentType}" is not application/json` : 'no content-type given',
      { details: 'Send the JSON body with "content-type: application/json".' },
    )
  }
}

/** The router's queue for this model is full: come back later. Maps to 429 with `Retry-After`. */
export class TooManyRequestsError extends InfraxaError {
  readonly status = 429
  /** Seconds, for the `Retry-After` header. */
  readonly retryAfterSeconds: number
  constructor(model: string, pending: number, retryAfterSeconds: number) {
    super('ERR_TOO_MANY_REQUESTS', `${pending} requests for ${model} are already waiting`, {
      details: `Retry after ${retryAfterSeconds} s.`,
    })
    this.retryAfterSeconds = retryAfterSeconds
  }
}
