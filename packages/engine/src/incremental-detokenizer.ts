/** Longest UTF-8 sequence: after this many pending byte tokens a replacement character is final. */
const MAX_UTF8_BYTES = 4
/** Preceding tokens passed to the detokenizer so SentencePiece spacing continues correctly. */
const CONTEXT_TOKENS = 8

/** Detokenizes `tokens` as the continuation of `lastTokens` (node-llama-cpp's `model.detokenize`). */
export type Detokenize = (tokens: readonly number[], lastTokens: readonly number[]) => string

/**
 * Turns a stream of tokens into a stream of text pieces without splitting multi-byte characters: a token
 * that ends inside a UTF-8 sequence (byte-fallback tokens) yields '' until the character completes.
 */
export class IncrementalDetokenizer {
  readonly #detokenize: Detokenize
  #pending: number[] = []
  #context: number[]

  /**
   * @param detokenize - the model's detokenizer.
   * @param precedingTokens - tokens before the first one pushed (the prompt), for correct spacing.
   */
  constructor(detokenize: Detokenize, precedingTokens: readonly number[] = []) {
    this.#detokenize = detokenize
    this.#context = precedingTokens.slice(-CONTEXT_TOKENS)
  }

  /** Adds one token; returns the text it completes ('' while a character is incomplete). */
  push(token: number): string {
    this.#pending.push(token)
    const text = this.#detokenize(this.#pending, this.#context)
    if (text.endsWith('\uFFFD') && this.#pending.length < MAX_UTF8_BYTES) return ''
    return this.#emit(text)
  }

  /** Text of tokens still held back (an incomplete character at the very end), as decoded. */
  flush(): string {
    if (this.#pending.length === 0) return ''
    return this.#emit(this.#detokenize(this.#pending, this.#context))
  }

  #emit(text: string): string {
    this.#context = [...this.#context, ...this.#pending].slice(-CONTEXT_TOKENS)
    this.#pending = []
    return text
  }
}
