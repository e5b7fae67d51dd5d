import type { EngineModel } from '@infraxa/engine'
import type { Executor } from '@infraxa/proofs/modes'

/**
 * The router's engine for the audit that follows verified streaming. The stream check left the whole
 * answer in the engine's KV cache, so each opened step costs one token evaluated on that cache, cut back
 * to just before the step (`cutCache`), instead of a prefill of the answer up to the last opened step.
 * Stepwise re-execution (`stepwise`) is evaluated as always, from an empty cache.
 */
export function streamCacheExecutor(engine: EngineModel): Executor {
  return {
    replay: (args) => engine.replay({ ...args, reuseCache: true, cutCache: true }),
    tokenizePrompt: (messages) => engine.tokenizePrompt(messages),
  }
}

/**
 * Audits after verified streaming: `verify` with {@link streamCacheExecutor} first, and where that fails,
 * again with the engine itself, whose result stands. The cut cache's logits are decoding's, within
 * honest drift of a prefill's but not its bits, so no verdict against a provider rests on them alone:
 * it is the one any other verifier (a court, a watcher) reaches with a fresh prefill.
 */
export async function auditAfterStream<R extends { readonly valid: boolean }>(
  engine: EngineModel,
  verify: (executor: Executor) => Promise<R>,
): Promise<R> {
  const result = await verify(streamCacheExecutor(engine))
  return result.valid ? result : await verify(engine)
}
