import { InvalidArgumentError } from '@infraxa/protocol'
import type { Llama, LlamaContext, LlamaContextSequence, LlamaModel } from 'node-llama-cpp'
import { AnswerText } from './answer-text.js'
import { decodeSteps } from './decode-steps.js'
import type { EngineInfo } from './engine-info.js'
import {
  ContextOverflowError,
  EmptyPromptError,
  GenerationAbortedError,
  InvalidTokenError,
  ModelDisposedError,
} from './errors.js'
import { Generation } from './generation.js'
import { type ChooseToken, chooseGreedy } from './generation-step.js'
import type { GgufSummary } from './gguf-inspection.js'
import { type GpuBackend, releaseLlama } from './llama-runtime.js'
import { asLlamaToken, asLlamaTokens } from './llama-token.js'
import { type ModelIdentity, modelIdentity } from './model-identity.js'
import { type ChatMessage, promptTokensForMessages, promptTokensForText } from './prompt-template.js'
import {
  cutsCache,
  type ReplayRequest,
  replayFromCutCache,
  replayPositions,
  replayStepwise,
  replayTokens,
  reusableTokens,
} from './replay-positions.js'
import { SequencePool, type SequenceSlot } from './sequence-pool.js'
import type { TokenLogprob } from './top-k.js'

/** Default number of entries per committed distribution. */
export const DEFAULT_TOP_K = 8
/** Default maximum number of generated tokens. */
export const DEFAULT_MAX_TOKENS = 256

/** The prompt of a generation: chat messages (templated by the engine) or exact token ids. */
export type GenerationPrompt =
  | { messages: readonly ChatMessage[]; promptTokens?: never }
  | { promptTokens: readonly number[]; messages?: never }

/** Options of {@link EngineModel.generate}. */
export type GenerateOptions = GenerationPrompt & {
  /** Maximum number of steps; prompt + maxTokens must fit the context. Default 256. */
  maxTokens?: number
  /**
   * Stop when the output text contains one of these. `result.text` is cut before it; the streamed text of
   * the last step may still contain it.
   */
  stop?: readonly string[]
  /** Entries per step distribution. Default 8. */
  topK?: number
  /** Picks each token from the step's distribution. Default: greedy. */
  choose?: ChooseToken
  signal?: AbortSignal
}

/** The parts {@link loadModel} assembles; internal. */
export interface EngineModelParts {
  path: string
  gpu: GpuBackend
  llama: Llama
  model: LlamaModel
  /** One or more contexts of the model, each with the same number of sequences. */
  contexts: LlamaContext[]
  summary: GgufSummary
  engineInfo: EngineInfo
}

function checkPositiveInteger(name: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new InvalidArgumentError(`${name} must be an integer from 1 to ${max}, got ${value}`)
  }
}

/**
 * A loaded model with one llama.cpp context (or `contexts` of them), pinned to the settings in
 * {@link PINNED_NUMERIC_SETTINGS}. Each context has `parallel` sequences, whose tokens llama.cpp batches
 * into one decode; contexts decode independently (each alone, on its own threads), so jobs on different
 * contexts run at once with the numerics of a solo decode. Contexts × parallel jobs run at once; more
 * wait in order. It is an `Executor` for
 * `@infraxa/proofs` (see {@link EngineModel.replay}). Dispose it (or `await using`) to free memory.
 */
export class EngineModel implements AsyncDisposable {
  /** Local path of the GGUF file. */
  readonly path: string
  /** What the GGUF metadata says (architecture, quantisation, vocabulary, ...). */
  readonly summary: GgufSummary
  /** Numerics-relevant settings, for responses and capabilities. */
  readonly engineInfo: EngineInfo
  readonly #parts: EngineModelParts
  readonly #pool: SequencePool
  readonly #disposing = new AbortController()
  #disposed: Promise<void> | undefined
  #identity: Promise<ModelIdentity> | undefined

  /** @internal Use {@link loadModel}. */
  constructor(parts: EngineModelParts) {
    this.#parts = parts
    this.path = parts.path
    this.summary = parts.summary
    this.engineInfo = parts.engineInfo
    const sequences = parts.contexts.flatMap((context) =>
      Array.from({ length: context.totalSequences }, () => context.getSequence()),
    )
    this.#pool = new SequencePool(sequences)
  }

  /** Number of tokens in the vocabulary; valid ids are 0..vocabSize-1. */
  get vocabSize(): number {
    return this.summary.vocabSize
  }

  /** Jobs that run at once (sequences over all contexts). */
  get parallel(): number {
    return this.#pool.size
  }

  /** Context window in tokens. */
  get contextSize(): number {
    return this.engineInfo.contextSize
  }

  /** Whether {@link dispose} has been called. */
  get disposed(): boolean {
    return this.#disposed !== undefined
  }

  /** SHA-256 and metadata summary of the model file (computed once, on first call). */
  identity(): Promise<ModelIdentity> {
    this.#identity ??= modelIdentity(this.path)
    return this.#identity
  }

