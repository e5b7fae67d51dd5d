import { availableParallelism } from 'node:os'

/**
 * The llama.cpp settings that make teacher-forced replay reproduce generation, pinned for every provider
 * and verifier (measured on node-llama-cpp 3.21.1, CPU build `sapphirerapids`; see docs/calibration.md).
 *
 * - `batchSize: 32`: llama.cpp evaluates a replay in chunks of `batchSize` tokens (node-llama-cpp sets
 *   the micro-batch to the batch). With flash attention on and Q8_0 weights, chunks of up to 63 tokens
 *   gave log-probs bit-identical to one-token-at-a-time decoding on the three CPU builds measured; at 64 and
 *   above other kernels run and move them by up to 0.2. 32 keeps a margin below that edge and is also the
 *   prompt prefill chunk.
 * - `flashAttention: true`: without it, Q8_0 replay differed from decoding at every chunk size on a
 *   256-wide model (up to 0.17 in log-prob); with it the attention result does not depend on how many
 *   tokens share a batch (below 64).
 * - KV cache `f16` (node-llama-cpp's default, left as is: its KV type options are experimental).
 * - `threads`: set explicitly by the caller and recorded in `EngineInfo` (thread count can change the
 *   order of floating-point reductions).
 *
 * F32 (and F16) weights are not exact under any of these settings: batched matrix products accumulate in a
 * different order than matrix-vector products (~1e-2 in log-prob on stories260K). The calibrated
 * tolerance covers that.
 */
export const PINNED_NUMERIC_SETTINGS = Object.freeze({
  batchSize: 32,
  flashAttention: true,
  kvCacheType: 'f16',
} as const)

/**
 * The default CPU thread count: one less than the cores this process may use (the node's event loop,
 * network and signing need one), at least 1, at most 8. Measured on 2 cores (node-llama-cpp 3.21.1):
 * 2 threads decoded stories260K at 75 tokens/s against 1,001 with 1 thread, and a 60M Q8_0 model at 27
 * against 32 — llama.cpp's threads spin at every op and lose to the process's own thread for a core.
 */
export function defaultThreads(cores: number = availableParallelism()): number {
  return Math.max(1, Math.min(8, cores - 1))
}
