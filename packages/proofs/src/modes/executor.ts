/** One entry of a distribution: token id and natural-log probability. */
export interface TokenLogprob {
  readonly id: number
  readonly logprob: number
}

/**
 * Something that can re-run a model: given the prompt and output tokens, return the top-k distribution
 * at each requested generation position (position t = the distribution that produced outputTokens[t]).
 * `@infraxa/engine` models implement it by teacher-forced prefill; tests use named doubles.
 */
export interface Executor {
  replay(args: {
    readonly promptTokens: readonly number[]
    readonly outputTokens: readonly number[]
    readonly positions: readonly number[]
    readonly topK: number
    /**
     * Positions (among `positions`) where the verifier only scores tokens: their distributions may come
     * renormalised over the returned entries (log-prob differences exact, absolute values shifted), which
     * an executor can compute far more cheaply. Executors that ignore it return full ones.
     */
    readonly relativePositions?: readonly number[]
  }): Promise<TokenLogprob[][]>
  /**
   * The prompt token ids the model's chat template gives for these messages. When present, verifiers
   * check the provider evaluated exactly the requested prompt (prompt tampering).
   */
  tokenizePrompt?(
    messages: ReadonlyArray<{ readonly role: string; readonly content: string }>,
  ): Promise<number[]>
}