  /** Tokenizes plain text (special-token text such as `</s>` stays plain unless `special` is set). */
  tokenize(text: string, options: { special?: boolean } = {}): number[] {
    this.#ensureLive()
    return this.#parts.model.tokenize(text, options.special ?? false)
  }

  /** Turns token ids back into text (control tokens render as '' unless `special` is set). */
  detokenize(tokens: readonly number[], options: { special?: boolean } = {}): string {
    this.#ensureLive()
    return this.#parts.model.detokenize(asLlamaTokens(tokens), options.special ?? false)
  }

  /**
   * The text of an answer to `promptTokens`, built from its token ids as {@link generate} builds it (see
   * {@link AnswerText}): what a verifier shows a client instead of any text a provider sent.
   */
  answerText(promptTokens: readonly number[], stop: readonly string[] = []): AnswerText {
    this.#ensureLive()
    const model = this.#parts.model
    return new AnswerText(
      {
        detokenize: (tokens, lastTokens) =>
          model.detokenize(asLlamaTokens(tokens), false, asLlamaTokens(lastTokens)),
        isEndOfGeneration: (token) => model.isEogToken(asLlamaToken(token)),
      },
      promptTokens,
      stop,
    )
  }

  /** Whether `token` ends a generation (EOS, EOT, ...). */
  isEndOfGeneration(token: number): boolean {
    return this.#parts.model.isEogToken(asLlamaToken(token))
  }

