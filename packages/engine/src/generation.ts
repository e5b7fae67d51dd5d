import type { GenerationStep } from './generation-step.js'

/** Why a generation ended: a stop string appeared, `maxTokens` were generated, or an end-of-generation token was chosen. */
export type FinishReason = 'stop' | 'length' | 'eog'

/** Wall-clock milliseconds of a generation's phases. */
export interface GenerationTimings {
  /** Waiting for the model to finish earlier jobs. */
  queueMs: number
  /** Evaluating the prompt (prefill). */
  promptMs: number
  /** Decoding the output tokens. */
  generateMs: number
  totalMs: number
}

/** Everything a finished generation produced. */
export interface GenerationResult {
  /** The exact prompt token ids evaluated. */
  promptTokens: number[]
  /** The chosen tokens, one per step (an end-of-generation token included). */
  outputTokens: number[]
  steps: GenerationStep[]
  /** Output text, cut before the stop string when `finishReason` is `stop`. */
  text: string
  finishReason: FinishReason
  timings: GenerationTimings
}

/** Produces the steps of one generation, calling `emit` for each, and resolves to the result. */
export type GenerationProducer = (
  emit: (step: GenerationStep) => void,
  signal: AbortSignal,
) => Promise<GenerationResult>

/**
 * A running generation. Iterate it (`for await`) to receive steps as they are decoded, and/or await
 * `result`. It runs whether or not anyone iterates; leaving a `for await` loop early (or calling `abort`)
 * stops it, and `result` then rejects with `GenerationAbortedError`.
 */
export class Generation implements AsyncIterable<GenerationStep> {
  /** The exact prompt token ids, known before the first step. */
  readonly promptTokens: number[]
  /** Resolves when the generation finishes; rejects with the error that ended it. */
  readonly result: Promise<GenerationResult>
  readonly #steps: GenerationStep[] = []
  readonly #abort = new AbortController()
  #waiters: Array<() => void> = []
  #done = false
  #error: unknown

  constructor(promptTokens: number[], produce: GenerationProducer, signal?: AbortSignal) {
    this.promptTokens = promptTokens
    if (signal) {
      if (signal.aborted) this.#abort.abort(signal.reason)
      else signal.addEventListener('abort', () => this.#abort.abort(signal.reason), { once: true })
    }
    this.result = produce((step) => {
      this.#steps.push(step)
      this.#notify()
    }, this.#abort.signal).then(
      (result) => {
        this.#done = true
        this.#notify()
        return result
      },
      (error: unknown) => {
        this.#done = true
        this.#error = error
        this.#notify()
        throw error
      },
    )
    // Errors also surface through iteration; don't report them as unhandled when only iterating.
    this.result.catch(() => {})
  }

  /** Stops the generation after the current step. */
  abort(reason?: unknown): void {
    this.#abort.abort(reason)
  }

  #notify(): void {
    const waiters = this.#waiters
    this.#waiters = []
    for (const wake of waiters) wake()
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<GenerationStep, void, undefined> {
    let index = 0
    let finished = false
    try {
      for (;;) {
        if (index < this.#steps.length) {
          yield this.#steps[index++]!
          continue
        }
        if (this.#done) {
          finished = true
          if (this.#error !== undefined) throw this.#error
          return
        }
        await new Promise<void>((resolve) => {
          this.#waiters.push(resolve)
        })
      }
    } finally {
      if (!finished && !this.#done) this.abort()
    }
  }
}
