import { randomBytes } from 'node:crypto'
/** The verification summary every completion carries (field `infraxa`, ignored by OpenAI clients). */
export interface CompletionReceipt {
  readonly receipt_id: string
  readonly verification: string
  readonly verdict: 'verified' | 'failed' | 'pending' | 'unaudited'
  readonly reason?: string
  /** How the text reached the client: `none` (after verification), `verified` (a chunk behind), `live`. */
  readonly streaming: 'none' | 'verified' | 'live'
  /** The per-token check: steps scored, mismatches, p-value if honest, verdict. */
  readonly token_check?: {
    readonly steps: number
    readonly mismatches: number
    readonly largest_margin: number
    readonly p_value: number
    readonly verdict: string
  }
  readonly provider: string
  readonly model_hash: string
  /** The sampling seed of this answer (decimal string: it may exceed 2^53). */
  readonly seed?: string
  readonly audited_steps: number
  readonly attempts: number
  readonly timings_ms: Readonly<Record<string, number>>
}

/** One token's log-prob in OpenAI's shape, with its alternatives. */
export interface TokenLogprobEntry {
  readonly token: string
  readonly logprob: number
  readonly bytes: number[]
  readonly top_logprobs: ReadonlyArray<{ token: string; logprob: number; bytes: number[] }>
}

export interface CompletionResult {
  readonly id: string
  readonly model: string
  readonly text: string
  readonly finishReason: string
  readonly promptTokens: number
  readonly completionTokens: number
  readonly receipt: CompletionReceipt
  /** With `logprobs`: per answer token, from the router's own re-execution. */
  readonly logprobs?: readonly TokenLogprobEntry[]
}

/** OpenAI's `usage`, summed over the choices (the prompt counted once). */
export function usageOf(results: readonly CompletionResult[]) {
  const prompt = results[0]?.promptTokens ?? 0
  const completion = results.reduce((n, r) => n + r.completionTokens, 0)
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion }
}

/**
 * Identifies the backend configuration of an answer as OpenAI's `system_fingerprint` does: the model
 * (hash prefix) and the seed it was sampled with, so a client can reproduce or audit it.
 */
export function systemFingerprint(result: CompletionResult): string {
  return `fp_${result.receipt.model_hash.slice(0, 12)}_seed${result.receipt.seed ?? '0'}`
}

/**
 * A completion body (`chat.completion` or `text_completion`) of one or more choices: `choice` gives each
 * choice's own fields; index, finish reason, usage and receipts are the same for both.
 */
function body(
  results: readonly CompletionResult[],
  object: string,
  choice: (r: CompletionResult) => Record<string, unknown>,
): Record<string, unknown> {
  const first = results[0]!
  return {
    id: first.id,
    object,
    created: Math.floor(Date.now() / 1000),
    model: first.model,
    system_fingerprint: systemFingerprint(first),
    choices: results.map((r, index) => ({
      index,
      ...choice(r),
      finish_reason: r.finishReason,
      ...(results.length > 1 && { infraxa: r.receipt }),
    })),
    usage: usageOf(results),
    // Choice 0's receipt (each choice carries its own when n > 1).
    infraxa: first.receipt,
  }
}

/** The `chat.completion` body of one or more choices. */
export function completionBody(results: readonly CompletionResult[]): Record<string, unknown> {
  return body(results, 'chat.completion', (r) => ({
    message: { role: 'assistant', content: r.text, refusal: null },
    logprobs: r.logprobs ? { content: r.logprobs, refusal: null } : null,
  }))
}

/**
 * Legacy text-completion `logprobs` (`/v1/completions`): parallel arrays of the answer's tokens, their
 * log-probs, their alternatives as `{ token: logprob }` objects, and each token's offset in the text.
 */
export function textLogprobs(entries: readonly TokenLogprobEntry[], offset = 0) {
  const text_offset: number[] = []
  let at = offset
  for (const e of entries) {
    text_offset.push(at)
    at += e.token.length
  }
  return {
    tokens: entries.map((e) => e.token),
    token_logprobs: entries.map((e) => e.logprob),
    top_logprobs: entries.map((e) => Object.fromEntries(e.top_logprobs.map((a) => [a.token, a.logprob]))),
    text_offset,
  }
}

/**
 * The `text_completion` body (`/v1/completions`) of one or more choices; with `echo`, each choice's
 * text starts with the prompt.
 */
export function textCompletionBody(
  results: readonly CompletionResult[],
  echo: string | undefined,
): Record<string, unknown> {
  return body(results, 'text_completion', (r) => ({
    text: (echo ?? '') + r.text,
    logprobs: r.logprobs ? textLogprobs(r.logprobs) : null,
  }))
}

/**
 * Builds the SSE chunks of a streamed completion: `chat.completion.chunk` (a role chunk, then deltas), or
 * for `/v1/completions` (`kind: 'text'`) `text_completion` chunks carrying `text`.
 */
export class ChunkWriter {
  /**
   * One id for every chunk of the stream, as OpenAI's (clients group chunks by it): made when the stream
   * opens, since the receipts exist only at the end; each choice's last chunk names its receipt.
   */
  readonly id: string
  readonly #created = Math.floor(Date.now() / 1000)
  readonly #model: string
  readonly #kind: 'chat' | 'text'
  #fingerprint: string | undefined

  constructor(model: string, kind: 'chat' | 'text' = 'chat') {
    this.#model = model
    this.#kind = kind
    this.id = `${kind === 'chat' ? 'chatcmpl' : 'cmpl'}-${randomBytes(12).toString('hex')}`
  }

  chunk(choices: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      id: this.id,
      object: this.#kind === 'chat' ? 'chat.completion.chunk' : 'text_completion',
      created: this.#created,
      model: this.#model,
      ...(this.#fingerprint && { system_fingerprint: this.#fingerprint }),
      choices,
      ...extra,
    }
  }

  /** The first chunk of a choice: its role (chat), or nothing for a text completion. */
  role(index: number): Record<string, unknown> | undefined {
    if (this.#kind === 'text') return undefined
    return this.chunk([
      { index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null },
    ])
  }

  text(index: number, content: string) {
    if (this.#kind === 'text')
      return this.chunk([{ index, text: content, logprobs: null, finish_reason: null }])
    return this.chunk([{ index, delta: { content }, logprobs: null, finish_reason: null }])
  }

  /** The last chunk of a choice: finish reason, its log-probs (all at once, after verification), receipt. */
  finish(index: number, result: CompletionResult) {
    this.#fingerprint = systemFingerprint(result)
    if (this.#kind === 'text') {
      return this.chunk(
        [
          {
            index,
            text: '',
            logprobs: result.logprobs ? textLogprobs(result.logprobs) : null,
            finish_reason: result.finishReason,
          },
        ],
        { infraxa: result.receipt },
      )
    }
    return this.chunk(
      [
        {
          index,
          delta: {},
          logprobs: result.logprobs ? { content: result.logprobs, refusal: null } : null,
          finish_reason: result.finishReason,
        },
      ],
      { infraxa: result.receipt },
    )
  }

  /** `stream_options.include_usage`: a last chunk with no choices and the usage. */
  usage(results: readonly CompletionResult[]) {
    return this.chunk([], { usage: usageOf(results) })
  }
}
