import type { EngineModel } from '@infraxa/engine'
import type { Executor } from '@infraxa/proofs/modes'

/**
 * The router's engine for the audit that follows verified streaming. The stream check left the whole
 * answer in the engine's KV cache, so each opened step costs one token evaluated on that cache, cut back
 * to just before the step (`cutCache`), instead of a prefill of the answer up to the last opened step.
 * Stepwise re-execution (`stepwise`) is evaluated as always, from an empty cache. A verdict against the
 * provider should not rest on these numerics alone: re-audit with the engine itself before failing a job
 * (the cut cache's logits are decoding's, within honest drift of a prefill's, but not its bits).
 */
export function streamCacheExecutor(engine: EngineModel): Executor {
  return {
    replay: (args) => engine.replay({ ...args, reuseCache: true, cutCache: true }),
    tokenizePrompt: (messages) => engine.tokenizePrompt(messages),
  }
}
