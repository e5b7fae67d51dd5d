import { InvalidArgumentError } from '@infraxa/protocol'
import type { LlamaContext, LlamaModel } from 'node-llama-cpp'
import { describeEngine } from './engine-info.js'
import { EngineModel } from './engine-model.js'
import { InvalidModelFileError, ModelLoadError } from './errors.js'
import { inspectGgufFile } from './gguf-inspection.js'
import { acquireLlama, type GpuBackend, releaseLlama } from './llama-runtime.js'
import { type DownloadOptions, type LoadProgress, resolveRemoteModel } from './model-source.js'
import { PINNED_NUMERIC_SETTINGS } from './numeric-settings.js'

/** Where the model comes from: a local GGUF path, or a remote URI (`hf:<user>/<repo>/<file>.gguf`). */
export type ModelLocation = { path: string; uri?: never } | { uri: string; path?: never }

/** Options of {@link loadModel}. */
export type LoadModelOptions = ModelLocation & {
  /** Exact number of CPU threads for evaluation (required: it can change numerics and is recorded). */
  threads: number
  /** `false` (default) for CPU; a GPU backend needs its prebuilt binary installed (never built). */
  gpu?: GpuBackend
  /** Context window in tokens; default the model's training context, at most 4096. */
  contextSize?: number
  /**
   * Tokens per batch. Leave the pinned default: replays only agree with generation when provider and
   * verifier use the same value (see PINNED_NUMERIC_SETTINGS). Exposed for calibration and benchmarks.
   */
  batchSize?: number
  /**
   * Jobs decoded at once, each on its own sequence of one context, batched by llama.cpp into one decode
   * (each sequence gets `contextSize` tokens). @default 1
   */
  parallel?: number
  /**
   * Contexts of the model (weights loaded once), each with `parallel` sequences and `threads` threads.
   * Unlike sequences, contexts do not share a batch: with `parallel` 1 every job decodes alone, with the
   * numerics of a single-context engine, and `contexts` jobs run at once (e.g. a router's replays).
   * @default 1
   */
  contexts?: number
  /** Flash attention; leave the pinned default (`true`) for the same reason. */
  flashAttention?: boolean
  /** Called with download progress (hf: models) and load progress (0..1), e.g. for a CLI progress bar. */
  onProgress?: (progress: LoadProgress) => void
  /** Cache directory and timeouts for hf: downloads. */
  download?: Omit<DownloadOptions, 'onProgress' | 'signal'>
  signal?: AbortSignal
}

const DEFAULT_MAX_CONTEXT = 4096

function firstLine(error: unknown): string {
  return error instanceof Error ? error.message.split('\n')[0]! : String(error)
}

function checkOptions(options: LoadModelOptions): void {
  if ((options.path == null) === (options.uri == null)) {
    throw new InvalidArgumentError('loadModel needs exactly one of path or uri')
  }
  if (!Number.isInteger(options.threads) || options.threads < 1) {
    throw new InvalidArgumentError(`threads must be a positive integer, got ${options.threads}`)
  }
  for (const key of ['contextSize', 'batchSize', 'parallel', 'contexts'] as const) {
    const value = options[key]
    if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
      throw new InvalidArgumentError(`${key} must be a positive integer, got ${value}`)
    }
  }
}

/**
 * Loads a GGUF model for generation and replay: checks the file (typed errors for a missing, corrupt or
 * truncated file before llama.cpp sees it), loads it with the prebuilt llama.cpp (never downloaded or
 * built), and creates one context with the pinned numeric settings and exactly `threads` threads.
 * An `hf:` URI is downloaded (and cached) first; offline it fails within seconds with `ModelDownloadError`.
 *
 * @example
 * await using model = await loadModel({ path: 'stories260K.gguf', threads: 2 })
 * console.log(model.engineInfo)
 */
export async function loadModel(options: LoadModelOptions): Promise<EngineModel> {
  checkOptions(options)
  const path =
    options.path ??
    (await resolveRemoteModel(options.uri!, {
      ...options.download,
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    }))
  const inspection = await inspectGgufFile(path)
  const gpu = options.gpu ?? false
  const llama = await acquireLlama(gpu)
  let model: LlamaModel | undefined
  const contexts: LlamaContext[] = []
  try {
    try {
      model = await llama.loadModel({
        modelPath: path,
        gpuLayers: gpu === false ? 0 : 'max',
        ...(options.onProgress
          ? { onLoadProgress: (fraction: number) => options.onProgress?.({ phase: 'load', fraction }) }
          : {}),
        ...(options.signal ? { loadSignal: options.signal } : {}),
      })
    } catch (cause) {
      throw new InvalidModelFileError(path, `llama.cpp rejected it: ${firstLine(cause)}`, { cause })
    }
    const flashAttention =
      (options.flashAttention ?? PINNED_NUMERIC_SETTINGS.flashAttention) && model.flashAttentionSupported
    const trainContext = model.trainContextSize || DEFAULT_MAX_CONTEXT
    for (let i = 0; i < (options.contexts ?? 1); i++) {
      try {
        contexts.push(
          await model.createContext({
            contextSize: options.contextSize ?? Math.min(trainContext, DEFAULT_MAX_CONTEXT),
            batchSize: options.batchSize ?? PINNED_NUMERIC_SETTINGS.batchSize,
            threads: options.threads,
            flashAttention,
            sequences: options.parallel ?? 1,
            failedCreationRemedy: false,
          }),
        )
      } catch (cause) {
        throw new ModelLoadError(path, `cannot create context ${i + 1}: ${firstLine(cause)}`, { cause })
      }
    }
    for (const context of contexts) serialiseSampling(context, path)
    const engineInfo = await describeEngine(llama, contexts[0]!, { flashAttention, threads: options.threads })
    return new EngineModel({ path, gpu, llama, model, contexts, summary: inspection.summary, engineInfo })
  } catch (error) {
    for (const context of contexts) await context.dispose().catch(() => {})
    await model?.dispose().catch(() => {})
    await releaseLlama(gpu)
    throw error
  }
}

/**
 * Works around a race in node-llama-cpp 3.21.1 with several sequences per context: after a batched decode
 * it starts every sequence's sampling at once on libuv threads, and llama.cpp applies its pending output
 * reorder (batches split by sequence id come out of order) lazily, without a lock, on the first logits
 * read — so concurrent reads could swap rows twice and a sequence read another's logits (a step whose
 * top-k shared no id with its replay). Sampling calls of one context are chained here, one at a time;
 * decodes and other contexts are untouched. Measured: 8 answers at parallel 8 on a Q8_0 model matched
 * their solo replays exactly in 25 of 25 runs (10 of 25 diverged before). Tied to node-llama-cpp's
 * private `_ctx.sampleToken`: without it, loading with `parallel` > 1 fails (and so do its tests).
 */
function serialiseSampling(context: LlamaContext, path: string): void {
  const native = (context as unknown as { _ctx?: { sampleToken?: (...args: unknown[]) => Promise<unknown> } })
    ._ctx
  if (context.totalSequences < 2) return
  const sample = native?.sampleToken?.bind(native)
  // Without the hook batched decoding would be unsafe: refuse it rather than decode wrong steps.
  if (native === undefined || sample === undefined)
    throw new ModelLoadError(path, 'parallel > 1 needs node-llama-cpp 3.21.1 (its sampling hook is missing)')
  let chain: Promise<unknown> = Promise.resolve()
  Object.defineProperty(native, 'sampleToken', {
    configurable: true,
    writable: true,
    value: (...args: unknown[]) => {
      const next = chain.then(() => sample(...args))
      chain = next.catch(() => {})
      return next
    },
  })
}