  /**
   * The exact prompt token ids for chat messages: the model's chat template when the GGUF has one,
   * otherwise the plain template (`<s>User: ...\nAssistant:`, see `plainPromptText`).
   */
  promptTokens(messages: readonly ChatMessage[]): number[] {
    this.#ensureLive()
    return promptTokensForMessages(this.#parts.model, messages)
  }

  /**
   * {@link promptTokens} for messages with string roles: the optional `Executor.tokenizePrompt` of
   * `@infraxa/proofs`, with which a verifier checks that the provider evaluated exactly the requested prompt.
   * Roles other than `system`, `user` and `assistant` throw `InvalidArgumentError`.
   */
  async tokenizePrompt(
    messages: ReadonlyArray<{ readonly role: string; readonly content: string }>,
  ): Promise<number[]> {
    const typed = messages.map(({ role, content }): ChatMessage => {
      if (role !== 'system' && role !== 'user' && role !== 'assistant') {
        throw new InvalidArgumentError(`unknown chat role "${role}" (expected system, user or assistant)`)
      }
      return { role, content }
    })
    return this.promptTokens(typed)
  }

  /**
   * The exact prompt token ids of a raw text prompt (a text completion, no chat template): BOS when the
   * tokenizer prepends one, then the text. The optional `Executor.tokenizeText` of `@infraxa/proofs`.
   */
  async tokenizeText(text: string): Promise<number[]> {
    this.#ensureLive()
    return promptTokensForText(this.#parts.model, text)
  }

  /**
   * Starts a generation. The prompt is resolved (and checked) synchronously, so `promptTokens` is known
   * at once; throws {@link EmptyPromptError}, {@link ContextOverflowError}, `InvalidTokenError` or
   * `InvalidArgumentError` before any evaluation. Iterate the result for steps, or await its `result`.
   *
   * @example
   * const generation = model.generate({ messages: [{ role: 'user', content: 'Hi' }], maxTokens: 32 })
   * for await (const step of generation) process.stdout.write(step.text)
   * const { outputTokens, finishReason } = await generation.result
   */
  generate(options: GenerateOptions): Generation {
    this.#ensureLive()
    const queuedAt = performance.now()
    const promptTokens = options.messages
      ? promptTokensForMessages(this.#parts.model, options.messages)
      : [...(options.promptTokens ?? [])]
    const maxTokens = options.maxTokens ?? DEFAULT_MAX_TOKENS
    const topK = options.topK ?? DEFAULT_TOP_K
    checkPositiveInteger('maxTokens', maxTokens, this.contextSize)
    checkPositiveInteger('topK', topK, this.vocabSize)
    this.#checkPrompt(promptTokens)
    if (promptTokens.length + maxTokens > this.contextSize) {
      throw new ContextOverflowError(promptTokens.length + maxTokens, this.contextSize)
    }
    const job = {
      promptTokens,
      maxTokens,
      topK,
      stop: options.stop ?? [],
      choose: options.choose ?? chooseGreedy,
      queuedAt,
    }
    return new Generation(
      [...promptTokens],
      (emit, signal) =>
        this.#exclusive(
          async (sequence) => {
            const abort = AbortSignal.any([signal, this.#disposing.signal])
            return await decodeSteps(this.#parts.model, sequence, job, emit, abort)
          },
          undefined,
          signal,
        ),
      options.signal,
    )
  }

  /**
   * Teacher-forced evaluation of `promptTokens ‖ outputTokens`, returning the top-k distribution at each
   * requested output position (position t: the distribution that produced `outputTokens[t]`), aligned
   * with `positions`. Runs in as few llama.cpp batches as the pinned `batchSize` allows and computes
   * logits only at those positions. This is the `Executor.replay` of `@infraxa/proofs`.
   */
  async replay(request: ReplayRequest): Promise<TokenLogprob[][]> {
    this.#ensureLive()
    const { promptTokens, outputTokens, positions } = request
    checkPositiveInteger('topK', request.topK, this.vocabSize)
    this.#checkPrompt(promptTokens)
    this.#checkTokens(outputTokens, 'outputTokens')
    for (const t of [...positions, ...(request.relativePositions ?? [])]) {
      if (!Number.isInteger(t) || t < 0 || t >= outputTokens.length) {
        throw new InvalidArgumentError(`replay position ${t} is outside 0..${outputTokens.length - 1}`)
      }
    }
    const evaluated = promptTokens.length + Math.max(0, ...positions)
    if (evaluated > this.contextSize) throw new ContextOverflowError(evaluated, this.contextSize)
    if (positions.length === 0) return []
    return this.#exclusive(
      async (sequence, kept, slot) => {
        if (request.stepwise === true) {
          // Decoding's own evaluation order; the cache it leaves is not a replay prefix to reuse.
          slot.replayed = []
          return await replayStepwise(sequence, request)
        }
        if (cutsCache(request, kept)) {
          const result = await replayFromCutCache(sequence, request)
          slot.replayed = replayTokens(request).slice(0, promptTokens.length + Math.min(...positions))
          return result
        }
        const result = await replayPositions(sequence, request, kept)
        slot.replayed = replayTokens(request)
        return result
      },
      request.reuseCache === true && request.stepwise !== true ? request : undefined,
    )
  }

  /**
   * Frees the context and the model (and the llama.cpp runtime when no other model uses it). Running
   * generations are aborted; queued jobs fail with {@link ModelDisposedError}. Idempotent.
   */
  dispose(): Promise<void> {
    this.#disposed ??= (async () => {
      this.#disposing.abort(new ModelDisposedError())
      // Every sequence back (queued jobs see the abort and give theirs up at once).
      const held = await Promise.all(Array.from({ length: this.#pool.size }, () => this.#pool.acquire()))
      try {
        for (const context of this.#parts.contexts) await context.dispose()
        await this.#parts.model.dispose()
        await releaseLlama(this.#parts.gpu)
      } finally {
        for (const { release } of held) release()
      }
    })()
    return this.#disposed
  }

  /** Same as {@link dispose}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose()
  }

  #ensureLive(): void {
    if (this.#disposed) throw new ModelDisposedError()
  }

  #checkPrompt(promptTokens: readonly number[]): void {
    if (promptTokens.length === 0) throw new EmptyPromptError()
    this.#checkTokens(promptTokens, 'promptTokens')
    if (promptTokens.length > this.contextSize) {
      throw new ContextOverflowError(promptTokens.length, this.contextSize)
    }
  }

  #checkTokens(tokens: readonly number[], where: string): void {
    for (const token of tokens) {
      if (!Number.isInteger(token) || token < 0 || token >= this.vocabSize) {
        throw new InvalidTokenError(token, this.vocabSize, where)
      }
    }
  }

  /**
   * Runs `job` alone on a sequence of the context (waiting for a free one, in order). It starts from an
   * empty KV cache, except with `reuse`: then the sequence keeps what the last replay on it left in its
   * cache (when no other job ran on it since) as far as that is a prefix of this replay, and `job` gets
   * how many tokens were kept. With several sequences, jobs run at once, batched by llama.cpp.
   */
  async #exclusive<T>(
    job: (sequence: LlamaContextSequence, kept: number, slot: SequenceSlot) => Promise<T>,
    reuse?: ReplayRequest,
    signal?: AbortSignal,
  ): Promise<T> {
    if (this.#disposing.signal.aborted) throw new ModelDisposedError()
    let acquired: Awaited<ReturnType<SequencePool['acquire']>>
    try {
      acquired = await this.#pool.acquire(
        reuse && ((s) => reusableTokens(s.replayed, reuse)),
        signal ? AbortSignal.any([signal, this.#disposing.signal]) : this.#disposing.signal,
      )
    } catch (cause) {
      if (this.#disposing.signal.aborted) throw new ModelDisposedError()
      throw new GenerationAbortedError({ cause })
    }
    const { slot, release } = acquired
    const replayed = slot.replayed
    slot.replayed = []
    try {
      if (this.#disposing.signal.aborted) throw new ModelDisposedError()
      const { sequence } = slot
      const cached = sequence.contextTokens
      const intact = cached.length === replayed.length && replayed.every((token, i) => cached[i] === token)
      const keep = reuse && intact ? reusableTokens(replayed, reuse) : 0
      if (keep === 0) await sequence.clearHistory()
      else if (cached.length > keep)
        await sequence.eraseContextTokenRanges([{ start: keep, end: cached.length }])
      return await job(sequence, keep, slot)
    } finally {
      release()
    }
  }
}
