import { type Detokenize, IncrementalDetokenizer } from './incremental-detokenizer.js'
import { StopStringMatcher } from './stop-strings.js'

/** What {@link AnswerText} needs from a model: its detokenizer and its end-of-generation test. */
export interface AnswerTokenizer {
  detokenize: Detokenize
  isEndOfGeneration(token: number): boolean
}

/**
 * The text of an answer, derived from its token ids exactly as a generation derives it (incremental
 * detokenization after the prompt, cut before the first stop string), released piece by piece as
 * tokens arrive: a piece is never taken back, so text that might still turn out to be the start of a
 * stop string is held until it cannot. A verifier uses it to give a client only the text of tokens it
 * has checked, whatever text the provider sent.
 *
 * @example
 * const text = new AnswerText(model, promptTokens, ['\n\n'])
 * for (const token of checkedTokens) process.stdout.write(text.push(token))
 * process.stdout.write(text.end())
 */
export class AnswerText {
  readonly #detokenizer: IncrementalDetokenizer
  readonly #stops: StopStringMatcher
  readonly #holdBack: number
  readonly #isEndOfGeneration: (token: number) => boolean
  #released = 0
  #stopAt = -1
  #ended = false

  constructor(tokenizer: AnswerTokenizer, promptTokens: readonly number[], stop: readonly string[] = []) {
    this.#detokenizer = new IncrementalDetokenizer(tokenizer.detokenize, promptTokens)
    this.#stops = new StopStringMatcher(stop)
    this.#holdBack = Math.max(0, ...stop.map((s) => s.length - 1))
    this.#isEndOfGeneration = (token) => tokenizer.isEndOfGeneration(token)
  }

  /** Whether a stop string has appeared (the tokens after it add no text). */
  get stopped(): boolean {
    return this.#stopAt >= 0
  }

  /** All text released so far. */
  get text(): string {
    return this.#stops.text.slice(0, this.#released)
  }

  /** Adds the next token; returns the text that is now final ('' when none is). */
  push(token: number): string {
    if (this.#ended) throw new RangeError('AnswerText: push after end')
    if (this.stopped) return ''
    const piece = this.#isEndOfGeneration(token) ? this.#detokenizer.flush() : this.#detokenizer.push(token)
    this.#stopAt = this.#stops.append(piece)
    const total = this.#stops.text.length
    return this.#release(this.stopped ? this.#stopAt : total - this.#holdBack)
  }

  /** Ends the answer: returns the rest of its text (held-back text and an incomplete last character). */
  end(): string {
    if (this.#ended) return ''
    this.#ended = true
    if (!this.stopped) this.#stopAt = this.#stops.append(this.#detokenizer.flush())
    return this.#release(this.stopped ? this.#stopAt : this.#stops.text.length)
  }

  #release(end: number): string {
    const text = this.#stops.text
    // Never end a piece between the two halves of a surrogate pair.
    const last = text.charCodeAt(end - 1)
    const upTo = end < text.length && last >= 0xd800 && last <= 0xdbff ? end - 1 : end
    if (upTo <= this.#released) return ''
    const piece = this.#stops.text.slice(this.#released, upTo)
    this.#released = upTo
    return piece
  }
}
