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
    /**
     * Evaluate as decoding does (the prompt, then one output token at a time), which reproduces a
     * provider on the same build exactly even with float weights, at about the cost of generating: the
     * follow-up of a job whose cheap replay showed a mismatch. Executors that cannot, ignore it.
     */
    readonly stepwise?: boolean
  }): Promise<TokenLogprob[][]>
  /**
   * The prompt token ids the model's chat template gives for these messages. When present, verifiers
   * check the provider evaluated exactly the requested prompt (prompt tampering).
   */
  tokenizePrompt?(
    messages: ReadonlyArray<{ readonly role: string; readonly content: string }>,
  ): Promise<number[]>
  /**
   * The prompt token ids of a raw text prompt (a text completion: BOS, then the text, no chat template).
   * When present, verifiers check text-completion prompts as {@link tokenizePrompt} does chat ones.
   */
  tokenizeText?(text: string): Promise<number[]>
}

/**
 * The prompt token ids a request asks for, as `executor` tokenizes them: its chat messages under the
 * model's template, or its raw text prompt. `undefined` when the executor cannot tokenize that kind of
 * prompt (the check is then skipped, as without a tokenizer); `{ error }` when the request holds both
 * kinds or neither.
 */
export async function requestedPromptTokens(
  executor: Executor,
  request: {
    readonly messages: ReadonlyArray<{ readonly role: string; readonly content: string }>
    readonly prompt: string
  },
): Promise<{ tokens: number[] } | { error: string } | undefined> {
  const text = request.prompt !== ''
  if (text && request.messages.length > 0)
    return { error: 'the request holds both messages and a text prompt' }
  if (text) return executor.tokenizeText ? { tokens: await executor.tokenizeText(request.prompt) } : undefined
  return executor.tokenizePrompt ? { tokens: await executor.tokenizePrompt(request.messages) } : undefined
}
